"""Entry point: the params model and the factory of the ``gaussian-blur`` operator.

Keep this module light: pydantic and invprob only. torch is imported by the factory, when a
recipe builds the operator, so ``invprob plugins`` and ``invprob validate`` stay instant.
"""

from __future__ import annotations

from pydantic import Field

from invprob import hookimpl
from invprob.params import Params
from invprob.registry import ComponentRegistry


class GaussianBlurParams(Params):
    """Gaussian blur with zero boundary (self-adjoint), optional Gaussian noise."""

    sigma: float = Field(gt=0, description="blur standard deviation, in pixels")
    radius: int | None = Field(None, ge=1, description="kernel half-width in pixels; default ceil(3 * sigma)")
    noise_sigma: float = Field(0.0, ge=0, description="additive noise std on the 0-255 scale (sigma / 127.5)")


def _build_gaussian_blur(params: GaussianBlurParams, context):
    from invprob.images import sigma_from_255
    from invprob.operator import GaussianNoise

    from .blur import GaussianBlur

    noise = GaussianNoise(sigma_from_255(params.noise_sigma)) if params.noise_sigma > 0 else None
    return GaussianBlur(params.sigma, params.radius, noise).to(context.device)


@hookimpl
def invprob_register_operators(registry: ComponentRegistry) -> None:
    registry.add(
        "gaussian-blur",
        _build_gaussian_blur,
        params_model=GaussianBlurParams,
        examples=[{"sigma": 1.0}, {"sigma": 2.5, "radius": 4, "noise_sigma": 5}],
    )
