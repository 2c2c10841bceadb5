"""Image-quality metrics between reconstructions and ground truth, per image.

A metric is a component like a loss: a plugin registers it with
``invprob_register_metrics(registry)`` and :func:`build_metrics` builds the ones a run asks
for. A built metric is a :class:`Metric` (``forward(reconstruction, target) -> [B]``); a
factory that cannot work here (missing weights) raises :class:`MetricUnavailable`, and the run
records the reason instead of the values.

Images are ``[B, C, H, W]`` in [-1, 1]; PSNR, SSIM and MSE are computed on the [0, 1] scale
(data range 1), as the papers report them. SSIM follows Wang et al. (2004): an 11x11 Gaussian
window with sigma 1.5, K1 = 0.01, K2 = 0.03, averaged over channels and valid positions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from invprob.params import needs_no_params

if TYPE_CHECKING:
    from invprob.context import BuildContext
    from invprob.registry import Registry


class Metric(nn.Module):
    """A per-image quality score: ``forward(reconstruction, target)`` returns shape ``[B]``.

    Both inputs are ``[B, C, H, W]`` in [-1, 1]. ``higher_is_better`` says which way is better
    (True for PSNR and SSIM, False for MSE and LPIPS). A metric never needs gradients.
    """

    higher_is_better: ClassVar[bool]

    def forward(self, reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class MetricUnavailable(RuntimeError):
    """A metric cannot be computed here; the message says why and what would fix it.

    Raised by a metric's factory (LPIPS without its backbone weights): the run goes on without
    the metric and records the reason under ``unavailable`` in ``metrics.json``.
    """


def _unit(x: torch.Tensor) -> torch.Tensor:
    return ((x.detach().to(torch.float64) + 1) / 2).clamp(0, 1)


def mse(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image on the [0, 1] scale."""
    diff = _unit(reconstruction) - _unit(target)
    return diff.pow(2).reshape(diff.shape[0], -1).mean(dim=1)


def psnr(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, data range 1 (inf for identical images)."""
    return -10 * torch.log10(mse(reconstruction, target))


def mse_in_region(reconstruction: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image on the [0, 1] scale over the pixels where ``region`` is 1.

    ``region`` is broadcastable to ``[B, C, H, W]`` (an operator's mask is ``[1 or B, 1 or C,
    H, W]``). For inpainting, ``region = 1 - observed_mask`` gives the error over the missing
    pixels only, the number inpainting papers report (LCM's Table 1): the observed pixels,
    copied or nearly so, would otherwise shrink it. NaN for an image whose region is empty.
    """
    diff = _unit(reconstruction) - _unit(target)
    weight = (region.detach() > 0.5).to(diff.dtype).expand_as(diff)
    squared = (diff.pow(2) * weight).reshape(diff.shape[0], -1).sum(dim=1)
    count = weight.reshape(diff.shape[0], -1).sum(dim=1)
    return squared / count  # 0 / 0 = NaN: no missing pixel


def psnr_in_region(reconstruction: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image over the pixels where ``region`` is 1, data range 1
    (:func:`mse_in_region`): NaN for an image whose region is empty, inf where the region is
    reproduced exactly."""
    return -10 * torch.log10(mse_in_region(reconstruction, target, region))


def _gaussian_kernel_1d(size: int, sigma: float) -> list[float]:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return (g / g.sum()).tolist()


def _blur_valid(t: torch.Tensor, kernel: list[float], dim: int) -> torch.Tensor:
    """``t`` convolved along ``dim`` with the 1-D ``kernel``, valid positions only: a weighted sum
    of ``len(kernel)`` shifted views, accumulated in place (float64 convolutions in torch take a
    slow generic path on the CPU; this stays vectorised)."""
    count = t.shape[dim] - len(kernel) + 1
    out = t.narrow(dim, 0, count) * kernel[0]
    for shift, weight in enumerate(kernel[1:], start=1):
        out.add_(t.narrow(dim, shift, count), alpha=weight)
    return out


def ssim(reconstruction: torch.Tensor, target: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004), data range 1.

    The 2-D Gaussian window is the outer product of a 1-D one, so each local mean is two 1-D
    passes (rows, then columns: 2 * 11 instead of 11 * 11 products per pixel), done at once for
    the five local statistics (of x, y, x², y², xy). The result equals the 2-D form to
    rounding (float64 throughout). The window shrinks to the image size for images smaller
    than 11 pixels.
    """
    x, y = _unit(reconstruction), _unit(target)
    channels = x.shape[1]
    size = min(window, x.shape[-1], x.shape[-2])
    kernel = _gaussian_kernel_1d(size, sigma)
    maps = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # [B, 5C, H, W]
    blurred = _blur_valid(_blur_valid(maps, kernel, dim=-2), kernel, dim=-1)
    mu_x, mu_y, xx, yy, xy = blurred.split(channels, dim=1)

    c1, c2 = 0.01**2, 0.03**2
    var_x = xx - mu_x**2
    var_y = yy - mu_y**2
    cov = xy - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.reshape(ssim_map.shape[0], -1).mean(dim=1)


class PSNR(Metric):
    """Peak signal-to-noise ratio in dB, data range 1 (inf for identical images)."""

    higher_is_better = True

    def forward(self, reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return psnr(reconstruction, target)


class SSIM(Metric):
    """Structural similarity (Wang et al. 2004), 11x11 Gaussian window, sigma 1.5, data range 1."""

    higher_is_better = True

    def forward(self, reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ssim(reconstruction, target)


class MSE(Metric):
    """Mean squared error on the [0, 1] scale."""

    higher_is_better = False

    def forward(self, reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return mse(reconstruction, target)


def build_metrics(
    names: list[str], registry: Registry, context: BuildContext
) -> tuple[dict[str, Metric], dict[str, str]]:
    """Build the metrics ``names`` on ``context.device``: ``(built, unavailable)``.

    (What a recipe without ``metrics:`` asks for is the recipe layer's to say:
    :func:`invprob.recipe.default_metric_names`.) ``unavailable`` maps the name of each metric whose factory raised
    :class:`MetricUnavailable` to the reason. An unknown name raises the registry's
    ``UnknownComponentError`` (with did-you-mean); a named metric that needs params, or a
    factory that returns something other than a :class:`Metric`, is a ``ValueError``/``TypeError``.
    """
    built: dict[str, Metric] = {}
    unavailable: dict[str, str] = {}
    for name in names:
        component = registry.get("metrics", name)
        if not needs_no_params(component.params_model):
            raise ValueError(
                f"metric {name!r} of {component.distribution} needs params, and a recipe's metrics "
                "are given by name only; choose another metric"
            )
        try:
            metric = component.build({}, context)
        except MetricUnavailable as exc:
            unavailable[name] = str(exc)
            continue
        if not isinstance(metric, Metric):
            raise TypeError(
                f"the factory of metric {name!r} ({component.distribution}) returned a "
                f"{type(metric).__qualname__}, not an invprob.metrics.Metric"
            )
        built[name] = metric.to(context.device).eval().requires_grad_(False)
    return built, unavailable


@torch.no_grad()
def evaluate(
    metrics: dict[str, Metric], reconstruction: torch.Tensor, target: torch.Tensor
) -> dict[str, list[float | None]]:
    """Each metric per image, as JSON-ready floats (``None`` where a value is inf or NaN)."""
    out: dict[str, list[float | None]] = {}
    for name, metric in metrics.items():
        values = metric(reconstruction, target).tolist()
        out[name] = [None if math.isinf(v) or math.isnan(v) else float(v) for v in values]
    return out
