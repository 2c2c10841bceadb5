"""Tiny real components for tests: two small convolutional generators, a masking operator, and
an inverse problem built from them.

They are randomly initialised but complete implementations of the interfaces, small enough
that a conformance suite runs in milliseconds on a CPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from invprob import seeding
from invprob.generator import FEATURES, IMAGE, Generator, LatentSpace, State, TensorStage
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
    """z (8-dim, N(0, 1) or U(-1, 1)) -> 4x4 -> 8x8 -> 16x16 image with ``channels`` channels.

    Three stages: ``{z} -> {features} -> {features} -> {image}``; its discriminator returns a
    logit.
    """

    discriminator_output = "logit"

    def __init__(self, latent_dim: int = 8, channels: int = 3, distribution: str = "normal", seed: int = 0):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.stages = nn.ModuleList(
                [
                    TensorStage(_Project(latent_dim, 16, 4), "z", FEATURES),
                    TensorStage(_Upsample(16, 8), FEATURES, FEATURES),
                    TensorStage(_Upsample(8, channels, last=True), FEATURES, IMAGE),
                ]
            )
            self.discriminator = _TinyDiscriminator(channels, 16)
        self.image_shape = (channels, 16, 16)
        self.latent_spaces = {"z": LatentSpace("z", (latent_dim,), distribution)}  # type: ignore[arg-type]


class TinyMappedGenerator(Generator):
    """A toy with StyleGAN2's kinds of latent: ``w = mapping(z)`` and a noise map.

    Latents: ``w`` (8-dim), drawn by its own sampler as ``mapping(z)`` with ``z ~ N(0, I)``
    (neither normal nor uniform), and ``noise`` ``[1, 16, 16]`` ~ N(0, 1). Three stages,
    each passing on what the next needs::

        {w, noise} -> {features 16x4x4, noise} -> {features 8x8x8, noise} -> {image}

    Its discriminator is read as a least-squares score.
    """

    discriminator_output = "least_squares"

    def __init__(self, latent_dim: int = 8, channels: int = 3, seed: int = 0):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.mapping = nn.Sequential(
                nn.Linear(latent_dim, latent_dim), nn.LeakyReLU(0.2), nn.Linear(latent_dim, latent_dim)
            )
            self.stages = nn.ModuleList(
                [
                    TensorStage(_Project(latent_dim, 16, 4), "w", FEATURES),
                    TensorStage(_Upsample(16, 8), FEATURES, FEATURES),
                    _NoisyOutput(8, channels),
                ]
            )
            self.discriminator = _TinyDiscriminator(channels, 16)
        self.latent_dim = latent_dim
        self.image_shape = (channels, 16, 16)
        self.latent_spaces = {
            "w": LatentSpace.custom("w", (latent_dim,), self.sample_w),
            "noise": LatentSpace("noise", (1, 16, 16)),
        }

    def sample_w(self, batch: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """``mapping(z)`` for ``z ~ N(0, I)`` drawn on ``rng`` (CPU) and moved to the mapping's device."""
        first = self.mapping[0]
        z = seeding.randn((batch, self.latent_dim), rng, device=first.weight.device, dtype=first.weight.dtype)
        return self.mapping(z)


class _NoisyOutput(nn.Module):
    """``{features, noise} -> {image}``: upsample to the image, add the noise map, tanh."""

    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.conv = nn.ConvTranspose2d(channels_in, channels_out, 4, 2, 1)

    def forward(self, state: State) -> State:
        return {IMAGE: torch.tanh(self.conv(state[FEATURES]) + 0.1 * state["noise"])}


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


class SeparableOperator(Operator):
    """``A(x) = rows @ x @ cols^T`` per channel: a separable linear map (``rows [h, H]``,
    ``cols [w, W]``), e.g. a reference downsampler recorded as its two matrices."""

    linear = True

    def __init__(self, rows: torch.Tensor, cols: torch.Tensor):
        super().__init__()
        self.register_buffer("rows", rows.detach().clone())
        self.register_buffer("cols", cols.detach().clone())

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return self.rows @ x @ self.cols.T

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.rows.T @ y @ self.cols


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
    with torch.no_grad():
        truth = generator(generator.sample_latent(batch, seeding.make_rng(1000 + seed)))
        observation = operator.A(truth)
    return InverseProblem(
        operator=operator,
        observation=observation,
        image_shape=generator.image_shape,
        generator=generator,
        losses=[WeightedLoss(1.0, MSELoss())],
        ground_truth=truth,
    )
