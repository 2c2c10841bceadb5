"""Deep Image Prior (Ulyanov, Vedaldi and Lempitsky, CVPR 2018): a ConvNet fitted to one image.

The network is DIP's own "skip" encoder-decoder (``models/skip.py`` of the authors' code): at
every scale ``i`` the input goes down through a stride-2 3x3 conv and a 3x3 conv (each followed
by batch norm and LeakyReLU(0.2)), through the deeper scales, and is upsampled by 2
(bilinear or nearest); a 1x1 skip branch of ``skip[i]`` channels is concatenated to it, batch
normalised, and a 3x3 conv then a 1x1 conv (``need1x1_up=True``, the default of DIP's ``skip()``),
each followed by batch norm and LeakyReLU, bring it to ``up[i]`` channels. A 1x1 conv and a
sigmoid make the image, which we map to [-1, 1]. Parity with the authors' ``skip()`` is tested
against a fixture their code made (``benchmarks/parity/dip_parity.py``). Its input is fixed uniform noise ``U(0, 1) * 0.1`` of depth 32
(DIP's ``get_noise(32, "noise", size, var=1/10)``); only the weights are optimised, with Adam
(lr 0.01), and the number of steps is the regulariser: stopped early, the network has fitted
the image's structure before its noise or, through the operator, explains the observed pixels
with a natural image.

Batching: ``N = R * B`` networks (restarts of images) run as one network with grouped
convolutions (``groups = N``) on a ``[1, N * C, H, W]`` tensor. Batch norm then normalises
each image's channels over that image's pixels only, exactly as DIP's single-image batch of
one does (a plain batch of N images would mix their statistics). The weights live in a dict
of tensors ``{name: [N, ...]}`` (leading dimension N, restart-major), the layout
:func:`invprob.optimisation.optimise` optimises; :func:`skip_forward` with ``grouped=False``
runs the same networks one image at a time (the per-image loop, for comparison and tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from invprob import seeding

Weights = dict[str, torch.Tensor]
"""Every network's weights: ``{name: [N, ...]}`` for N networks."""


@dataclass(frozen=True)
class SkipConfig:
    """The shape of DIP's skip network (defaults: sized for 64x64 on a CPU, ~0.55 M weights).

    DIP's paper uses ``down = up = [128] * 5``, ``skip = [4] * 5`` (about 2 M weights) at 256 px
    and more; at 64 px four scales reach 4x4 and narrower layers keep a CPU step cheap.
    ``up_1x1`` is ``skip()``'s ``need1x1_up`` (on by default there and in every DIP notebook).
    """

    input_depth: int = 32
    down: tuple[int, ...] = (16, 32, 64, 128)
    up: tuple[int, ...] = (16, 32, 64, 128)
    skip: tuple[int, ...] = (4, 4, 4, 4)
    upsample: Literal["bilinear", "nearest"] = "bilinear"
    pad: Literal["reflection", "zero"] = "reflection"
    output_channels: int = 3
    input_scale: float = 0.1
    up_1x1: bool = True

    def __post_init__(self) -> None:
        if not (len(self.down) == len(self.up) == len(self.skip) >= 1):
            raise ValueError(
                f"down, up and skip need one entry per scale, got {len(self.down)}, {len(self.up)} and {len(self.skip)}"
            )
        if min(self.down) < 1 or min(self.up) < 1 or min(self.skip) < 0 or self.input_depth < 1:
            raise ValueError("channel counts must be positive (skip may be 0: no skip branch at that scale)")

    @property
    def scales(self) -> int:
        return len(self.down)

    def check_image(self, height: int, width: int) -> None:
        """Each scale halves the image: both sides must divide by ``2 ** scales``."""
        step = 2**self.scales
        if height % step or width % step:
            raise ValueError(
                f"DIP's skip network with {self.scales} scales halves the image {self.scales} times: "
                f"{height} x {width} is not divisible by {step}; use fewer scales (shorter 'down', 'up', 'skip')"
            )
        if self.pad == "reflection" and min(height, width) // step < 2:
            raise ValueError(
                f"a {height} x {width} image is {height // step} x {width // step} at the deepest of {self.scales} scales, "
                "too small for reflection padding; use fewer scales or pad: zero"
            )

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """``{name: per-network shape}`` of every weight, in the order the forward uses them."""
        shapes: dict[str, tuple[int, ...]] = {}

        def conv(name: str, cin: int, cout: int, size: int) -> None:
            shapes[f"{name}.weight"] = (cout, cin, size, size)
            shapes[f"{name}.bias"] = (cout,)

        def norm(name: str, channels: int) -> None:
            shapes[f"{name}.weight"] = (channels,)
            shapes[f"{name}.bias"] = (channels,)

        cin = self.input_depth
        for i in range(self.scales):
            if self.skip[i]:
                conv(f"s{i}.skip", cin, self.skip[i], 1)
                norm(f"s{i}.skip_bn", self.skip[i])
            conv(f"s{i}.down", cin, self.down[i], 3)
            norm(f"s{i}.down_bn", self.down[i])
            conv(f"s{i}.conv", self.down[i], self.down[i], 3)
            norm(f"s{i}.conv_bn", self.down[i])
            deeper = self.up[i + 1] if i + 1 < self.scales else self.down[i]
            norm(f"s{i}.cat_bn", self.skip[i] + deeper)
            conv(f"s{i}.up", self.skip[i] + deeper, self.up[i], 3)
            norm(f"s{i}.up_bn", self.up[i])
            if self.up_1x1:
                conv(f"s{i}.up1x1", self.up[i], self.up[i], 1)
                norm(f"s{i}.up1x1_bn", self.up[i])
            cin = self.down[i]
        conv("head", self.up[0], self.output_channels, 1)
        return shapes

    def parameter_count(self) -> int:
        return sum(math.prod(shape) for shape in self.shapes().values())


