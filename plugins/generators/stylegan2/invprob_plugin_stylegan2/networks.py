"""rosinality's ``Generator`` and ``Discriminator``, module for module, plus their configuration.

:class:`StyleGAN2Network` (rosinality's ``Generator``; the checkpoint's ``g_ema``) holds the
mapping network ``style`` (PixelNorm + ``n_mlp`` :class:`EqualLinear` with lr multiplier
``lr_mlp``), the constant ``input``, ``conv1`` and ``to_rgb1`` at 4×4, then per resolution
8…size an upsampling :class:`StyledConv`, a :class:`StyledConv` and a :class:`ToRGB`
(``convs.{2k-2}``, ``convs.{2k-1}``, ``to_rgbs.{k-1}`` for block ``k``), and the fixed noise
maps ``noises.noise_i`` (``[1, 1, 2**r, 2**r]``, ``r = (i + 5) // 2``).

Block ``k`` (resolution ``4 * 2**k``) reads the W+ slots ``2k - 1, 2k, 2k + 1`` (block 0:
slots 0, 1) and the noise maps ``2k - 1, 2k`` (block 0: noise 0). Odd slots are shared: slot
``2k + 1`` feeds both the ToRGB closing block ``k`` and the upsampling conv opening ``k + 1``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .layers import (
    ConstantInput,
    ConvLayer,
    EqualLinear,
    PixelNorm,
    ResBlock,
    StyledConv,
    ToRGB,
    minibatch_stddev,
)


def is_power_of_two(value: int) -> bool:
    return value >= 1 and value & (value - 1) == 0


def standard_channels(channel_multiplier: int = 2, *, max_channels: int = 512) -> dict[int, int]:
    """Upstream's widths: 512 up to 32×32, then ``256, 128, 64, 32, 16`` times ``channel_multiplier``."""
    return {
        4: max_channels, 8: max_channels, 16: max_channels, 32: max_channels,
        64: 256 * channel_multiplier, 128: 128 * channel_multiplier, 256: 64 * channel_multiplier,
        512: 32 * channel_multiplier, 1024: 16 * channel_multiplier,
    }


@dataclass(frozen=True)
class StyleGAN2Config:
    """Architecture hyperparameters. ``channels`` maps each resolution ``4…size`` to its width;
    ``d_channels`` the discriminator's (``size…4``; default: the same); ``stddev_group`` the
    discriminator's minibatch-stddev group size (upstream: 4; ``None``: the whole batch);
    ``conv_clamp`` / ``d_conv_clamp`` NVlabs' activation clamp of the generator's / the
    discriminator's convolutions (stylegan2-ada-pytorch trains with 256; ``None``: no clamp)."""

    size: int
    style_dim: int = 512
    n_mlp: int = 8
    channels: Mapping[int, int] = field(default_factory=standard_channels)
    lr_mlp: float = 0.01
    blur_kernel: tuple[int, ...] = (1, 3, 3, 1)
    d_channels: Mapping[int, int] | None = None
    stddev_group: int | None = 4
    conv_clamp: float | None = None
    d_conv_clamp: float | None = None

    def __post_init__(self) -> None:
        if not is_power_of_two(self.size) or self.size < 4:
            raise ValueError(f"StyleGAN2 resolution must be a power of two >= 4, got {self.size}")
        missing = [r for r in self.resolutions if r not in self.channels]
        if missing:
            raise ValueError(f"StyleGAN2 channels has no width for resolutions {missing} (size {self.size})")
        object.__setattr__(self, "channels", {int(r): int(c) for r, c in self.channels.items() if int(r) <= self.size})
        if self.d_channels is not None:
            object.__setattr__(self, "d_channels", {int(r): int(c) for r, c in self.d_channels.items() if int(r) <= self.size})
        object.__setattr__(self, "blur_kernel", tuple(int(t) for t in self.blur_kernel))

    @property
    def log_size(self) -> int:
        return int(math.log2(self.size))

    @property
    def resolutions(self) -> list[int]:
        """``4, 8, …, size``."""
        return [2**r for r in range(2, int(math.log2(self.size)) + 1)]

    @property
    def n_latent(self) -> int:
        """W+ slots: ``2 * log2(size) - 2``."""
        return 2 * self.log_size - 2

    @property
    def num_layers(self) -> int:
        """Noise inputs (StyledConvs): ``2 * (log2(size) - 2) + 1``."""
        return 2 * (self.log_size - 2) + 1

    @property
    def num_blocks(self) -> int:
        """Synthesis blocks (one ToRGB each): ``log2(size) - 1``."""
        return self.log_size - 1

    def noise_resolution(self, index: int) -> int:
        return 2 ** ((index + 5) // 2)

    def discriminator_channels(self) -> dict[int, int]:
        return dict(self.d_channels if self.d_channels is not None else self.channels)

    def to_json(self) -> str:
        data = asdict(self)
        data["channels"] = {str(r): c for r, c in self.channels.items()}
        if self.d_channels is not None:
            data["d_channels"] = {str(r): c for r, c in self.d_channels.items()}
        data["blur_kernel"] = list(self.blur_kernel)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | Mapping) -> StyleGAN2Config:
        data = dict(json.loads(text) if isinstance(text, str) else text)
        data["channels"] = {int(r): int(c) for r, c in data["channels"].items()}
        if data.get("d_channels") is not None:
            data["d_channels"] = {int(r): int(c) for r, c in data["d_channels"].items()}
        data["blur_kernel"] = tuple(data.get("blur_kernel", (1, 3, 3, 1)))
        return cls(**data)


