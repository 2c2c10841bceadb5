"""Entry point of invprob-plugin-latent-geometry: parameters and factories only (no torch here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from invprob.hookspecs import hookimpl
from invprob.params import Params

if TYPE_CHECKING:
    from invprob.context import BuildContext
    from invprob.registry import ComponentRegistry


UNIFORM_RMS = 3 ** -0.5
"""Root mean square of U(-1, 1): a uniform latent of n entries has norm about sqrt(n / 3)."""


class L1BallParams(Params):
    """l1-ball constraint: project one latent onto ||v - centre||_1 <= radius after every step (centre: the origin)."""

    radius: float = Field(ge=0, description="radius of the l1 ball")
    variable: str = Field("z", description="which latent variable is projected")


class SphereParams(Params):
    """Sphere constraint (PULSE): rescale each vector of one latent to a fixed norm after every step."""

    radius: float | None = Field(None, gt=0, description="norm of each vector; default sqrt(n) for n entries (sqrt(n / 3) for a U(-1, 1) latent)")
    variable: str = Field("z", description="which latent variable is projected")
    vector_dims: int | None = Field(
        None, ge=1, description="trailing dimensions forming one vector (1: each layer of w+); default all but the batch"
    )


class GeocrossParams(Params):
    """Geocross penalty (PULSE): geodesic distances between the layer latents of w+, per image."""

    weight: float = Field(0.01, ge=0, description="coefficient (ILO appendix 6.3: 0.01; PULSE: 0.05)")
    variable: str = Field("z", description="the latent with a layer axis, [B, layers, n]")


def _l1_ball(params: L1BallParams, context: BuildContext):
    from .constraints import L1BallConstraint

    _latent_shape("l1-ball", params.variable, context)
    return L1BallConstraint(radius=params.radius, variable=params.variable)


def _sphere(params: SphereParams, context: BuildContext):
    from .constraints import SphereConstraint

    _latent_shape("sphere", params.variable, context)
    spaces = getattr(context.extras.get("generator"), "latent_spaces", {})
    uniform = params.variable in spaces and spaces[params.variable].distribution == "uniform"
    return SphereConstraint(
        radius=params.radius,
        variable=params.variable,
        vector_dims=params.vector_dims,
        rms=UNIFORM_RMS if uniform else 1.0,  # the norm a latent drawn from its distribution concentrates at
    )


def _geocross(params: GeocrossParams, context: BuildContext):
    from .penalties import GeocrossPenalty

    shape = _latent_shape("geocross", params.variable, context)
    if shape is not None and len(shape) < 2:
        raise ValueError(
            f"the geocross prior needs a latent with a layer axis ([layers, n] per image, as StyleGAN2's w+); "
            f"{params.variable!r} has shape {tuple(shape)}. A DCGAN's z has no layers: leave geocross out"
        )
    return GeocrossPenalty(weight=params.weight, variable=params.variable)


def _latent_shape(prior: str, variable: str, context: BuildContext) -> Any:
    """The per-image shape of ``variable`` in the recipe's generator (None without one).

    A prior set on a latent the generator does not have would silently do nothing.
    """
    generator = context.extras.get("generator")
    spaces = getattr(generator, "latent_spaces", None)
    if spaces is None:
        return None
    if variable not in spaces:
        raise ValueError(
            f"the {prior} prior is set on variable {variable!r}, but {type(generator).__name__} has the "
            f"latents {sorted(spaces)}; set the prior's 'variable' param to one of them"
        )
    return spaces[variable].shape


@hookimpl
def invprob_register_priors(registry: ComponentRegistry) -> None:
    registry.add("l1-ball", _l1_ball, params_model=L1BallParams, examples=[{"radius": 2.0}, {"radius": 0.0}])
    registry.add("sphere", _sphere, params_model=SphereParams, examples=[{}, {"radius": 3.0, "vector_dims": 1}])
    registry.add("geocross", _geocross, params_model=GeocrossParams, examples=[{}, {"weight": 0.05}])
