"""The latent ConvNet f_phi of Latent Convolutional Models (Athar et al., ICLR 2019), batched.

A latent map stack is ``z = f_phi(s)``: ``s`` is a fixed input of uniform noise (``U(0, 1) *
noise_scale``, drawn once from a seed, shared by every image) and ``f`` a small ConvNet of
*unpadded, bias-free* 3x3 convolutions, each followed by batch norm + LeakyReLU(0.2) but the
last, which has LeakyReLU(0.2) only: the authors' ``Latent4LSND`` (``src/latent_models.py``).
Each image has its own parameters ``phi_i``; the set of ``f_phi(s)`` over the box
``phi in [-B, B]`` (conv weights only) is the *convolutional manifold*.

Every image's net is held in one functional, batched form: each parameter is a tensor with a
leading image dimension ``[batch, ...]`` and :meth:`ManifoldNet.latent` runs all of them at once
as grouped convolutions (``groups = batch``) over the channel-stacked input ``[1, batch*C, H, W]``.
Batch norm is then per image and channel: ``F.batch_norm`` in training mode over the grouped
channels takes the statistics of one image's map only, exactly what a separate
``BatchNorm2d`` in training mode does for a batch of that single image. There are no running
statistics: f is always evaluated in this form, in training and in restoration.

Sizes: with ``L = len(channels) + 1`` convolutions the input is ``latent_size + 2L`` on a side.
The paper at 128 px: 2 -> 8 -> 16 -> 32 -> 64 channels on s of 2x40x40 gives z 64x32x32. Our
64 px default: 2 -> 8 -> 16 -> 32 -> 32 on s of 2x24x24 gives z 32x16x16 (about 15 k
parameters per image).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from invprob import seeding

LEAKY_SLOPE = 0.2
BN_EPS = 1e-5


def conv_key(index: int) -> str:
    """The parameter name of conv ``index``'s weight, ``[batch, out, in, 3, 3]``."""
    return f"conv{index}_weight"


def bn_keys(index: int) -> tuple[str, str]:
    """The names of batch norm ``index``'s scale and shift, each ``[batch, channels]``."""
    return f"bn{index}_weight", f"bn{index}_bias"