def initial_weights(config: SkipConfig, networks: int, rng: torch.Generator | None, *, device=None) -> Weights:
    """``networks`` copies of one network drawn on ``rng`` (PyTorch's default initialisation:
    conv weights and biases ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, batch norm 1 and 0)."""
    weights: Weights = {}
    for name, shape in config.shapes().items():
        if "_bn." in name:
            value = torch.ones(shape) if name.endswith("weight") else torch.zeros(shape)
        else:
            conv = name.rsplit(".", 1)[0]
            fan_in = math.prod(config.shapes()[f"{conv}.weight"][1:])
            bound = 1 / math.sqrt(fan_in)
            value = (seeding.rand(shape, rng) * 2 - 1) * bound
        weights[name] = value.to(device).unsqueeze(0).repeat(networks, *([1] * len(shape)))
    return weights


def noise_input(config: SkipConfig, networks: int, height: int, width: int, rng: torch.Generator | None, *, device=None) -> torch.Tensor:
    """One fixed input ``U(0, 1) * input_scale`` of depth ``input_depth``, repeated ``[networks, D, H, W]``."""
    noise = seeding.rand((1, config.input_depth, height, width), rng) * config.input_scale
    return noise.to(device).repeat(networks, 1, 1, 1)


def skip_forward(config: SkipConfig, weights: Weights, noise: torch.Tensor, *, grouped: bool = True) -> torch.Tensor:
    """The N networks on their inputs ``noise`` ``[N, D, H, W]``: images ``[N, C, H, W]`` in [-1, 1].

    ``grouped=True`` runs them as one grouped network; ``grouped=False`` loops over them.
    """
    if grouped:
        return _forward(config, weights, noise)
    return torch.cat([_forward(config, {k: v[n : n + 1] for k, v in weights.items()}, noise[n : n + 1]) for n in range(noise.shape[0])])


def _forward(config: SkipConfig, weights: Weights, noise: torch.Tensor) -> torch.Tensor:
    networks = noise.shape[0]
    x = noise.reshape(1, -1, *noise.shape[2:])  # [1, N * D, H, W]: image n's channels are group n
    out = _scale(config, weights, x, 0, networks)
    out = _conv(config, weights, "head", out, networks)
    return (torch.sigmoid(out) * 2 - 1).reshape(networks, config.output_channels, *noise.shape[2:])


def _scale(config: SkipConfig, w: Weights, x: torch.Tensor, i: int, n: int) -> torch.Tensor:
    deeper = _block(config, w, f"s{i}.down", x, n, stride=2)
    deeper = _block(config, w, f"s{i}.conv", deeper, n)
    if i + 1 < config.scales:
        deeper = _scale(config, w, deeper, i + 1, n)
    deeper = F.interpolate(deeper, scale_factor=2, mode=config.upsample, **({"align_corners": False} if config.upsample == "bilinear" else {}))
    if config.skip[i]:
        skip = _block(config, w, f"s{i}.skip", x, n)
        # concatenate per network: [1, N*S, ...] and [1, N*K, ...] -> [1, N*(S+K), ...]
        size = deeper.shape[2:]
        deeper = torch.cat([skip.reshape(n, -1, *size), deeper.reshape(n, -1, *size)], dim=1).reshape(1, -1, *size)
    deeper = _norm(w, f"s{i}.cat_bn", deeper)
    out = _block(config, w, f"s{i}.up", deeper, n)
    return _block(config, w, f"s{i}.up1x1", out, n) if config.up_1x1 else out


def _block(config: SkipConfig, w: Weights, name: str, x: torch.Tensor, n: int, *, stride: int = 1) -> torch.Tensor:
    return F.leaky_relu(_norm(w, f"{name}_bn", _conv(config, w, name, x, n, stride=stride)), 0.2)


def _conv(config: SkipConfig, w: Weights, name: str, x: torch.Tensor, n: int, *, stride: int = 1) -> torch.Tensor:
    weight = w[f"{name}.weight"]
    size = weight.shape[-1]
    pad = (size - 1) // 2
    if pad:
        x = F.pad(x, (pad,) * 4, mode="reflect") if config.pad == "reflection" else F.pad(x, (pad,) * 4)
    return F.conv2d(x, weight.reshape(-1, *weight.shape[2:]), w[f"{name}.bias"].reshape(-1), stride=stride, groups=n)


def _norm(w: Weights, name: str, x: torch.Tensor) -> torch.Tensor:
    # training-mode batch norm on a batch of one: per network and channel, over its pixels
    return F.batch_norm(x, None, None, w[f"{name}.weight"].reshape(-1), w[f"{name}.bias"].reshape(-1), training=True)
