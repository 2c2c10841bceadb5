"""The basic data-fidelity losses: ``mse`` and ``l1`` between ``A(x)`` and ``y``."""

from __future__ import annotations

from invprob.hookspecs import hookimpl
from invprob.params import Params
from invprob.registry import ComponentRegistry


class MSEParams(Params):
    """Mean squared error between A(x) and y."""


class L1Params(Params):
    """Mean absolute error between A(x) and y."""


def _mse(params: MSEParams, context: object):
    from invprob.losses import MSELoss

    return MSELoss()


def _l1(params: L1Params, context: object):
    from invprob.losses import L1Loss

    return L1Loss()


@hookimpl
def invprob_register_losses(registry: ComponentRegistry) -> None:
    registry.add("mse", _mse, params_model=MSEParams)
    registry.add("l1", _l1, params_model=L1Params)
