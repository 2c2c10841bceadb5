"""The core's metrics: PSNR, SSIM and MSE per image on the [0, 1] scale (:mod:`.image_quality`).

Light like any plugin module: the metrics themselves are imported when one is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invprob.hookspecs import hookimpl
from invprob.params import Params

if TYPE_CHECKING:
    from invprob.registry import ComponentRegistry


class PSNRParams(Params):
    """Peak signal-to-noise ratio in dB against the ground truth (data range 1; higher is better)."""


class SSIMParams(Params):
    """Structural similarity against the ground truth (Wang et al. 2004; higher is better)."""


class MSEParams(Params):
    """Mean squared error against the ground truth on the [0, 1] scale (lower is better)."""


def _psnr(params: PSNRParams, context: object):
    from invprob.default_plugins.image_quality import PSNR

    return PSNR()


def _ssim(params: SSIMParams, context: object):
    from invprob.default_plugins.image_quality import SSIM

    return SSIM()


def _mse(params: MSEParams, context: object):
    from invprob.default_plugins.image_quality import MSE

    return MSE()


@hookimpl
def invprob_register_metrics(registry: ComponentRegistry) -> None:
    registry.add("psnr", _psnr, params_model=PSNRParams)
    registry.add("ssim", _ssim, params_model=SSIMParams)
    registry.add("mse", _mse, params_model=MSEParams)
