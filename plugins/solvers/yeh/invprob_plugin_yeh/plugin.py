"""Entry point of invprob-plugin-yeh: parameters and the factory only (no torch here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from invprob.hookspecs import hookimpl
from invprob.params import OddWindow, Params
from invprob.registry import ComponentRegistry


class YehParams(Params):
    """Yeh et al. semantic inpainting: context loss + discriminator prior, z in [-1, 1], Poisson blending."""

    steps: int = Field(1500, ge=0, description="iterations (the paper: 1500)")
    lr: float = Field(0.01, gt=0, description="Adam learning rate (bamos/dcgan-completion.tensorflow: 0.01)")
    restarts: int = Field(1, ge=1, description="random restarts, optimised together as one batch")
    lam: float = Field(0.003, ge=0, description="prior weight lambda used when the recipe gives no penalty prior; 0 = no prior")
    prior_form: Literal["log", "lsgan"] = Field("log", description="form of that default discriminator prior")
    window: OddWindow = Field(7, description="context-loss window used when the recipe gives no loss")
    clamp: bool = Field(True, description="clamp z to [-1, 1] after every step, as the paper does")
    blend: bool = Field(True, description="Poisson-blend G(z) into the observed pixels at the end")


def _yeh(params: YehParams, context):
    from .solver import YehSolver

    prior = None
    if params.lam > 0:
        if "discriminator" not in context.registry.components["priors"]:
            raise ValueError(
                "the yeh solver's default prior is the 'discriminator' prior, which no installed plugin "
                "provides: pip install invprob-plugin-gan-priors, or set the solver's lam: 0"
            )
        prior = context.registry.build(
            "priors", "discriminator", {"lam": params.lam, "form": params.prior_form}, context
        )
    return YehSolver(
        steps=params.steps,
        lr=params.lr,
        restarts=params.restarts,
        window=params.window,
        default_prior=prior,
        clamp=params.clamp,
        blend=params.blend,
    )


@hookimpl
def invprob_register_solvers(registry: ComponentRegistry) -> None:
    registry.add(
        "yeh",
        _yeh,
        params_model=YehParams,
        examples=[
            {"steps": 20, "lr": 0.05},
            {"steps": 20, "lr": 0.05, "restarts": 2, "lam": 0.0, "blend": False},
        ],
    )
