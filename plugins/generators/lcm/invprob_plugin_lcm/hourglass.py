"""The hourglass generator g_theta of Latent Convolutional Models (Athar et al., ICLR 2019).

``g`` maps a latent *stack of maps* ``z [C, h, w]`` to an image in [-1, 1]::

    z (C x h x h) -- stem 3x3 --> width x h ----------------------------------- skip A --.
                 -- 4x4 stride-2 convs --> ... --> 2width x h/2 ------------ skip B --.  |
                 -- ... --> 2width x 4 (the bottleneck, 4 x 4)                       |  |
                 -- dilated 3x3 convs (dilation 2) at 4 x 4                          |  |
                 -- transposed 4x4 stride-2 convs back up to h/2, (+ B) to h, (+ A) --'--'
                 -- transposed convs on to the image size -- 3x3 head -- tanh

Every convolution but the head is followed by batch norm and LeakyReLU(0.2); the two skip
connections (concatenations) join at the latent resolution and at half of it, the two
low-resolution levels of the encoder above the bottleneck, as the paper's "two skip
connections". The map sizes follow the paper's ``32 -> 4 -> 128`` at 128 px; at 64 px our
default is ``16 -> 4 -> 64`` with a 32x16x16 latent; ``width=32`` (the committed models) has
0.35 M parameters, ``width=48`` 0.79 M; 32 px works with an 8x8 latent. With
``latent_vector=d`` (GLO's vector variant) a linear layer first maps ``z [d]`` to the stack.

The generator is a chain of stages (:class:`invprob.generator.Generator`'s stage support);
each stage reads and writes named entries of the state, so ``split(k)`` holds at every stage:
the skip features travel in the state (``skip_a``, ``skip_b``) until the decoder joins them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from invprob.generator import IMAGE, Generator, LatentSpace, Sampler, State

LEAKY_SLOPE = 0.2
BOTTLENECK = 4
"""Side of the bottleneck maps (the paper's 4 x 4 at every size)."""


@dataclass(frozen=True)
class HourglassConfig:
    """The sizes of an hourglass generator (what a weights file records in its metadata)."""

    size: int = 64
    latent_channels: int = 32
    latent_size: int = 16
    width: int = 32
    channels: int = 3
    dilated: int = 2
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
        if self.latent_size < 2 * BOTTLENECK:
            raise ValueError(f"hourglass: latent_size must be at least {2 * BOTTLENECK} (two skip levels above the 4x4 bottleneck)")
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
    """

    def __init__(self, config: HourglassConfig | None = None, *, sampler: Sampler | None = None):
        super().__init__()
        config = config or HourglassConfig()
        self.config = config
        c, w = config, config.width
        feat = "features"
        stages: list[nn.Module] = []
        if c.latent_vector:  # GLO's vector latent: a linear map to the stack
            stages.append(Step(nn.Sequential(nn.Linear(c.latent_vector, math.prod(c.map_shape)), nn.Unflatten(1, c.map_shape)), "z", "z"))
        # encoder: stem at the latent resolution, then 4x4 stride-2 convs down to 4x4
        stages.append(Step(nn.Sequential(nn.Conv2d(c.latent_channels, w, 3, 1, 1, bias=False), *_act(w)), "z", feat))
        downs = int(math.log2(c.latent_size // BOTTLENECK))
        widths = [w] + [min(2 * w, w * 2 ** (i + 1)) for i in range(downs)]  # w, 2w, 2w, ...
        for i in range(downs):
            keep = {0: "skip_a", 1: "skip_b"}.get(i)
            block = nn.Sequential(nn.Conv2d(widths[i], widths[i + 1], 4, 2, 1, bias=False), *_act(widths[i + 1]))
            stages.append(Step(block, feat, feat, keep=keep))
        deep = widths[-1]
        for _ in range(c.dilated):
            block = nn.Sequential(nn.Conv2d(deep, deep, 3, 1, 2, dilation=2, bias=False), *_act(deep))
            stages.append(Step(block, feat, feat))
        # decoder: transposed convs back to the latent resolution, joining the two skips
        current = deep
        for i in reversed(range(downs)):
            out = widths[i + 1] if i >= 1 else w
            join = {0: "skip_a", 1: "skip_b"}.get(i)
            block = nn.Sequential(nn.ConvTranspose2d(current, out, 4, 2, 1, bias=False), *_act(out))
            stages.append(Step(block, feat, feat, join=join))
            current = out + (widths[i] if join else 0)
        # then on up to the image size, halving the width
        ups = int(math.log2(c.size // c.latent_size))
        for _ in range(ups):
            out = max(current // 2, 16)
            block = nn.Sequential(nn.ConvTranspose2d(current, out, 4, 2, 1, bias=False), *_act(out))
            stages.append(Step(block, feat, feat))
            current = out
        stages.append(Step(nn.Sequential(nn.Conv2d(current, c.channels, 3, 1, 1), nn.Tanh()), feat, IMAGE))
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
