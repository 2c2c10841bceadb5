"""Entry point of invprob-plugin-gan-priors: parameters and factories only (no torch here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from invprob.hookspecs import hookimpl
from invprob.params import Params
from invprob.registry import ComponentRegistry


class DiscriminatorParams(Params):
    """Discriminator prior of Yeh et al. (eq. 5): lam*log(1 - D(G(z))), or lam*(D(G(z)) - 1)^2 for LSGAN."""

    lam: float = Field(0.003, ge=0, description="weight lambda of the prior (Yeh et al. use 0.003)")
    form: Literal["log", "lsgan"] = Field(
        "log", description="log: D outputs a logit (standard GAN); lsgan: D outputs a least-squares score"
    )


class GaussianNormParams(Params):
    """Gaussian latent prior of CSGM: weight * ||z||^2 per image."""

    weight: float = Field(0.1, ge=0, description="weight of ||z||^2")
    variable: str = Field("z", description="which latent variable the norm is taken of")


class BoxParams(Params):
    """Box constraint: clamp the latent to [lo, hi] after every step."""

    lo: float = Field(-1.0, description="lower bound")
    hi: float = Field(1.0, description="upper bound")
    variable: str = Field("z", description="which latent variable is clamped")

    @model_validator(mode="after")
    def _ordered(self) -> BoxParams:
        if not self.lo < self.hi:
            raise ValueError(f"the box needs lo < hi, got lo={self.lo}, hi={self.hi}")
        return self


def _discriminator(params: DiscriminatorParams, context: object):
    from .penalties import DiscriminatorPrior

    return DiscriminatorPrior(lam=params.lam, form=params.form)


def _gaussian_norm(params: GaussianNormParams, context: object):
    from .penalties import GaussianNormPrior

    return GaussianNormPrior(weight=params.weight, variable=params.variable)


def _box(params: BoxParams, context: object):
    from .constraints import BoxConstraint

    return BoxConstraint(lo=params.lo, hi=params.hi, variable=params.variable)


@hookimpl
def invprob_register_priors(registry: ComponentRegistry) -> None:
    registry.add(
        "discriminator",
        _discriminator,
        params_model=DiscriminatorParams,
        examples=[{}, {"lam": 0.01, "form": "lsgan"}],
    )
    registry.add("gaussian-norm", _gaussian_norm, params_model=GaussianNormParams, examples=[{}, {"weight": 1.0}])
    registry.add("box", _box, params_model=BoxParams, examples=[{}, {"lo": -2.0, "hi": 0.5}])
