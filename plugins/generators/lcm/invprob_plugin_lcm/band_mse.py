"""The MSE of the authors' LCM inpainting, with a weighted band around the hole.

``src/inpainting.py`` of srxdev0619/Latent_Convolutional_Models (``make_mask``) builds, beside
the mask ``M`` (1 = observed), a weight map ``W`` that is ``weight = 5`` on the hole grown by
``width = 5`` pixels on every side (clipped to the image) and 1 elsewhere, and fits
``F.mse_loss(W * M * g, W * M * y)``: the squared error of an observed pixel in the band counts
``weight^2 = 25`` times. Here, per sample, ``mean((W * (A(x) - y))^2)`` over the image-shaped
measurement (``A(x) = M * x``), ``W`` made from the operator's mask: its missing pixels dilated
by a ``(2 width + 1)`` square, which for the official centre box is exactly the official band.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from invprob.loss import Loss, per_sample_mean
from invprob.operator import Operator


def band_weights(mask: torch.Tensor, width: int, weight: float) -> torch.Tensor:
    """``W [1, c, H, W]``: ``weight`` within ``width`` pixels (a square) of a missing pixel of ``mask``, else 1."""
    missing = (1 - mask).to(torch.float32)
    grown = F.max_pool2d(missing, 2 * width + 1, stride=1, padding=width) if width > 0 else missing
    return torch.where(grown > 0, torch.tensor(float(weight)), torch.tensor(1.0)).to(mask.dtype)


class BandMSELoss(Loss):
    """``mean((W * (A(x) - y))^2)`` per sample, ``W`` the band around the operator's hole."""

    def __init__(self, weight: float = 5.0, width: int = 5):
        super().__init__()
        self.weight, self.width = float(weight), int(width)

    def forward(self, prediction: torch.Tensor, observation: torch.Tensor, operator: Operator) -> torch.Tensor:
        mask = operator.observed_mask()
        if mask is None or prediction.ndim != 4 or prediction.shape[-2:] != mask.shape[-2:]:
            raise ValueError(
                "band-mse weights a band around the missing pixels of an inpainting operator, but this operator "
                f"({type(operator).__name__}) has no image-shaped mask; use mse instead"
            )
        weights = band_weights(mask.to(prediction.device), self.width, self.weight).to(prediction.dtype)
        return per_sample_mean((weights * (prediction - observation)) ** 2)
