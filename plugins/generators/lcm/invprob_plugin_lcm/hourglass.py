"""The hourglass generator g_theta of Latent Convolutional Models (Athar et al., ICLR 2019).

``g`` maps a latent *stack of maps* ``z [C, h, w]`` to an image in [-1, 1]. It is the authors'
``EncDecCelebA`` (``src/models.py`` of srxdev0619/Latent_Convolutional_Models) scaled to our
sizes, with ``w = width`` (the official net is ``w = 128`` at 128 px, latent 64x32x32)::

    z (C x h x h) -- 4x4 stride-2 convs --> ... --> 4w x 8 (kept: skip B) --> 8w x 4 (kept: skip A)
      -- 3 grouped dilated 3x3 convs at 4 x 4 (8w channels, 4w groups, dilation 2)
      -- join A (8w + 8w) -- transposed 4x4 stride-2 conv --> 4w x 8 -- join B (4w + 4w)
      -- transposed convs on up to half the image size (widths ... 4w, 2w, w)
      -- bilinear x2 upsampling (align_corners) -- 3x3 convs w -> w/2 -> w/4 -> 3 -- sigmoid

Encoder widths double towards the bottleneck (8w at 4x4, 4w at 8x8, 2w at 16x16, ...), decoder
widths are ``w * min(4, (size/2) / r)`` at resolution ``r``; every conv is bias-free and every
one but the head is followed by batch norm and LeakyReLU(0.2). The two skip connections join
at the 4x4 bottleneck and at 8x8 as the official net's; nothing joins at the latent resolution
(the latent must be at least 16x16, so that the 8x8 skip is an encoder feature, not z). The
head is the official sigmoid mapped to our [-1, 1] range: ``2 * sigmoid(a) - 1`` is exactly the
official image ``x`` as ``2x - 1``. At 128 px with ``width=128`` and ``latent_channels=64`` the
net is the official one layer for layer (``benchmarks/parity/lcm_parity.py`` checks it).

Our 64 px default (the committed models): z 32x16x16 -> 4x4 -> 64x64, ``width=16``, 0.51 M
parameters (``width=32``: 1.96 M, three times the CPU time per step). With ``latent_vector=d`` (GLO's vector variant) a linear layer first maps ``z [d]`` to
the stack.

The generator is a chain of stages (:class:`invprob.generator.Generator`'s stage support);
each stage reads and writes named entries of the state, so ``split(k)`` holds at every stage:
the skip features travel in the state (``skip_a``, ``skip_b``) until the decoder joins them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from invprob.generator import IMAGE, Generator, LatentSpace, Sampler, State

if TYPE_CHECKING:
    from .models import ModelInfo

LEAKY_SLOPE = 0.2
BOTTLENECK = 4
"""Side of the bottleneck maps (the paper's 4 x 4 at every size)."""


@dataclass(frozen=True)
class HourglassConfig:
    """The sizes of an hourglass generator (what a weights file records in its metadata)."""

    size: int = 64
    latent_channels: int = 32
    latent_size: int = 16
    width: int = 16
    channels: int = 3
    dilated: int = 3
    latent_vector: int = 0
    """0: the latent is the map stack itself; ``d > 0``: a vector ``z [d]`` that a linear layer maps
    to the stack (GLO's vector latent, Bojanowski et al.)."""

    def __post_init__(self) -> None:
        for name in ("size", "latent_size"):
            value = getattr(self, name)
            if value < BOTTLENECK or value & (value - 1):
                raise ValueError(f"hourglass: {name} must be a power of two >= {BOTTLENECK}, got {value}")
        if self.latent_size > self.size:
            raise ValueError(f"hourglass: latent_size {self.latent_size} exceeds the image size {self.size}")
        if self.latent_size < 4 * BOTTLENECK:
            raise ValueError(
                f"hourglass: latent_size must be at least {4 * BOTTLENECK} (the skips join encoder features at 8x8 and "
                f"4x4, as the official net's, never the latent itself), got {self.latent_size}"
            )
        if self.size < 4 * BOTTLENECK:
            raise ValueError(f"hourglass: size must be at least {4 * BOTTLENECK} (the decoder passes 8x8 at half the size), got {self.size}")
        for name in ("latent_channels", "width", "channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"hourglass: {name} must be positive, got {getattr(self, name)}")
        if self.latent_vector < 0:
            raise ValueError(f"hourglass: latent_vector must be >= 0 (0: map latent), got {self.latent_vector}")
        if self.dilated < 0:
            raise ValueError(f"hourglass: dilated must be >= 0, got {self.dilated}")

    @property
    def map_shape(self) -> tuple[int, int, int]:
        """The map stack the encoder takes, ``[C, h, w]``."""
        return (self.latent_channels, self.latent_size, self.latent_size)

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """The per-sample shape of the latent ``z``: the map stack, or ``(latent_vector,)``."""
        return (self.latent_vector,) if self.latent_vector else self.map_shape

    def as_metadata(self) -> dict[str, str]:
        return {key: str(value) for key, value in asdict(self).items()}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> HourglassConfig:
        fields = cls.__dataclass_fields__
        return cls(**{key: int(metadata[key]) for key in fields if key in metadata})


def _act(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels), nn.LeakyReLU(LEAKY_SLOPE)]


def _conv_block(conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(conv, *_act(channels))


class SigmoidToSigned(nn.Module):
    """``2 * sigmoid(a) - 1``: the official head's [0, 1] image, written on our [-1, 1] range."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * torch.sigmoid(x) - 1


class Step(nn.Module):
    """One stage: ``state[source] -> block -> state[target]``.

    ``keep`` stores the block's *input* under that name (an encoder level saved for a skip);
    ``join`` concatenates the named saved entry to the block's output along channels (and drops
    it from the state). Other entries pass through untouched.
    """

    def __init__(self, block: nn.Module, source: str, target: str, *, keep: str | None = None, join: str | None = None):
        super().__init__()
        self.block = block
        self.source, self.target, self.keep, self.join = source, target, keep, join

    def forward(self, state: State) -> State:
        rest = dict(state)
        x = rest.pop(self.source)
        if self.keep is not None:
            rest[self.keep] = x
        y = self.block(x)
        if self.join is not None:
            y = torch.cat([y, rest.pop(self.join)], dim=1)
        rest[self.target] = y
        return rest


class HourglassGenerator(Generator):
    """g_theta: ``{"z": [B, C, h, w]} -> [B, channels, size, size]`` in [-1, 1] (``z [B, d]`` with
    ``latent_vector = d``).

    ``sampler``: how ``sample_latent`` draws z. Without one the space is N(0, 1) (a random
    init has no better choice); a trained model passes the sampler fitted to its training
    latents (:class:`invprob_plugin_lcm.sampling.LatentSampler`, appendix I of the paper).

    A model loaded from a file (:func:`invprob_plugin_lcm.models.load_model`) has ``lcm_info``,
    what the file records (its manifold and bound for LCM): the optional capability
    :class:`~invprob.generator.HasLCMInfo`, which the ``lcm`` solver checks its prior against.
    A random init has no record.
    """

    lcm_info: ModelInfo  # set by load_model only

    def __init__(self, config: HourglassConfig | None = None, *, sampler: Sampler | None = None):
        super().__init__()
        config = config or HourglassConfig()
        self.config = config
        c, w = config, config.width
        feat = "features"
        stages: list[nn.Module] = []
        if c.latent_vector:  # GLO's vector latent: a linear map to the stack
            stages.append(Step(nn.Sequential(nn.Linear(c.latent_vector, math.prod(c.map_shape)), nn.Unflatten(1, c.map_shape)), "z", "z"))
        # encoder: 4x4 stride-2 convs from the latent down to 4x4; the 8x8 output is skip B
        current, channels, source = c.latent_size, c.latent_channels, "z"
        while current > BOTTLENECK:
            current //= 2
            out = max(1, 8 * w * BOTTLENECK // current)
            keep = "skip_b" if current == BOTTLENECK else None  # keeps the block's input: the 8x8 features
            stages.append(Step(_conv_block(nn.Conv2d(channels, out, 4, 2, 1, bias=False), out), source, feat, keep=keep))
            channels, source = out, feat
        # the bottleneck: grouped dilated convs (2 channels per group), then join its input (skip A)
        groups = max(1, channels // 2) if channels % 2 == 0 else 1
        for index in range(c.dilated):
            conv = nn.Conv2d(channels, channels, 3, 1, 2, dilation=2, groups=groups, bias=False)
            stages.append(Step(_conv_block(conv, channels), feat, feat, keep="skip_a" if index == 0 else None))
        if c.dilated == 0:
            stages.append(Step(nn.Identity(), feat, feat, keep="skip_a"))
        stages.append(Step(nn.Identity(), feat, feat, join="skip_a"))
        channels *= 2
        # decoder: transposed convs up to half the image size, joining skip B at 8x8
        skip_b = max(1, 8 * w * BOTTLENECK // (2 * BOTTLENECK))
        current = BOTTLENECK
        while current < c.size // 2:
            current *= 2
            out = max(1, w * min(4, c.size // 2 // current))
            join = "skip_b" if current == 2 * BOTTLENECK else None
            block = _conv_block(nn.ConvTranspose2d(channels, out, 4, 2, 1, bias=False), out)
            stages.append(Step(block, feat, feat, join=join))
            channels = out + (skip_b if join else 0)
        # bilinear x2 to the image size, two 3x3 conv blocks and the sigmoid head
        tail: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)]
        for out in (max(1, w // 2), max(1, w // 4)):
            tail += [nn.Conv2d(channels, out, 3, 1, 1, bias=False), *_act(out)]
            channels = out
        stages.append(Step(nn.Sequential(*tail), feat, feat))
        stages.append(Step(nn.Sequential(nn.Conv2d(channels, c.channels, 3, 1, 1, bias=False), SigmoidToSigned()), feat, IMAGE))
        self.stages = nn.ModuleList(stages)
        self.image_shape = (c.channels, c.size, c.size)
        space = LatentSpace.custom("z", c.latent_shape, sampler) if sampler is not None else LatentSpace("z", c.latent_shape)
        self.latent_spaces = {"z": space}

    def set_sampler(self, sampler: Sampler | None) -> None:
        """Draw ``z`` with ``sampler`` (``None``: N(0, 1))."""
        shape = self.config.latent_shape
        self.latent_spaces = {"z": LatentSpace.custom("z", shape, sampler) if sampler is not None else LatentSpace("z", shape)}


def build_hourglass(config: HourglassConfig | None = None, *, seed: int = 0) -> HourglassGenerator:
    """A randomly initialised hourglass: PyTorch's default init drawn under ``seed``, BN scale 1."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = HourglassGenerator(config or HourglassConfig())
    return generator
