"""1-D antialiased downsampling filters as explicit matrices, so the adjoint is the transpose.

A downsampling by an integer factor ``f`` along one axis of length ``L`` is the matrix
``W`` of shape ``[L / f, L]`` with

    W[o, j] = k((j + 0.5 - c_o) / f) / sum_j' k((j' + 0.5 - c_o) / f),   c_o = (o + 0.5) f,

for the kernel ``k`` stretched by ``f`` (the antialiasing), restricted to the pixels inside
the image and renormalised to sum to 1 — exactly what PIL's ``Image.resize`` and
``torch.nn.functional.interpolate(..., antialias=True)`` compute for a downscale. Kernels:

- ``bicubic``: Keys' cubic convolution with ``a = -0.5`` (support 2), as PIL and PULSE/ILO.
  PULSE's ``BicubicDownSample`` uses the same interior weights and reflects at the borders;
  here the border rows are renormalised as in PIL/torch.
- ``lanczos3``: ``sinc(t) sinc(t / 3)`` for ``|t| < 3`` (LCM's super-resolution operator).
- ``box``: the mean of each ``f x f`` block (area downsampling).

Factor 1 is the identity matrix exactly (the operator skips the product altogether).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch

Method = Literal["bicubic", "lanczos3", "box"]


def keys_cubic(t: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """Keys (1981) cubic convolution kernel with parameter ``a``."""
    t = t.abs()
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return torch.where(t <= 1, near, torch.where(t < 2, far, torch.zeros_like(t)))


def lanczos3(t: torch.Tensor) -> torch.Tensor:
    """Lanczos kernel with 3 lobes: ``sinc(t) sinc(t / 3)`` on ``|t| < 3``."""
    return torch.where(t.abs() < 3, torch.sinc(t) * torch.sinc(t / 3), torch.zeros_like(t))


def box(t: torch.Tensor) -> torch.Tensor:
    """Box kernel on ``(-0.5, 0.5]`` (PIL's convention for the half-open end)."""
    return ((t > -0.5) & (t <= 0.5)).to(t.dtype)


KERNELS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], float]] = {
    "bicubic": (keys_cubic, 2.0),
    "lanczos3": (lanczos3, 3.0),
    "box": (box, 0.5),
}
"""Kernel function and support radius (in output pixels) by method name."""


def downsample_matrix(length: int, factor: int, method: Method, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The ``[length // factor, length]`` matrix that downsamples one axis by ``factor``."""
    if factor < 1:
        raise ValueError(f"the downsampling factor must be a positive integer, got {factor}")
    if length % factor:
        raise ValueError(f"the factor {factor} does not divide the length {length}")
    if method not in KERNELS:
        raise ValueError(f"unknown downsampling method {method!r}; use one of {', '.join(KERNELS)}")
    if factor == 1:
        return torch.eye(length, dtype=dtype)
    kernel, _ = KERNELS[method]
    centres = (torch.arange(length // factor, dtype=torch.float64) + 0.5) * factor
    pixels = torch.arange(length, dtype=torch.float64) + 0.5
    weights = kernel((pixels[None, :] - centres[:, None]) / factor)
    return (weights / weights.sum(dim=1, keepdim=True)).to(dtype)