class ManifoldNet(nn.Module):
    """f_phi: the architecture, the fixed input ``s`` (a buffer) and the batched forward.

    ``channels`` are the hidden widths; the net has ``len(channels) + 1`` convolutions,
    ``in_channels -> channels[0] -> ... -> channels[-1] -> out_channels``. ``latent_size`` is the
    side (or ``(h, w)``) of the output maps. ``seed`` draws ``s``; the same seed and sizes give
    the same ``s`` on every machine (drawn on a CPU generator with :mod:`invprob.seeding`).
    """

    def __init__(
        self,
        in_channels: int = 2,
        channels: Sequence[int] = (8, 16, 32),
        out_channels: int = 32,
        latent_size: int | tuple[int, int] = 16,
        noise_scale: float = 0.1,
        seed: int = 0,
    ):
        super().__init__()
        if in_channels < 1 or out_channels < 1 or any(c < 1 for c in channels):
            raise ValueError(f"ManifoldNet: channel counts must be positive, got {in_channels}, {tuple(channels)}, {out_channels}")
        height, width = (latent_size, latent_size) if isinstance(latent_size, int) else tuple(latent_size)
        if height < 1 or width < 1:
            raise ValueError(f"ManifoldNet: latent_size must be positive, got {latent_size}")
        self.in_channels = int(in_channels)
        self.channels = tuple(int(c) for c in channels)
        self.out_channels = int(out_channels)
        self.latent_shape = (self.out_channels, int(height), int(width))
        self.noise_scale = float(noise_scale)
        self.seed = int(seed)
        self.widths = (self.in_channels, *self.channels, self.out_channels)
        self.num_convs = len(self.widths) - 1
        self.input_shape = (self.in_channels, height + 2 * self.num_convs, width + 2 * self.num_convs)
        noise = seeding.rand(self.input_shape, seeding.make_rng(self.seed, "conv-manifold.s")) * self.noise_scale
        self.register_buffer("s", noise)

    def config(self) -> dict[str, object]:
        """The constructor's arguments (what a saved model records to rebuild the same net)."""
        return {
            "in_channels": self.in_channels,
            "channels": list(self.channels),
            "out_channels": self.out_channels,
            "latent_size": list(self.latent_shape[1:]),
            "noise_scale": self.noise_scale,
            "seed": self.seed,
        }

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-image parameter shapes (without the leading batch dimension), in a fixed order."""
        shapes: dict[str, tuple[int, ...]] = {}
        for index in range(self.num_convs):
            shapes[conv_key(index)] = (self.widths[index + 1], self.widths[index], 3, 3)
            if index < self.num_convs - 1:
                scale, shift = bn_keys(index)
                shapes[scale] = shapes[shift] = (self.widths[index + 1],)
        return shapes

    def conv_keys(self) -> list[str]:
        """The names of the box-constrained parameters (the conv weights; not batch norm's)."""
        return [conv_key(index) for index in range(self.num_convs)]

    def initial_parameters(self, batch: int, seed: int, *, bound: float = 0.01) -> dict[str, Tensor]:
        """phi for ``batch`` images, every one the same: conv weights ~ U(-bound, bound) drawn from
        ``seed``, batch norm scale 1 and shift 0. Each tensor is ``[batch, ...]`` and its own copy
        (the caller makes them leaves that require grad). As in the authors' code, every image's
        f starts from the same phi."""
        rng = seeding.make_rng(seed, "conv-manifold.phi")
        device = self.s.device
        params: dict[str, Tensor] = {}
        for name, shape in self.parameter_shapes().items():
            if name.startswith("conv"):
                one = (seeding.rand(shape, rng) * 2 - 1) * bound
            elif name.endswith("_weight"):
                one = torch.ones(shape)
            else:
                one = torch.zeros(shape)
            params[name] = one.to(device).expand(batch, *shape).clone()
        return params

    def latent(self, params: Mapping[str, Tensor]) -> Tensor:
        """``z = f_phi_i(s)`` for every image: ``[batch, out_channels, h, w]`` (a pure function of ``params``)."""
        batch = params[conv_key(0)].shape[0]
        x = self.s.to(params[conv_key(0)].dtype).unsqueeze(0).repeat(1, batch, 1, 1)  # [1, batch*C_in, H, W]
        for index in range(self.num_convs):
            weight = params[conv_key(index)]
            x = F.conv2d(x, weight.reshape(-1, *weight.shape[2:]), groups=batch)
            if index < self.num_convs - 1:
                scale, shift = (params[key].reshape(-1) for key in bn_keys(index))
                x = F.batch_norm(x, None, None, scale, shift, training=True, eps=BN_EPS)
            x = F.leaky_relu(x, LEAKY_SLOPE)
        return x.reshape(batch, *self.latent_shape)

    def clamp_(self, params: MutableMapping[str, Tensor], bound: float) -> None:
        """Box constraint: clamp the conv weights to ``[-bound, bound]`` in place (batch norm's
        scale and shift are free). The tensors stay the same objects, so an optimiser's state
        bound to them survives."""
        with torch.no_grad():
            for key in self.conv_keys():
                params[key].clamp_(-bound, bound)

    def single_net(self, params: Mapping[str, Tensor], index: int) -> nn.Sequential:
        """Image ``index``'s f as an ordinary ``nn.Sequential`` (for checks and inspection):
        bias-free unpadded convs, ``BatchNorm2d`` (used in training mode), LeakyReLU (after the last conv too)."""
        layers: list[nn.Module] = []
        for layer in range(self.num_convs):
            conv = nn.Conv2d(self.widths[layer], self.widths[layer + 1], 3, bias=False)
            conv.weight.data.copy_(params[conv_key(layer)][index])
            layers.append(conv)
            if layer < self.num_convs - 1:
                norm = nn.BatchNorm2d(self.widths[layer + 1], eps=BN_EPS, track_running_stats=False)
                scale, shift = bn_keys(layer)
                norm.weight.data.copy_(params[scale][index])
                norm.bias.data.copy_(params[shift][index])
                layers.append(norm)
            layers.append(nn.LeakyReLU(LEAKY_SLOPE))
        return nn.Sequential(*layers).to(self.s.device)


def flatten_parameters(params: Mapping[str, Tensor]) -> Tensor:
    """``[batch, n]``: every image's phi as one row (in the key order given), for PCA and sampling."""
    first = next(iter(params.values()))
    return torch.cat([value.reshape(first.shape[0], -1) for value in params.values()], dim=1)


def unflatten_parameters(flat: Tensor, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Tensor]:
    """The inverse of :func:`flatten_parameters` for per-image ``shapes`` (``ManifoldNet.parameter_shapes()``)."""
    out: dict[str, Tensor] = {}
    offset = 0
    for name, shape in shapes.items():
        size = int(torch.tensor(shape).prod()) if shape else 1
        out[name] = flat[:, offset : offset + size].reshape(flat.shape[0], *shape)
        offset += size
    if offset != flat.shape[1]:
        raise ValueError(f"a flat phi has {flat.shape[1]} entries per image; the net needs {offset}")
    return out
