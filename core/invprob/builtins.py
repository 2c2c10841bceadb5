"""The core's own components (distribution ``invprob``): the basic losses.

Like any plugin module, this one imports nothing heavy: factories import on first build.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from invprob.hookspecs import hookimpl
from invprob.params import Params, RecipePath
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


def _lpips(params: LPIPSParams, context: object):
    from invprob.lpips_loss import build_lpips

    return build_lpips(params.net, params.backbone_weights, params.lin_weights, params.random_backbone)


@hookimpl
def invprob_register_losses(registry: ComponentRegistry) -> None:
    registry.add("mse", _mse, params_model=MSEParams)
    registry.add("l1", _l1, params_model=L1Params)
    registry.add("lpips", _lpips, params_model=LPIPSParams, examples=[{"net": "vgg", "random_backbone": True}])
