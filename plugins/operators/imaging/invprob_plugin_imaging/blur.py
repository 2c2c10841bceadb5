"""Blur forward models: convolution with a kernel (Gaussian, motion, or given), and its adjoint.

``A(x) = k * x``, a true convolution (the kernel is flipped before ``conv2d``, which
correlates), applied to every channel with the same kernel. Two boundary conventions:

- ``valid`` (deepinv's default): only the outputs whose window lies inside the image, so the
  measurement is ``(H - kh + 1) x (W - kw + 1)`` and nothing is assumed about the outside;
- ``zeros``: the image is padded with zeros (0 is mid-grey in [-1, 1]) to keep ``H x W``;
  the kernel's sides must then be odd so that it centres on the pixel.

The adjoint is the transposed convolution with the same kernel and padding
(``conv_transpose2d``), exactly ``A^T`` for both conventions: correlation's adjoint scatters
each output back through the window it came from. For a non-symmetric kernel (motion blur)
this is not ``A`` itself; the conformance suite checks it on one.

Kernels (``gaussian_kernel``, ``motion_kernel``) sum to 1, so a flat image stays flat.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

from invprob.operator import NoiseModel, Operator

Padding = Literal["valid", "zeros"]


def gaussian_kernel(sigma: float | tuple[float, float], size: int | None = None) -> torch.Tensor:
    """A normalised 2-D Gaussian ``[size, size]`` (float64) with std ``sigma`` pixels, or
    ``(sigma_y, sigma_x)``; ``size`` defaults to ``2 * ceil(3 * max sigma) + 1``."""
    sigma_y, sigma_x = (sigma, sigma) if isinstance(sigma, (int, float)) else sigma
    if min(sigma_y, sigma_x) <= 0:
        raise ValueError(f"the Gaussian blur's sigma must be > 0 pixels, got {sigma}")
    size = size if size is not None else 2 * math.ceil(3 * max(sigma_y, sigma_x)) + 1
    if size < 1 or size % 2 == 0:
        raise ValueError(f"the Gaussian kernel size must be a positive odd number, got {size}")
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    rows = torch.exp(-0.5 * (offsets / sigma_y) ** 2)
    columns = torch.exp(-0.5 * (offsets / sigma_x) ** 2)
    kernel = rows[:, None] * columns[None, :]
    return kernel / kernel.sum()


def motion_kernel(length: float, angle: float, size: int | None = None) -> torch.Tensor:
    """A normalised linear motion kernel (float64): a segment of ``length`` pixels through the
    centre at ``angle`` degrees (counter-clockwise from the x axis), rasterised by sampling it
    densely and splatting each sample bilinearly. ``size`` (odd) defaults to the smallest that
    holds the segment."""
    if length <= 0:
        raise ValueError(f"the motion blur's length must be > 0 pixels, got {length}")
    size = size if size is not None else 2 * math.ceil(length / 2) + 1
    if size < 1 or size % 2 == 0:
        raise ValueError(f"the motion kernel size must be a positive odd number, got {size}")
    centre = (size - 1) / 2
    theta = math.radians(angle)
    steps = max(2, int(math.ceil(length * 8)) + 1)
    t = torch.linspace(-length / 2, length / 2, steps, dtype=torch.float64)
    xs, ys = centre + t * math.cos(theta), centre - t * math.sin(theta)  # image rows grow downwards
    kernel = torch.zeros(size, size, dtype=torch.float64)
    x0, y0 = xs.floor(), ys.floor()
    for dy in (0, 1):
        for dx in (0, 1):
            weight = (1 - (xs - x0 - dx).abs()) * (1 - (ys - y0 - dy).abs())
            col, row = (x0 + dx).long(), (y0 + dy).long()
            inside = (col >= 0) & (col < size) & (row >= 0) & (row < size)
            kernel.index_put_((row[inside], col[inside]), weight[inside], accumulate=True)
    return kernel / kernel.sum()


def check_kernel(kernel: torch.Tensor, padding: Padding) -> torch.Tensor:
    """``kernel`` as float64 ``[kh, kw]``, refused when it is empty, non-finite, sums to 0, or
    has an even side with ``zeros`` padding."""
    kernel = torch.as_tensor(kernel, dtype=torch.float64)
    if kernel.dim() != 2 or 0 in kernel.shape:
        raise ValueError(f"a blur kernel is a non-empty 2-D array [kh, kw], got shape {list(kernel.shape)}")
    if not torch.isfinite(kernel).all():
        raise ValueError("the blur kernel holds non-finite values")
    if padding == "zeros" and (kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0):
        raise ValueError(
            f"padding 'zeros' keeps the image size and needs odd kernel sides, got {list(kernel.shape)}; "
            "use padding 'valid' or an odd-sized kernel"
        )
    return kernel


class Blur(Operator):
    """Convolution of every channel of ``[B, C, H, W]`` with one kernel ``[kh, kw]``.

    Example::

        op = Blur(motion_kernel(length=9, angle=30), padding="valid")
        y = op.A(torch.zeros(2, 3, 64, 48))      # [2, 3, 56, 40]
        x = op.A_adjoint(y)                       # [2, 3, 64, 48]
    """

    linear = True

    def __init__(self, kernel: torch.Tensor, padding: Padding = "valid", noise: NoiseModel | None = None):
        super().__init__(noise)
        if padding not in ("valid", "zeros"):
            raise ValueError(f"blur padding must be 'valid' or 'zeros', got {padding!r}")
        self.padding = padding
        # float64 so that float64 images get exact weights; flipped: conv2d correlates
        self.register_buffer("weight", check_kernel(kernel, padding).flip(0, 1)[None, None].contiguous())

    @property
    def kernel(self) -> torch.Tensor:
        """The convolution kernel ``[kh, kw]`` (as given, not flipped)."""
        return self.weight[0, 0].flip(0, 1)

    def _pad(self) -> tuple[int, int]:
        kh, kw = self.weight.shape[-2:]
        return (0, 0) if self.padding == "valid" else (kh // 2, kw // 2)

    def _weight(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight.to(x.dtype).expand(x.shape[1], 1, *self.weight.shape[-2:])

    def A(self, x: torch.Tensor) -> torch.Tensor:
        kh, kw = self.weight.shape[-2:]
        if self.padding == "valid" and (x.shape[-2] < kh or x.shape[-1] < kw):
            raise ValueError(
                f"the blur kernel ({kh} x {kw}) is larger than the image ({x.shape[-2]} x {x.shape[-1]}) "
                "with padding 'valid'; use a smaller kernel or padding 'zeros'"
            )
        return F.conv2d(x, self._weight(x), padding=self._pad(), groups=x.shape[1])

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(y, self._weight(y), padding=self._pad(), groups=y.shape[1])
