"""The entry point: the ``lpips`` loss and the ``lpips`` metric (heavy imports happen on build)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from invprob import hookimpl
from invprob.params import Params, RecipePath

if TYPE_CHECKING:
    from invprob.context import BuildContext
    from invprob.registry import ComponentRegistry

Backbone = Literal["alex", "vgg"]


class _BackboneParams(Params):
    net: Backbone = Field("alex", description="backbone; alex needs >= 31x31, vgg >= 16x16")
    backbone_weights: RecipePath | None = Field(
        None, description="torchvision ImageNet checkpoint; default: the torch hub cache"
    )


class LPIPSLossParams(_BackboneParams):
    """LPIPS perceptual distance (pip 'lpips' weights) between A(x) and y."""

    lin_weights: RecipePath | None = Field(
        None, description="LPIPS linear weights; default: those shipped in the lpips package"
    )
    random_backbone: bool = Field(
        False, description="random backbone weights: for testing the code path only, not perceptual"
    )
    size: int | None = Field(
        None, ge=16, description="resize both sides to size x size before comparing (ILO: 256); default: as they are"
    )


class LPIPSFillLossParams(LPIPSLossParams):
    """LPIPS for inpainting: the observation's missing pixels are taken from the generated image first."""

    needs_mask = True  # replaces the pixels the operator's mask says are missing


class LPIPSMetricParams(_BackboneParams):
    """LPIPS perceptual distance of the reconstruction to the ground truth (lower is better)."""


def _build_loss(params: LPIPSLossParams, context: BuildContext):
    from .loss import build_lpips

    return build_lpips(
        params.net, params.backbone_weights, params.lin_weights, params.random_backbone, size=params.size
    )


def _build_fill_loss(params: LPIPSFillLossParams, context: BuildContext):
    from .loss import build_lpips

    return build_lpips(
        params.net, params.backbone_weights, params.lin_weights, params.random_backbone, size=params.size, fill=True
    )


def _build_metric(params: LPIPSMetricParams, context: BuildContext):
    from invprob.metrics import MetricUnavailable
    from invprob.weights import WeightsNotFoundError

    from .loss import MIN_SIZE, build_lpips
    from .metric import LPIPSMetric

    shape = context.image_shape
    if shape is not None and min(shape[-2:]) < MIN_SIZE[params.net]:
        raise MetricUnavailable(
            f"LPIPS ({params.net}) needs images at least {MIN_SIZE[params.net]}x{MIN_SIZE[params.net]}, "
            f"these are {shape[-2]}x{shape[-1]}"
        )
    try:
        network = build_lpips(params.net, params.backbone_weights)
    except WeightsNotFoundError as exc:
        raise MetricUnavailable(str(exc)) from None
    return LPIPSMetric(network)


@hookimpl
def invprob_register_losses(registry: ComponentRegistry) -> None:
    registry.add(
        "lpips",
        _build_loss,
        params_model=LPIPSLossParams,
        examples=[{"net": "vgg", "random_backbone": True}, {"net": "vgg", "random_backbone": True, "size": 32}],
    )
    registry.add(
        "lpips-fill",
        _build_fill_loss,
        params_model=LPIPSFillLossParams,
        examples=[{"net": "vgg", "random_backbone": True}],
    )


@hookimpl
def invprob_register_metrics(registry: ComponentRegistry) -> None:
    registry.add("lpips", _build_metric, params_model=LPIPSMetricParams)
