"""Entry point of invprob-plugin-classical: parameters and factories only (no torch here)."""

from __future__ import annotations

from pydantic import Field

from invprob.hookspecs import hookimpl
from invprob.params import Params
from invprob.registry import ComponentRegistry


class TVInpaintParams(Params):
    """TV inpainting: min_x TV(x) + weight/2 ||M(x - y)||^2 by Chambolle-Pock."""

    needs_mask = True  # fills the pixels the operator's observed_mask() leaves out

    iterations: int = Field(500, ge=0, description="primal-dual iterations")
    weight: float = Field(100.0, gt=0, description="data weight; large values pin the observed pixels")


class BiharmonicParams(Params):
    """Biharmonic inpainting (scikit-image inpaint_biharmonic)."""

    needs_mask = True  # fills the pixels the operator's observed_mask() leaves out


class BicubicParams(Params):
    """Bicubic upsampling of the observation to the image size (factor read from the shapes)."""


class TVDenoiseParams(Params):
    """TV denoising (scikit-image denoise_tv_chambolle)."""

    weight: float = Field(0.1, gt=0, description="denoising weight, for intensities in [0, 1]")


class NLMeansParams(Params):
    """Non-local means denoising (scikit-image denoise_nl_means)."""

    h_factor: float = Field(0.8, gt=0, description="filter strength h = h_factor * sigma")
    sigma: float | None = Field(None, gt=0, description="noise std in [-1, 1] units; default: estimated")
    patch_size: int = Field(5, ge=1, description="patch side in pixels")
    patch_distance: int = Field(6, ge=1, description="search radius in pixels")


def _tv_inpaint(params: TVInpaintParams, context: object):
    from .tv_inpaint import TVInpaintSolver

    return TVInpaintSolver(iterations=params.iterations, weight=params.weight)


def _biharmonic(params: BiharmonicParams, context: object):
    from .skimage_solvers import BiharmonicInpaintSolver

    return BiharmonicInpaintSolver()


def _bicubic(params: BicubicParams, context: object):
    from .upsample import BicubicUpsampleSolver

    return BicubicUpsampleSolver()


def _tv_denoise(params: TVDenoiseParams, context: object):
    from .skimage_solvers import TVDenoiseSolver

    return TVDenoiseSolver(weight=params.weight)


def _nl_means(params: NLMeansParams, context: object):
    from .skimage_solvers import NLMeansDenoiseSolver

    return NLMeansDenoiseSolver(
        h_factor=params.h_factor, sigma=params.sigma, patch_size=params.patch_size, patch_distance=params.patch_distance
    )


@hookimpl
def invprob_register_solvers(registry: ComponentRegistry) -> None:
    registry.add("tv-inpaint", _tv_inpaint, params_model=TVInpaintParams, examples=[{"iterations": 50}])
    registry.add("biharmonic-inpaint", _biharmonic, params_model=BiharmonicParams, examples=[{}])
    registry.add("bicubic-upsample", _bicubic, params_model=BicubicParams, examples=[{}])
    registry.add("tv-denoise", _tv_denoise, params_model=TVDenoiseParams, examples=[{"weight": 0.05}])
    registry.add("nl-means-denoise", _nl_means, params_model=NLMeansParams, examples=[{"patch_size": 3, "patch_distance": 2}])
