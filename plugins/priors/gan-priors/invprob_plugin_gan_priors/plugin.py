"""Entry point of invprob-plugin-gan-priors: parameters and factories only (no torch here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from invprob.hookspecs import hookimpl
from invprob.params import Params

if TYPE_CHECKING:
    from invprob.context import BuildContext
    from invprob.registry import ComponentRegistry


class DiscriminatorParams(Params):
    """Discriminator prior of Yeh et al. (eq. 5): lam*log(1 - D(G(z))), or lam*(D(G(z)) - 1)^2 for LSGAN."""

    needs_generator = True  # optimises or constrains a generator's latent

    lam: float = Field(0.003, ge=0, description="weight lambda of the prior (Yeh et al. use 0.003)")
    form: Literal["log", "lsgan"] | None = Field(
        None,
        description="default: follow the generator's discriminator_output (logit -> log, least_squares -> "
        "lsgan; log when it declares none); log: D outputs a logit; lsgan: D outputs a least-squares score. "
        "A form that contradicts the generator's declaration is an error",
    )


class GaussianNormParams(Params):
    """Gaussian latent prior of CSGM: weight * ||z||^2 per image, next to the core's mean-normalised losses."""

    needs_generator = True  # optimises or constrains a generator's latent

    weight: float | None = Field(
        None,
        ge=0,
        description="weight of ||z||^2 beside the mean-normalised mse; default 0.001 / (C*H*W): Bora et al.'s 0.001 "
        "in their code's balance for a fully observed image (inpainting with m of n entries observed: "
        "0.001 * m / n^2; Gaussian sensing with m measurements: 0.001 / m; see docs/solvers.md)",
    )
    variable: str = Field("z", description="which latent variable the norm is taken of")


class BoxParams(Params):
    """Box constraint: clamp one latent to [lo, hi] after every step (Yeh et al.: z in [-1, 1])."""

    needs_generator = True  # optimises or constrains a generator's latent

    lo: float = Field(-1.0, description="lower bound")
    hi: float = Field(1.0, description="upper bound")
    variable: str = Field("z", description="which latent variable is clamped")

    @model_validator(mode="after")
    def _ordered(self) -> BoxParams:
        if not self.lo < self.hi:
            raise ValueError(f"the box needs lo < hi, got lo={self.lo}, hi={self.hi}")
        return self


def _discriminator(params: DiscriminatorParams, context: BuildContext):
    from .penalties import DiscriminatorPrior, resolve_form

    generator = context.generator
    if generator is not None:
        resolve_form(params.form, generator)  # a form contradicting the generator fails here, at build time
    return DiscriminatorPrior(lam=params.lam, form=params.form)


def _gaussian_norm(params: GaussianNormParams, context: BuildContext):
    from .penalties import GaussianNormPrior

    _check_latent_name("gaussian-norm", params.variable, context)
    return GaussianNormPrior(weight=params.weight, variable=params.variable)


def _box(params: BoxParams, context: BuildContext):
    from .constraints import BoxConstraint

    _check_latent_name("box", params.variable, context)
    return BoxConstraint(lo=params.lo, hi=params.hi, variable=params.variable)


def _check_latent_name(prior: str, variable: str, context: BuildContext) -> None:
    """A prior set on a latent the recipe's generator does not have would silently do nothing."""
    generator = context.generator
    names = generator.latent_spaces if generator is not None else None
    if names is not None and variable not in names:
        raise ValueError(
            f"the {prior} prior is set on variable {variable!r}, but {type(generator).__name__} has the "
            f"latents {sorted(names)}; set the prior's 'variable' param to one of them"
        )


@hookimpl
def invprob_register_priors(registry: ComponentRegistry) -> None:
    registry.add(
        "discriminator",
        _discriminator,
        params_model=DiscriminatorParams,
        examples=[{}, {"lam": 0.01, "form": "log"}],  # the suite's TinyGenerator declares a logit
    )
    registry.add("gaussian-norm", _gaussian_norm, params_model=GaussianNormParams, examples=[{}, {"weight": 1.0}])
    registry.add("box", _box, params_model=BoxParams, examples=[{}, {"lo": -2.0, "hi": 0.5}])
