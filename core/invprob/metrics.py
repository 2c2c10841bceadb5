"""The metric contract: image-quality scores between reconstructions and ground truth, per image.

A metric is a component like a loss: a plugin registers it with
``invprob_register_metrics(registry)`` and :func:`build_metrics` builds the ones a run asks
for. A built metric is a :class:`Metric` (``forward(reconstruction, target) -> [B]``); a
factory that cannot work here (missing weights) raises :class:`MetricUnavailable`, and the run
records the reason instead of the values. The core's own PSNR, SSIM and MSE are a default
plugin (:mod:`invprob.default_plugins.image_quality`).
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
