"""Additive Gaussian noise with sigma on the 0-255 scale, as the ILO paper states it.

Images live in [-1, 1], so a noise level ``sigma_255`` on the 0-255 scale is
``invprob.images.sigma_from_255(sigma_255) = sigma_255 / 127.5`` in the units of the
measurement. ILO's denoising experiments also clip the noisy image back to the valid range
([0, 255], here [-1, 1]); :class:`ClippedGaussianNoise` does that.
"""

from __future__ import annotations

import torch

from invprob.images import sigma_from_255
from invprob.operator import GaussianNoise, NoiseModel


class ClippedGaussianNoise(GaussianNoise):
    """``clamp(y + sigma * n, -1, 1)`` with ``n ~ N(0, I)``: noise on an image kept in range."""

    def forward(self, y: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        return super().forward(y, rng).clamp(-1.0, 1.0)


def gaussian_noise(sigma_255: float, *, clip: bool = False) -> NoiseModel | None:
    """The noise model for ``sigma_255`` (0-255 scale); ``None`` (noiseless) when it is 0 and
    nothing is clipped."""
    sigma = sigma_from_255(sigma_255)
    if clip:
        return ClippedGaussianNoise(sigma)
    return GaussianNoise(sigma) if sigma > 0 else None
