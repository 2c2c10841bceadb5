"""A Gaussian blur forward model with an exact adjoint.

``A x = k * x`` (2-D convolution of each channel with the separable Gaussian
``k(u, v) = h(u) h(v)``, ``h(u) ∝ exp(-u² / 2σ²)`` on ``|u| <= radius``, normalised to sum 1),
with **zero** boundary: pixels outside the image count as 0, and the output has the image's
size. Zero padding makes ``A`` a symmetric (block-Toeplitz) matrix because ``k`` is
symmetric, so ``A* = A``. (Reflect or replicate padding would not be self-adjoint: their
adjoint folds the border back, and the adjointness test would catch it.)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from invprob.operator import NoiseModel, Operator


def gaussian_kernel_1d(sigma: float, radius: int) -> torch.Tensor:
    """The normalised 1-D Gaussian ``h`` on ``-radius..radius`` (float64)."""
    u = torch.arange(-radius, radius + 1, dtype=torch.float64)
    h = torch.exp(-(u**2) / (2 * sigma**2))
    return h / h.sum()


class GaussianBlur(Operator):
    """Blur every channel with a Gaussian of std ``sigma`` pixels (zero boundary, self-adjoint).

    Example::

        op = GaussianBlur(sigma=2.0)
        y = op(x, rng=torch.Generator().manual_seed(0))   # blurred (+ noise, if any)
        x_back = op.A_adjoint(y)                       # = op.A(y)
    """

    linear = True

    def __init__(self, sigma: float, radius: int | None = None, noise: NoiseModel | None = None):
        super().__init__(noise)
        if sigma <= 0:
            raise ValueError(f"the blur sigma must be positive, got {sigma}")
        radius = radius if radius is not None else max(1, math.ceil(3 * sigma))
        self.radius = radius
        # A buffer, not a parameter: it moves with .to(device) and is saved in state_dict.
        self.register_buffer("kernel", gaussian_kernel_1d(sigma, radius))

    def A(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"gaussian-blur takes images [B, C, H, W], got shape {list(x.shape)}")
        batch, channels, height, width = x.shape
        planes = x.reshape(batch * channels, 1, height, width)
        h = self.kernel.to(x.dtype)
        planes = F.conv2d(planes, h.view(1, 1, -1, 1), padding=(self.radius, 0))
        planes = F.conv2d(planes, h.view(1, 1, 1, -1), padding=(0, self.radius))
        return planes.reshape(batch, channels, height, width)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.A(y)
