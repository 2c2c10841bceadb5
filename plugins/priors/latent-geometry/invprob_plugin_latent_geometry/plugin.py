"""Entry point of invprob-plugin-latent-geometry: parameters and factories only (no torch here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

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
    space: Literal["latent", "gaussianised"] = Field(
        "latent",
        description="where the sphere is: on the latent itself, or (StyleGAN2's w/w+) in PULSE's Gaussianised "
        "space (leaky_relu(w, 5) whitened by the mapping's fitted mean and std; one vector per w+ layer unless "
        "vector_dims says otherwise), as ILO's appendix 6.3",
    )
    fit_samples: int = Field(100_000, ge=1000, description="mapping samples of the Gaussian fit (space: gaussianised)")


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

    shape = _latent_shape("sphere", params.variable, context)
    if params.space == "gaussianised":
        return _gaussianised_sphere(params, context, shape)
    spaces = context.generator.latent_spaces if context.generator is not None else {}
    uniform = params.variable in spaces and spaces[params.variable].distribution == "uniform"
    return SphereConstraint(
        radius=params.radius,
        variable=params.variable,
        vector_dims=params.vector_dims,
        rms=UNIFORM_RMS if uniform else 1.0,  # the norm a latent drawn from its distribution concentrates at
    )


def _gaussianised_sphere(params: SphereParams, context: BuildContext, shape: Any):
    from .constraints import GaussianisedSphereConstraint

    from invprob.generator import HasGaussianFit, generator_name

    generator = context.generator
    if not isinstance(generator, HasGaussianFit):
        raise ValueError(
            f"space: gaussianised needs a generator with PULSE's Gaussian fit of its mapping (stylegan2's w or w+: "
            f"the capability invprob.generator.HasGaussianFit); "
            f"{generator_name(generator) if generator is not None else 'no generator'} has none: use space: latent"
        )
    mean, covariance = generator.gaussian_fit(params.fit_samples)
    if shape is not None and shape[-1] != mean.shape[0]:
        raise ValueError(
            f"space: gaussianised works on the mapping's output ({mean.shape[0]} entries per vector); "
            f"{params.variable!r} has shape {tuple(shape)}: set the prior on w or w+"
        )
    vector_dims = params.vector_dims if params.vector_dims is not None else 1
    return GaussianisedSphereConstraint(
        mean, covariance.diagonal().sqrt(), radius=params.radius, variable=params.variable, vector_dims=vector_dims
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
    generator = context.generator
    if generator is None:
        return None
    spaces = generator.latent_spaces
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
