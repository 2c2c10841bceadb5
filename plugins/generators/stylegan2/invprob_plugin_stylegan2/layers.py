"""The building blocks of StyleGAN2, one small module per concept, named as in rosinality's ``model.py``.

Module and parameter names are those of rosinality's checkpoints (``modulation.weight``,
``noise.weight``, ``activate.bias``, ``blur.kernel``...), so a state dict loads with
``strict=True``. Parameters are stored unscaled and scaled at run time (*equalised learning
rate*): a linear layer with ``n`` inputs uses ``weight * lr_mul / sqrt(n)`` and ``bias * lr_mul``;
a convolution uses ``weight / sqrt(in * k * k)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .ops import fused_leaky_relu, make_kernel, upfirdn2d, using_reference


class PixelNorm(nn.Module):
    """Each row divided by the root mean square of its features (``+ 1e-8``): the mapping's input norm."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)


class FusedLeakyReLU(nn.Module):
    """Per-channel ``bias`` then ``leaky_relu(0.2) * sqrt(2)``, then, with ``clamp``, clamped to ``±clamp``.

    ``clamp`` is stylegan2-ada-pytorch's ``conv_clamp`` (its ``bias_act``: bias, activation,
    gain, then clamp); rosinality has none (``None``).
    """

    def __init__(self, channels: int, clamp: float | None = None):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.clamp = clamp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return clamp_activations(fused_leaky_relu(x, self.bias), self.clamp)


def clamp_activations(x: torch.Tensor, clamp: float | None) -> torch.Tensor:
    """``x`` clamped to ``±clamp`` (NVlabs' ``conv_clamp``); unchanged for ``None``."""
    return x if clamp is None else x.clamp(-clamp, clamp)


class EqualLinear(nn.Module):
    """A linear layer with equalised learning rate: ``x @ (W * lr_mul / sqrt(in)).T + b * lr_mul``.

    With ``activation=True`` the bias goes into the fused leaky ReLU (``fused_lrelu``).
    """

    def __init__(
        self, in_dim: int, out_dim: int, *, bias_init: float = 0.0, lr_mul: float = 1.0, activation: bool = False
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    """A convolution with equalised learning rate: weight ``[out, in, k, k] / sqrt(in * k * k)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1, padding: int = 0, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.stride = stride
        self.padding = padding
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class Blur(nn.Module):
    """The FIR low-pass filter (``upfirdn2d`` with no resampling), gain ``factor**2`` after a ×factor upsampling."""

    def __init__(self, taps: Sequence[int], pad: tuple[int, int], upsample_factor: int = 1):
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps) * upsample_factor**2)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """×``factor`` upsampling by zero insertion and the FIR filter (gain ``factor**2``): the RGB skip's."""

    def __init__(self, taps: Sequence[int], factor: int = 2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(taps) * factor**2)
        p = len(taps) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class ModulatedConv2d(nn.Module):
    """The style-modulated convolution of StyleGAN2 (section 2.2 of Karras et al. 2020).

    With ``s = modulation(w)`` (an :class:`EqualLinear` ``style_dim -> in`` whose bias starts
    at 1), sample ``b`` is convolved with its own weight::

        W'[b, o, i]  = weight[0, o, i] / sqrt(in * k * k) * s[b, i]
        W''[b, o]    = W'[b, o] / sqrt(sum_{i, kh, kw} W'[b, o]**2 + 1e-8)     (if demodulate)

    Upstream folds the batch into channel groups (``groups = B``) and convolves with the
    per-sample weights (:meth:`forward_grouped`; used for a batch of one and inside
    :func:`~invprob_plugin_stylegan2.ops.reference_formulation`). For a larger batch the same
    result is computed with one shared weight (:meth:`forward_shared`): the input is scaled
    by ``s * scale`` per input channel, convolved with ``weight``, and the output scaled by the
    demodulation factor ``d[b, o] = rsqrt(sum_i s[b, i]**2 * scale**2 * sum_k weight[o, i, k]**2 + 1e-8)``,
    which is exactly the norm of ``W'[b, o]``.

    With ``upsample`` the convolution is transposed with stride 2 (``H -> 2H + 1`` for 3×3)
    and followed by :class:`Blur` (gain 4), which brings it to ``2H``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        style_dim: int,
        *,
        demodulate: bool = True,
        upsample: bool = False,
        blur_kernel: Sequence[int] = (1, 3, 3, 1),
    ):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.upsample = upsample
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 1 or using_reference():
            return self.forward_grouped(x, w)
        return self.forward_shared(x, w)

    def forward_shared(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """One convolution with the shared weight; the style and demodulation scale activations."""
        batch = x.shape[0]
        style = self.modulation(w) * self.scale  # [B, in]
        weight = self.weight[0]  # [out, in, k, k]
        x = x * style[:, :, None, None]
        if self.upsample:
            out = self.blur(F.conv_transpose2d(x, weight.transpose(0, 1), padding=0, stride=2))
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            demod = torch.rsqrt(style.pow(2) @ weight.pow(2).sum([2, 3]).T + 1e-8)  # [B, out]
            out = out * demod.reshape(batch, -1, 1, 1)
        return out

    def forward_grouped(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Upstream's formulation: per-sample modulated, demodulated weights, batch folded into groups."""
        batch, in_channels, height, width = x.shape
        style = self.modulation(w).reshape(batch, 1, in_channels, 1, 1)
        weight = self.scale * self.weight * style  # [B, out, in, k, k]
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4], keepdim=True) + 1e-8)
        k = self.kernel_size
        x = x.reshape(1, batch * in_channels, height, width)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(batch * in_channels, self.out_channels, k, k)
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=batch)
            out = out.reshape(batch, self.out_channels, out.shape[2], out.shape[3])
            return self.blur(out)
        weight = weight.reshape(batch * self.out_channels, in_channels, k, k)
        out = F.conv2d(x, weight, padding=self.padding, groups=batch)
        return out.reshape(batch, self.out_channels, out.shape[2], out.shape[3])


