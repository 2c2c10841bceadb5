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
    """PULSE (Menon et al. 2020), as its official code: Gaussianised latent on the sphere, 1-cycle Adam, eps."""

    steps: int = Field(100, ge=0, description="optimiser steps (PULSE: 100)")
    lr: float = Field(0.4, gt=0, description="peak Adam learning rate (PULSE: 0.4)")
    eps: float | None = Field(
        0.2,
        ge=0,
        description="target measurement loss, in the recipe loss's units; the loss is clamped at it per image and images "
        "above it are reported (0.2 = PULSE's 2e-3 under the default loss 25 * MSE; null: no target, no clamp)",
    )
    noise_layers: int = Field(5, ge=0, description="noise maps optimised (the first ones, PULSE: 5); the rest stay fixed")
    restarts: int = Field(1, ge=1, description="random restarts, optimised together as one batch")
    schedule: Literal["constant", "cosine", "ramp", "one-cycle", "one-cycle-drop"] = Field(
        "one-cycle-drop", description="learning-rate schedule (PULSE: linear1cycledrop)"
    )
    sphere: bool = Field(True, description="rescale every latent vector to its initial norm after every step (PULSE)")
    space: Literal["gaussianised", "w"] = Field(
        "gaussianised", description="StyleGAN2: search PULSE's Gaussianised latent (w = leaky_relu(std v + mean, 0.2)) or w itself"
    )


PULSE_DEFAULTS = {
    "losses": [{"type": "mse", "weight": 25.0}],
}
"""The recipe's ``losses`` when it names none: PULSE's ``100 * L2`` on [0, 1] images, i.e. 25 * MSE on [-1, 1]."""


def _pulse(params: PULSEParams, context: BuildContext):
    from .solver import PULSESolver

    return PULSESolver(
        steps=params.steps,
        lr=params.lr,
        eps=params.eps,
        noise_layers=params.noise_layers,
        restarts=params.restarts,
        schedule=params.schedule,
        sphere=params.sphere,
        space=params.space,
    )


@hookimpl
def invprob_register_solvers(registry: ComponentRegistry) -> None:
    registry.add(
        "pulse",
        _pulse,
        params_model=PULSEParams,
        examples=[{"steps": 40, "lr": 0.1, "eps": None}, {"steps": 30, "lr": 0.1, "eps": 1e-6, "restarts": 2, "schedule": "one-cycle"}],
        defaults=PULSE_DEFAULTS,
    )