class NoiseBuffers(nn.Module):
    """The checkpoint's fixed noise maps ``noise_0 … noise_{L-1}``, ``[1, 1, H, W]`` each."""

    def __init__(self, config: StyleGAN2Config):
        super().__init__()
        self.count = config.num_layers
        for i in range(config.num_layers):
            r = config.noise_resolution(i)
            self.register_buffer(f"noise_{i}", torch.randn(1, 1, r, r))

    def __getitem__(self, index: int) -> torch.Tensor:
        return getattr(self, f"noise_{index}")


class StyleGAN2Network(nn.Module):
    """rosinality's ``Generator`` (the checkpoint's ``g_ema``), same module tree and keys.

    The invprob wrapper (:class:`~invprob_plugin_stylegan2.generator.StyleGAN2Generator`)
    drives it block by block; :meth:`synthesis` runs all blocks at once.
    """

    def __init__(self, config: StyleGAN2Config):
        super().__init__()
        self.config = config
        c, dim, taps = config.channels, config.style_dim, config.blur_kernel
        self.style = nn.Sequential(
            PixelNorm(), *[EqualLinear(dim, dim, lr_mul=config.lr_mlp, activation=True) for _ in range(config.n_mlp)]
        )
        self.input = ConstantInput(c[4])
        clamp = config.conv_clamp
        self.conv1 = StyledConv(c[4], c[4], 3, dim, blur_kernel=taps, conv_clamp=clamp)
        self.to_rgb1 = ToRGB(c[4], dim, upsample=False, conv_clamp=clamp)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        previous = c[4]
        for resolution in config.resolutions[1:]:
            width = c[resolution]
            self.convs.append(StyledConv(previous, width, 3, dim, upsample=True, blur_kernel=taps, conv_clamp=clamp))
            self.convs.append(StyledConv(width, width, 3, dim, blur_kernel=taps, conv_clamp=clamp))
            self.to_rgbs.append(ToRGB(width, dim, blur_kernel=taps, conv_clamp=clamp))
            previous = width
        self.noises = NoiseBuffers(config)

    def get_latent(self, z: torch.Tensor) -> torch.Tensor:
        """The mapping network: ``w = style(z)``, ``[B, style_dim]``."""
        return self.style(z)

    def block(
        self,
        k: int,
        wplus: torch.Tensor,
        noises: Sequence[torch.Tensor],
        feature: torch.Tensor | None = None,
        skip: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Block ``k``: ``(feature, skip)`` at resolution ``4 * 2**k``.

        ``wplus`` holds the slots this block reads (``[B, 2 or 3, D]``: slots 0, 1 for block 0,
        else ``2k-1, 2k, 2k+1``) and ``noises`` its noise maps (1 for block 0, else 2).
        """
        if k == 0:
            x = self.conv1(self.input(wplus.shape[0]), wplus[:, 0], noises[0])
            return x, self.to_rgb1(x, wplus[:, 1])
        x = self.convs[2 * k - 2](feature, wplus[:, 0], noises[0])
        x = self.convs[2 * k - 1](x, wplus[:, 1], noises[1])
        return x, self.to_rgbs[k - 1](x, wplus[:, 2], skip)

    def synthesis(
        self, wplus: torch.Tensor, noises: Sequence[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """The raw image for ``wplus`` ``[B, n_latent, D]`` and the ``(feature, skip)`` after every block."""
        noises = list(noises) if noises is not None else [self.noises[i] for i in range(self.config.num_layers)]
        feature, skip = self.block(0, wplus[:, 0:2], noises[0:1])
        boundaries = [(feature, skip)]
        for k in range(1, self.config.num_blocks):
            feature, skip = self.block(k, wplus[:, 2 * k - 1 : 2 * k + 2], noises[2 * k - 1 : 2 * k + 1], feature, skip)
            boundaries.append((feature, skip))
        return skip, boundaries


class StyleGAN2Discriminator(nn.Module):
    """rosinality's ``Discriminator``: fromRGB, one :class:`ResBlock` per resolution down to 4×4,
    minibatch stddev, a 3×3 conv and two linear layers; returns a raw logit ``[B, 1]``.
    ``d_conv_clamp`` clamps fromRGB, the blocks' convs and the 3×3 conv (NVlabs' ``conv_clamp``)."""

    def __init__(self, config: StyleGAN2Config):
        super().__init__()
        c = config.discriminator_channels()
        taps, clamp = config.blur_kernel, config.d_conv_clamp
        layers: list[nn.Module] = [ConvLayer(3, c[config.size], 1, conv_clamp=clamp)]
        in_channels = c[config.size]
        for resolution in reversed(config.resolutions[1:]):
            out_channels = c[resolution // 2]
            layers.append(ResBlock(in_channels, out_channels, taps, conv_clamp=clamp))
            in_channels = out_channels
        self.convs = nn.Sequential(*layers)
        self.stddev_group = config.stddev_group
        self.final_conv = ConvLayer(in_channels + 1, c[4], 3, conv_clamp=clamp)
        self.final_linear = nn.Sequential(
            EqualLinear(c[4] * 4 * 4, c[4], activation=True),
            EqualLinear(c[4], 1),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        out = minibatch_stddev(self.convs(image), self.stddev_group)
        out = self.final_conv(out)
        return self.final_linear(out.reshape(out.shape[0], -1))
