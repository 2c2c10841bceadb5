"""Entry point of invprob-plugin-csgm: parameters and the factory only (no torch here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from invprob.hookspecs import hookimpl
from invprob.params import Params
from invprob.registry import ComponentRegistry


class CSGMParams(Params):
    """CSGM: optimise the generator's latent with random restarts batched, best restart per image."""

    needs_generator = True  # optimises or constrains a generator's latent

    steps: int = Field(500, ge=0, description="optimiser steps per restart")
    lr: float = Field(0.1, gt=0, description="learning rate (Bora et al.'s CelebA DCGAN scripts: Adam, 0.1)")
    optimizer: Literal["adam", "sgd"] = Field("adam", description="adam, or sgd with heavy-ball momentum")
    momentum: float = Field(0.9, ge=0, lt=1, description="momentum of sgd (ignored by adam)")
    schedule: Literal["constant", "cosine"] = Field("constant", description="learning-rate schedule")
    restarts: int = Field(4, ge=1, description="random restarts, optimised together as one batch")


def _csgm(params: CSGMParams, context: object):
    from .solver import CSGMSolver

    return CSGMSolver(
        steps=params.steps,
        lr=params.lr,
        optimizer=params.optimizer,
        momentum=params.momentum,
        schedule=params.schedule,
        restarts=params.restarts,
    )


@hookimpl
def invprob_register_solvers(registry: ComponentRegistry) -> None:
    registry.add(
        "csgm",
        _csgm,
        params_model=CSGMParams,
        examples=[
            {"steps": 20, "restarts": 2},
            {"steps": 20, "restarts": 1, "optimizer": "sgd", "lr": 0.05, "schedule": "cosine"},
        ],
    )