class NoiseInjection(nn.Module):
    """``x + weight * noise``: one learned scalar, the noise map ``[B or 1, 1, H, W]`` shared by all channels."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return x + self.weight * noise


class ConstantInput(nn.Module):
    """The learned 4×4 constant the synthesis starts from, tiled over the batch."""

    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


class StyledConv(nn.Module):
    """Modulated 3×3 convolution, then noise, then bias and leaky ReLU (the noise goes in before the bias),
    then NVlabs' ``conv_clamp`` where set."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        style_dim: int,
        *,
        upsample: bool = False,
        blur_kernel: Sequence[int] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ):
        super().__init__()
        self.conv = ModulatedConv2d(
            in_channels, out_channels, kernel_size, style_dim, upsample=upsample, blur_kernel=blur_kernel
        )
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channels, conv_clamp)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, w), noise))


class ToRGB(nn.Module):
    """A 1×1 modulated convolution to RGB (no demodulation) plus bias, clamped to ``±conv_clamp`` where
    set (NVlabs' ``ToRGBLayer``); adds the upsampled previous skip (which is not clamped)."""

    def __init__(
        self,
        in_channels: int,
        style_dim: int,
        *,
        upsample: bool = True,
        blur_kernel: Sequence[int] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channels, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = clamp_activations(self.conv(x, w) + self.bias, self.conv_clamp)
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ConvLayer(nn.Sequential):
    """The discriminator's convolution: [Blur] EqualConv2d [FusedLeakyReLU] (keys ``0``, ``1``, ``2``).

    With ``downsample`` the FIR filter (unit gain) comes first, then a stride-2 convolution.
    ``conv_clamp`` (NVlabs; only with ``activate``) clamps the activation's output to ``±conv_clamp``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        downsample: bool = False,
        blur_kernel: Sequence[int] = (1, 3, 3, 1),
        bias: bool = True,
        activate: bool = True,
        conv_clamp: float | None = None,
    ):
        layers: list[nn.Module] = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(
            EqualConv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias and not activate)
        )
        if activate:
            layers.append(FusedLeakyReLU(out_channels, conv_clamp))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """The discriminator's residual block: ``(conv2(conv1(x)) + skip(x)) / sqrt(2)``, halving the resolution.

    With ``conv_clamp``, ``conv1`` and ``conv2`` clamp at ``±conv_clamp`` before the division:
    NVlabs' ``conv1`` clamps at ``±conv_clamp * sqrt(0.5)`` after its gain ``sqrt(2) * sqrt(0.5)``,
    the same function; the skip is never clamped (NVlabs builds it without ``conv_clamp``).
    """

    def __init__(
        self, in_channels: int, out_channels: int, blur_kernel: Sequence[int] = (1, 3, 3, 1), conv_clamp: float | None = None
    ):
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3, conv_clamp=conv_clamp)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, downsample=True, blur_kernel=blur_kernel, conv_clamp=conv_clamp)
        self.skip = ConvLayer(
            in_channels, out_channels, 1, downsample=True, blur_kernel=blur_kernel, activate=False, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


def minibatch_stddev(x: torch.Tensor, group_size: int | None = 4, features: int = 1) -> torch.Tensor:
    """Append the minibatch standard deviation as ``features`` extra channels.

    ``G = min(B, group_size)`` (``B`` for ``group_size=None``, NVlabs' "the whole batch") must divide ``B``. Sample ``b`` belongs to sub-group
    ``b mod (B / G)`` (strided). Per sub-group: the population std over the group (``+ 1e-8``
    inside the root), averaged over channels and pixels, appended as a constant channel.
    """
    batch, channels, height, width = x.shape
    group = batch if group_size is None else min(batch, group_size)
    if batch % group:
        raise ValueError(f"the discriminator's minibatch stddev needs a batch divisible by {group}, got {batch}")
    std = x.reshape(group, -1, features, channels // features, height, width)
    std = torch.sqrt(std.var(0, unbiased=False) + 1e-8)
    std = std.mean([2, 3, 4], keepdim=True).squeeze(2)
    std = std.repeat(group, 1, height, width)
    return torch.cat([x, std], 1)
