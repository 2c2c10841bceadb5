"""The Laplacian-pyramid L1 distance of GLO / LCM (Bojanowski et al. 2018; Athar et al. 2019).

``Lap-L1(x1, x2) = sum_j 2^(-2j) |L_j(x1) - L_j(x2)|_1`` over ``levels`` band-pass levels of a
Laplacian pyramid plus the low-pass residual (weight ``2^(-2 levels)``). Each ``|.|_1`` is a
*mean* absolute value per sample, so every level counts by its weight and not by its pixel
count. The pyramid is linear, so it is built once, of ``x1 - x2``.

The pyramid is the authors' (``laploss`` in ``src/custom_losses.py`` of
srxdev0619/Latent_Convolutional_Models, adapted from mtyka/laploss), reproduced literally:

- ``blur``: a 5x5 depthwise convolution with **zero padding** 2 and the kernel
  ``K[i, j] ∝ g(i) + g(j)``, ``g(t) = exp(-(t - 2)^2 / sigma^2)``, ``sigma = 2``, normalised to
  sum 1 (the official ``gauss_kernel`` squares ``exp(-(t-2)^2 / (2 sigma^2))`` and *sums* the
  two axes' values: not a separable Gaussian, but what the official loss computes);
- ``L_j = G_j - blur(G_j)`` at ``G_j``'s resolution, and ``G_{j+1} = avgpool_2x2(blur(G_j))``
  (``G_0 = x``; odd sides lose their last row/column, as ``F.avg_pool2d``).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from invprob.loss import Loss, per_sample_mean

SIGMA = 2.0
KERNEL_SIZE = 5


def blur_kernel(dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> torch.Tensor:
    """The official 5x5 ``gauss_kernel(5, sigma=2)``: ``K[i, j] ∝ g(i) + g(j)``, summing to 1."""
    t = torch.arange(KERNEL_SIZE, dtype=torch.float64)
    g = torch.exp(-((t - KERNEL_SIZE // 2) ** 2) / SIGMA**2)
    kernel = g[:, None] + g[None, :]
    return (kernel / kernel.sum()).to(dtype=dtype, device=device)


def _blur(x: torch.Tensor) -> torch.Tensor:
    kernel = blur_kernel(x.dtype, x.device).expand(x.shape[1], 1, KERNEL_SIZE, KERNEL_SIZE)
    return F.conv2d(x, kernel, padding=KERNEL_SIZE // 2, groups=x.shape[1])


def laplacian_pyramid(x: torch.Tensor, levels: int = 3) -> list[torch.Tensor]:
    """``[L_0, ..., L_{levels-1}, G_levels]`` of ``x [B, C, H, W]``: band-pass levels, then the residual."""
    pyramid: list[torch.Tensor] = []
    current = x
    for _ in range(levels):
        low = _blur(current)
        pyramid.append(current - low)
        current = F.avg_pool2d(low, 2, 2)
    pyramid.append(current)
    return pyramid


def lap_l1(x1: torch.Tensor, x2: torch.Tensor, levels: int = 3) -> torch.Tensor:
    """Per-sample Lap-L1 distance ``[B]`` between two image batches of the same shape."""
    if x1.shape != x2.shape:
        raise ValueError(f"lap_l1: shapes differ, {tuple(x1.shape)} and {tuple(x2.shape)}")
    if x1.ndim != 4:
        raise ValueError(f"lap_l1 takes image batches [B, C, H, W], got shape {tuple(x1.shape)}")
    if min(x1.shape[-2:]) < 2**levels:
        raise ValueError(f"lap_l1: {levels} levels need images of at least {2**levels} pixels a side, got {tuple(x1.shape[-2:])}")
    total = x1.new_zeros(x1.shape[0])
    for j, level in enumerate(laplacian_pyramid(x1 - x2, levels)):
        total = total + 2.0 ** (-2 * j) * per_sample_mean(level.abs())
    return total


class LapL1Loss(Loss):
    """Lap-L1 between the predicted and the observed measurement (both image-shaped), per sample."""

    def __init__(self, levels: int = 3):
        super().__init__()
        self.levels = levels

    def forward(self, prediction: torch.Tensor, observation: torch.Tensor, operator: object) -> torch.Tensor:
        if prediction.ndim != 4:
            raise ValueError(
                f"lap-l1 compares image-shaped measurements [B, C, H, W], got {tuple(prediction.shape)}; "
                "use it with an operator whose output is an image (a mask, an inpainting, identity)"
            )
        return lap_l1(prediction, observation, self.levels)
