"""Image-quality metrics between reconstructions and ground truth, per image.

Images are ``[B, C, H, W]`` in [-1, 1]; every metric is computed on the [0, 1] scale (data
range 1), as the papers report them. SSIM follows Wang et al. (2004): an 11x11 Gaussian window
with sigma 1.5, K1 = 0.01, K2 = 0.03, averaged over channels and valid positions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F


def _unit(x: torch.Tensor) -> torch.Tensor:
    return ((x.detach().to(torch.float64) + 1) / 2).clamp(0, 1)


def mse(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image on the [0, 1] scale."""
    diff = _unit(reconstruction) - _unit(target)
    return diff.pow(2).reshape(diff.shape[0], -1).mean(dim=1)


def psnr(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, data range 1 (inf for identical images)."""
    return -10 * torch.log10(mse(reconstruction, target))


def _gaussian_window(size: int, sigma: float, channels: int) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(reconstruction: torch.Tensor, target: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004), data range 1.

    The window shrinks to the image size for images smaller than 11 pixels.
    """
    x, y = _unit(reconstruction), _unit(target)
    channels = x.shape[1]
    size = min(window, x.shape[-1], x.shape[-2])
    kernel = _gaussian_window(size, sigma, channels).to(x.device)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel, groups=channels)

    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.reshape(ssim_map.shape[0], -1).mean(dim=1)


class MetricUnavailable(RuntimeError):
    """A metric cannot be computed here (e.g. LPIPS without its backbone weights)."""


def lpips_metric() -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """LPIPS (AlexNet) per image, or :class:`MetricUnavailable` saying what is missing."""
    try:
        from invprob.lpips_loss import build_lpips  # type: ignore[attr-defined]
    except ImportError as exc:
        raise MetricUnavailable(f"LPIPS support is not available: {exc}") from None
    try:
        model = build_lpips()
    except Exception as exc:  # noqa: BLE001 - any failure means the metric is unavailable
        raise MetricUnavailable(str(exc).splitlines()[0]) from None

    @torch.no_grad()
    def compute(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        model.to(reconstruction.device)
        return model(reconstruction.float(), target.float()).reshape(reconstruction.shape[0]).double()

    return compute


BUILTIN: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {"psnr": psnr, "ssim": ssim, "mse": mse}


class MetricSet:
    """The metrics a recipe asks for; those that are unavailable are noted, not fatal."""

    def __init__(self, names: Iterable[str]):
        self.functions: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {}
        self.unavailable: dict[str, str] = {}
        for name in names:
            if name in BUILTIN:
                self.functions[name] = BUILTIN[name]
            elif name == "lpips":
                try:
                    self.functions[name] = lpips_metric()
                except MetricUnavailable as exc:
                    self.unavailable[name] = str(exc)
            else:
                raise ValueError(f"unknown metric {name!r}")

    def __call__(self, reconstruction: torch.Tensor, target: torch.Tensor) -> dict[str, list[float | None]]:
        out: dict[str, list[float | None]] = {}
        for name, function in self.functions.items():
            values = function(reconstruction, target).tolist()
            out[name] = [None if math.isinf(v) or math.isnan(v) else float(v) for v in values]
        return out
