"""Conversions between the image scales invprob meets: [-1, 1] tensors, uint8 arrays, 0-255 sigmas.

Every image inside invprob is a float tensor in [-1, 1] (``[C, H, W]`` or ``[B, C, H, W]``);
files and PIL speak uint8 ``[H, W, C]``. One grey level is ``2 / 255`` of the [-1, 1] range,
so a noise level ``sigma_255`` on the 0-255 scale is ``sigma_255 / 127.5`` in [-1, 1] units
(the ILO paper states noise on the 0-255 scale).
"""

from __future__ import annotations

import numpy as np
import torch

GREY_LEVELS_PER_UNIT = 127.5
"""Grey levels (0-255 scale) per unit of the [-1, 1] scale."""


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """``[C, H, W]`` (or ``[B, C, H, W]``) in [-1, 1] -> uint8 ``[H, W, C]`` (``[B, H, W, C]``).

    Values are clamped to [-1, 1] and rounded to the nearest grey level.
    """
    values = ((image.detach().float().cpu().clamp(-1, 1) + 1) * GREY_LEVELS_PER_UNIT).round().to(torch.uint8)
    return values.movedim(-3, -1).numpy()


def from_uint8(array: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``[H, W, C]`` (or ``[B, H, W, C]``, or ``[H, W]``) -> float32 ``[C, H, W]`` in [-1, 1]."""
    values = torch.as_tensor(np.asarray(array) if not isinstance(array, torch.Tensor) else array)
    if values.dim() == 2:
        values = values[:, :, None]
    return (values.float() / GREY_LEVELS_PER_UNIT - 1).movedim(-1, -3).contiguous()


def sigma_from_255(sigma_255: float) -> float:
    """``sigma_255 / 127.5``: a noise level on the 0-255 scale in [-1, 1] units."""
    if sigma_255 < 0:
        raise ValueError(f"noise sigma must be >= 0 on the 0-255 scale, got {sigma_255}")
    return float(sigma_255) / GREY_LEVELS_PER_UNIT
