"""The core's own components (distribution ``invprob``): the basic losses.

Like any plugin module, this one imports nothing heavy: factories import on first build.
"""

from __future__ import annotations

from pydantic import Field

from invprob.hookspecs import hookimpl
from invprob.params import OddWindow, Params
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


def _context(params: ContextParams, context: object):
    from invprob.context_loss import ContextLoss

    return ContextLoss(window=params.window)


@hookimpl
def invprob_register_losses(registry: ComponentRegistry) -> None:
    registry.add("mse", _mse, params_model=MSEParams)
    registry.add("l1", _l1, params_model=L1Params)
    registry.add("context", _context, params_model=ContextParams, examples=[{}, {"window": 3}])
