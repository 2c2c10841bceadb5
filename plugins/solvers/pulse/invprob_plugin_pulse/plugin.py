"""Entry point of invprob-plugin-pulse: parameters, the factory and recipe defaults (no torch here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from invprob.hookspecs import hookimpl
from invprob.params import Params

if TYPE_CHECKING:
    from invprob.context import BuildContext
    from invprob.registry import ComponentRegistry


class PULSEParams(Params):
    """PULSE (Menon et al. 2020): latents on the sphere, 1-cycle Adam, and a report when eps is not reached."""

    steps: int = Field(100, ge=0, description="optimiser steps (PULSE: 100)")
    lr: float = Field(0.4, gt=0, description="peak Adam learning rate (PULSE: 0.4)")
    eps: float | None = Field(
        2e-3, ge=0, description="target measurement loss; images above it are reported (null: no target)"
    )
    noise_layers: int = Field(5, ge=0, description="noise maps optimised (the first ones, PULSE: 5); the rest stay fixed")
    restarts: int = Field(1, ge=1, description="random restarts, optimised together as one batch")
    schedule: Literal["constant", "cosine", "ramp", "one-cycle"] = Field(
        "one-cycle", description="learning-rate schedule (PULSE: linear 1-cycle)"
    )


PULSE_DEFAULTS = {
    "losses": [{"type": "mse"}],
    "priors": [{"type": "sphere"}],
}
"""The recipe's ``losses``/``priors`` when it names none: MSE on the downscaled image, z on the sphere."""


def _pulse(params: PULSEParams, context: BuildContext):
    from .solver import PULSESolver

    return PULSESolver(
        steps=params.steps,
        lr=params.lr,
        eps=params.eps,
        noise_layers=params.noise_layers,
        restarts=params.restarts,
        schedule=params.schedule,
    )


@hookimpl
def invprob_register_solvers(registry: ComponentRegistry) -> None:
    registry.add(
        "pulse",
        _pulse,
        params_model=PULSEParams,
        examples=[{"steps": 40, "lr": 0.1, "eps": None}, {"steps": 30, "lr": 0.1, "eps": 1e-6, "restarts": 2}],
        defaults=PULSE_DEFAULTS,
    )
