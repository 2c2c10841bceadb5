"""The core's own components (distribution ``invprob``): the basic losses.

Like any plugin module, this one imports nothing heavy: factories import on first build.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from invprob.hookspecs import hookimpl
from invprob.params import OddWindow, Params, RecipePath
from invprob.registry import ComponentRegistry, NoParams


class MSEParams(NoParams):
    """Mean squared error between ``A(x)`` and ``y``."""


class L1Params(NoParams):
    """Mean absolute error between ``A(x)`` and ``y``."""


def _mse(params: MSEParams, context: object):
    from invprob.losses import MSELoss

    return MSELoss()


def _l1(params: L1Params, context: object):
    from invprob.losses import L1Loss

    return L1Loss()


class ContextParams(Params):
    """Importance-weighted L1 context loss of Yeh et al. (eq. 3-4) for inpainting."""

    window: OddWindow = Field(7, description="odd side of the square neighbourhood N(i), in pixels")


class LPIPSParams(Params):
    """LPIPS perceptual distance (pip 'lpips' weights) between A(x) and y."""

    net: Literal["alex", "vgg"] = Field("alex", description="backbone; alex needs >= 31x31, vgg >= 16x16")
    backbone_weights: RecipePath | None = Field(
        None, description="torchvision ImageNet checkpoint; default: the torch hub cache"
    )
    lin_weights: RecipePath | None = Field(
        None, description="LPIPS linear weights; default: those shipped in the lpips package"
    )
    random_backbone: bool = Field(
        False, description="random backbone weights: for testing the code path only, not perceptual"
    )


def _context(params: ContextParams, context: object):
    from invprob.context_loss import ContextLoss

    return ContextLoss(window=params.window)


def _lpips(params: LPIPSParams, context: object):
    from invprob.lpips_loss import build_lpips

    return build_lpips(params.net, params.backbone_weights, params.lin_weights, params.random_backbone)


@hookimpl
def invprob_register_losses(registry: ComponentRegistry) -> None:
    registry.add("mse", _mse, params_model=MSEParams)
    registry.add("l1", _l1, params_model=L1Params)
    registry.add("context", _context, params_model=ContextParams, examples=[{}, {"window": 3}])
    registry.add("lpips", _lpips, params_model=LPIPSParams, examples=[{"net": "vgg", "random_backbone": True}])


# Placeholder until the metrics default plugin (core/invprob/default_plugins/metrics.py) lands:
# registers the metric names recipes use so that recipe validation (against the registry's
# ``metrics`` kind) passes on this branch. Drop at the merge in favour of the real plugin.
def _metric(name: str):
    def build(params: NoParams, context: object):
        from invprob.metrics import BUILTIN, lpips_metric

        return BUILTIN[name] if name in BUILTIN else lpips_metric()

    return build


@hookimpl
def invprob_register_metrics(registry: ComponentRegistry) -> None:
    for name in ("psnr", "ssim", "mse", "lpips"):
        registry.add(name, _metric(name), params_model=NoParams, description=f"{name} (placeholder registration)")
