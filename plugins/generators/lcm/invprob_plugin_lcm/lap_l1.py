"""The Laplacian-pyramid L1 distance of GLO / LCM (Bojanowski et al. 2018; Athar et al. 2019).

``Lap-L1(x1, x2) = sum_j 2^(-2j) |L_j(x1) - L_j(x2)|_1`` over ``levels`` band-pass levels of a
Laplacian pyramid (Burt & Adelson 1983) plus the low-pass residual (weight ``2^(-2 levels)``).
Each ``|.|_1`` is a *mean* absolute value per sample, so every level counts by its weight and not
by its pixel count. The pyramid is linear, so it is built once, of ``x1 - x2``.

Pyramid: ``G_0 = x``, ``G_{j+1} = down(blur(G_j))`` with the 5-tap binomial kernel
``[1, 4, 6, 4, 1] / 16`` (replicate padding, stride 2; any size, odd ones included), and
``L_j = G_j - up(G_{j+1})`` with bilinear upsampling back to ``G_j``'s size.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from invprob.loss import Loss, per_sample_mean

_BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)


def _blur_down(x: torch.Tensor) -> torch.Tensor:
    kernel1d = torch.tensor(_BINOMIAL, dtype=x.dtype, device=x.device) / 16
    kernel = (kernel1d[:, None] * kernel1d[None, :]).expand(x.shape[1], 1, 5, 5)
    padded = F.pad(x, (2, 2, 2, 2), mode="replicate")
    return F.conv2d(padded, kernel, stride=2, groups=x.shape[1])


def laplacian_pyramid(x: torch.Tensor, levels: int = 3) -> list[torch.Tensor]:
    """``[L_0, ..., L_{levels-1}, G_levels]`` of ``x [B, C, H, W]``: band-pass levels, then the residual."""
    pyramid: list[torch.Tensor] = []
    current = x
    for _ in range(levels):
        low = _blur_down(current)
        up = F.interpolate(low, size=current.shape[-2:], mode="bilinear", align_corners=False)
        pyramid.append(current - up)
        current = low
    pyramid.append(current)
    return pyramid


def lap_l1(x1: torch.Tensor, x2: torch.Tensor, levels: int = 3) -> torch.Tensor:
    """Per-sample Lap-L1 distance ``[B]`` between two image batches of the same shape."""
    if x1.shape != x2.shape:
        raise ValueError(f"lap_l1: shapes differ, {tuple(x1.shape)} and {tuple(x2.shape)}")
    if x1.ndim != 4:
        raise ValueError(f"lap_l1 takes image batches [B, C, H, W], got shape {tuple(x1.shape)}")
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
