"""The two low-level operations of StyleGAN2, in plain PyTorch (nothing compiled).

``upfirdn2d(x, K, up, down, pad)`` upsamples, filters and downsamples every channel alone:

1. insert ``up - 1`` zeros after every sample along H and W (length ``H * up``);
2. zero-pad ``pad[0]`` before and ``pad[1]`` after each spatial axis (negative values crop);
3. convolve with ``K`` in "valid" mode as a true convolution (correlation with ``K`` flipped);
4. keep every ``down``-th sample from index 0.

The output length is ``(H * up + pad0 + pad1 - kh) // down + 1``. :func:`upfirdn2d_native`
is rosinality's ``upfirdn2d_native``, the path its CUDA kernel is checked against, step by
step. :func:`upfirdn2d` computes the same thing faster where it can: an upsampling is one
strided transposed convolution (no zero-stuffed tensor), a plain filter pads inside the
convolution, and both are depthwise (``groups = C``), which CPU and GPU kernels run far faster
than upstream's single-channel convolution over ``[B * C, 1, H, W]``. Inside ``with reference_formulation():`` every op of this plugin takes the
upstream path instead (the benchmark compares the two).

``fused_leaky_relu(x, bias)`` is ``leaky_relu(x + bias, 0.2) * sqrt(2)``: the bias is added
per channel (axis 1) before the activation, and the gain sqrt(2) keeps the variance.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

import torch
import torch.nn.functional as F

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2)


def make_kernel(taps: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """The 2-D FIR kernel ``outer(k, k) / sum`` (a 1-D ``k``) or ``K / sum`` (a 2-D ``K``)."""
    kernel = torch.as_tensor(taps, dtype=torch.float32)
    if kernel.dim() == 1:
        kernel = kernel[None, :] * kernel[:, None]
    return kernel / kernel.sum()


_REFERENCE: ContextVar[bool] = ContextVar("stylegan2_reference_formulation", default=False)


@contextlib.contextmanager
def reference_formulation(enabled: bool = True) -> Iterator[None]:
    """Run upstream's formulation (grouped modulated convs, step-by-step upfirdn2d) inside the block."""
    token = _REFERENCE.set(enabled)
    try:
        yield
    finally:
        _REFERENCE.reset(token)


def using_reference() -> bool:
    return _REFERENCE.get()


def upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """Upsample by ``up`` (zero insertion), pad, filter with ``kernel``, keep every ``down``-th sample.

    The zero insertion and the true convolution together are a transposed convolution with
    stride ``up`` and the unflipped kernel; its ``padding`` crops ``kh - 1 - pad0`` at both ends,
    which gives the same samples when ``pad0 - pad1 == up - 1`` (as in every StyleGAN2 call).
    """
    kh, kw = kernel.shape
    pad0, pad1 = pad
    if not using_reference() and kh == kw and down == 1:
        channels = x.shape[1]
        weight = kernel.to(x.dtype)[None, None].expand(channels, 1, kh, kw)  # depthwise: one filter per channel
        if up > 1 and pad0 - pad1 == up - 1 and 0 <= kh - 1 - pad0:
            return F.conv_transpose2d(x, weight, stride=up, padding=kh - 1 - pad0, groups=channels)
        if up == 1 and pad0 == pad1 >= 0:
            return F.conv2d(x, torch.flip(weight, [2, 3]), padding=pad0, groups=channels)
    return upfirdn2d_native(x, kernel, up, down, pad)


def upfirdn2d_native(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """:func:`upfirdn2d` step by step (zero insertion, pad, filter, subsample), as upstream's fallback."""
    batch, channels, height, width = x.shape
    out = x.reshape(batch * channels, 1, height, width)
    if up > 1:
        out = out.reshape(batch * channels, 1, height, 1, width, 1)
        out = F.pad(out, [0, up - 1, 0, 0, 0, up - 1])
        out = out.reshape(batch * channels, 1, height * up, width * up)
    pad0, pad1 = pad
    out = F.pad(out, [pad0, pad1, pad0, pad1])  # negative padding crops
    weight = torch.flip(kernel, [0, 1]).to(out.dtype)[None, None]
    out = F.conv2d(out, weight)
    if down > 1:
        out = out[:, :, ::down, ::down]
    return out.reshape(batch, channels, out.shape[2], out.shape[3])


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor | None = None, scale: float = LRELU_GAIN) -> torch.Tensor:
    """``leaky_relu(x + bias, 0.2) * scale``, the bias broadcast over axis 1."""
    if bias is not None:
        x = x + bias.reshape(1, -1, *([1] * (x.dim() - 2)))
    return F.leaky_relu(x, LRELU_SLOPE) * scale
