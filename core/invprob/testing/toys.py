"""Tiny real components for tests: a small convolutional generator, a masking operator, and an
inverse problem built from both.

They are randomly initialised but complete implementations of the interfaces, small enough
that a conformance suite runs in milliseconds on a CPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from invprob.generator import Generator, LatentSpace
from invprob.operator import GaussianNoise, Operator

if TYPE_CHECKING:
    from invprob.problem import InverseProblem


class _Project(nn.Module):
    def __init__(self, latent_dim: int, channels: int, size: int):
        super().__init__()
        self.linear = nn.Linear(latent_dim, channels * size * size)
        self.shape = (channels, size, size)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(z)).reshape(z.shape[0], *self.shape)


class _Upsample(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, last: bool = False):
        super().__init__()
        self.conv = nn.ConvTranspose2d(channels_in, channels_out, 4, 2, 1)
        self.last = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return torch.tanh(x) if self.last else torch.nn.functional.leaky_relu(x, 0.2)


class _TinyDiscriminator(nn.Module):
    def __init__(self, channels: int, size: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(8 * (size // 2) ** 2, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TinyGenerator(Generator):
    """z (8-dim, N(0, 1) or U(-1, 1)) -> 4x4 -> 8x8 -> 16x16 image with ``channels`` channels."""

    def __init__(self, latent_dim: int = 8, channels: int = 3, distribution: str = "normal", seed: int = 0):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.stages = nn.ModuleList(
                [_Project(latent_dim, 16, 4), _Upsample(16, 8), _Upsample(8, channels, last=True)]
            )
            self.discriminator = _TinyDiscriminator(channels, 16)
        self.image_shape = (channels, 16, 16)
        self.latent_spaces = {"z": LatentSpace("z", (latent_dim,), distribution)}  # type: ignore[arg-type]


class MaskOperator(Operator):
    """Keeps the pixels where ``mask`` is 1 (a centre square is missing by default)."""

    linear = True

    def __init__(self, image_shape: tuple[int, int, int] = (3, 16, 16), sigma: float = 0.0):
        super().__init__(GaussianNoise(sigma) if sigma > 0 else None)
        _, height, width = image_shape
        mask = torch.ones(1, 1, height, width)
        mask[..., height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 0
        self.register_buffer("mask", mask)

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.mask

    def observed_mask(self) -> torch.Tensor:
        return self.mask


def make_toy_problem(batch: int = 2, seed: int = 0, *, channels: int = 3) -> InverseProblem:
    """An inpainting problem whose answer is in the range of :class:`TinyGenerator`.

    The ground truth is ``G(z*)`` for a latent ``z*`` drawn with seed ``1000 + seed`` (so that
    it is not the latent a solver seeded with ``seed`` starts from); the observation is the
    noiseless :class:`MaskOperator` measurement; the loss is MSE. The generator is frozen and in
    eval mode: solvers optimise latents, not weights.
    """
    from invprob.losses import MSELoss
    from invprob.problem import InverseProblem, WeightedLoss

    generator = TinyGenerator(channels=channels, seed=0).eval().requires_grad_(False)
    operator = MaskOperator(generator.image_shape)
    latent_generator = torch.Generator().manual_seed(1000 + seed)
    with torch.no_grad():
        truth = generator(generator.sample_latent(batch, latent_generator))
        observation = operator.A(truth)
    return InverseProblem(
        operator=operator,
        observation=observation,
        image_shape=generator.image_shape,
        generator=generator,
        losses=[WeightedLoss(1.0, MSELoss())],
        ground_truth=truth,
    )
