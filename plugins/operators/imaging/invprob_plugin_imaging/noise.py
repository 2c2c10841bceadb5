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


class PoissonNoise(NoiseModel):
    """Shot noise: photon counts ``N ~ Poisson(peak * u)`` for the intensity ``u = (y + 1) / 2``
    in [0, 1], returned as ``2 N / peak - 1`` in the units of ``y``.

    ``peak`` is the expected count at white: the lower, the noisier (the signal-to-noise ratio
    of a pixel of intensity ``u`` is ``sqrt(peak * u)``). Intensities below 0 count as 0. The
    counts are drawn with ``rng`` (a CPU ``torch.Generator``) on the CPU and moved, like every
    noise draw, so one seed gives the same observation on every device. Not differentiable
    (it is only ever applied to make an observation).
    """

    def __init__(self, peak: float):
        super().__init__()
        if not peak > 0:
            raise ValueError(f"the Poisson peak (expected photon count at white) must be > 0, got {peak}")
        self.register_buffer("peak", torch.tensor(float(peak)))

    def forward(self, y: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        draw_on = rng.device if rng is not None else torch.device("cpu")
        peak = self.peak.to(device=draw_on, dtype=torch.float64)
        rates = ((y.detach().to(draw_on, torch.float64) + 1) / 2).clamp(min=0) * peak
        counts = torch.poisson(rates, generator=rng)
        return (counts * 2 / peak - 1).to(device=y.device, dtype=y.dtype)


class ChainedNoise(NoiseModel):
    """Noise models applied in turn (Poisson shot noise, then Gaussian read noise)."""

    def __init__(self, *models: NoiseModel):
        super().__init__()
        self.models = torch.nn.ModuleList(models)

    def forward(self, y: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        for model in self.models:
            y = model(y, rng)
        return y


def noise_model(sigma_255: float, poisson_peak: float | None = None, *, clip: bool = False) -> NoiseModel | None:
    """Poisson shot noise of ``poisson_peak`` (if given) followed by Gaussian noise of
    ``sigma_255`` (0-255 scale); ``None`` when there is neither."""
    gaussian = gaussian_noise(sigma_255, clip=clip)
    if poisson_peak is None:
        return gaussian
    poisson = PoissonNoise(poisson_peak)
    return poisson if gaussian is None else ChainedNoise(poisson, gaussian)
