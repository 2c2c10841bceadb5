"""Entry point of invprob-plugin-ilo: parameters and the factory only (no torch here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from invprob.hookspecs import hookimpl
from invprob.params import ExistingFile, Params

if TYPE_CHECKING:
    from invprob.context import BuildContext
    from invprob.registry import ComponentRegistry

PerRound = float | list[float]


class ILOParams(Params):
    """ILO (Daras et al. 2021), as its official code: latent search, then PGD in l1 balls at ever deeper layers."""

    steps: int | list[int] = Field(
        [300, 200, 200, 100], description="optimiser steps per round (a list: one per round; its length sets the rounds)"
    )
    lr: PerRound = Field(0.1, description="Adam learning rate per round (ILO appendix 6.3: 0.1)")
    rounds: int | None = Field(None, ge=1, description="number of rounds; default: the length of steps (4 for a scalar)")
    radius_features: PerRound | None = Field(
        None, description="l1 radius of the intermediate features, per deeper round; default the paper's [500, 1000, 2000]"
    )
    radius_latents: PerRound | None = Field(
        None, description="l1 radius of the latents (z, w+ slots), per round from round 0; default the paper's [300, 500, 1000, 2000]"
    )
    radius_noises: PerRound | None = Field(
        None, description="l1 radius of the noise maps, per round from round 0; default the paper's [300, 2000, 2000, 4000]"
    )
    first_layer: int = Field(1, ge=1, description="split point of round 1; round k splits at first_layer + k - 1")
    noise_layers: int = Field(5, ge=0, description="noise maps optimised in round 0; 2 more every round (official: range(5 + 2k))")
    sphere: bool = Field(True, description="rescale every w+ slot and optimised noise map to its norm at the round's start after every step")
    space: Literal["gaussianised", "w"] = Field(
        "gaussianised", description="StyleGAN2: optimise PULSE's Gaussianised latent v, w = leaky_relu(std v + mean, 0.2) (official), or w itself"
    )
    best: Literal["per-round", "overall"] = Field(
        "per-round",
        description="per-round (official): each round starts from the previous round's last iterate and the result is the "
        "last round's best; overall (our variant): start each round from the previous best, keep the best of all rounds",
    )
    project_to_range: bool = Field(False, description="project each round's solution back to the range of G1 (Alg. 1, lines 5-6; not in the official code)")
    range_steps: int = Field(100, ge=0, description="Adam steps of the projection back to the range")
    range_lr: float = Field(0.05, gt=0, description="learning rate of the projection back to the range")
    restarts: int = Field(1, ge=1, description="random restarts of the first round, optimised as one batch")
    schedule: Literal["constant", "cosine", "ramp", "one-cycle"] = Field(
        "ramp", description="learning-rate schedule within each round (ramp: official get_lr, linear ramp-up, cosine ramp-down)"
    )
    ramp_up: float = Field(0.05, gt=0, le=1, description="fraction of a round's steps the rate ramps up over")
    ramp_down: float = Field(0.75, gt=0, le=1, description="fraction of a round's steps the rate ramps down over (official: 0.75)")
    sna: float | None = Field(
        None, gt=0, description="stochastic noise addition for denoising: noise std on the 0-255 scale (e.g. the observation's)"
    )
    sna_ramp: float | None = Field(
        None, gt=0, le=1, description="decay the SNA noise to zero over this fraction of each round (our variant; default constant, as the paper)"
    )
    init_latents: ExistingFile | None = Field(
        None,
        description="start round 0 from these latents (a .safetensors file, one tensor per latent space, [N or 1, ...]) "
        "instead of drawing them; with steps[0] = 0 round 0 keeps them (ILO from a given image's latents)",
    )

    @model_validator(mode="after")
    def _lists_match_the_rounds(self) -> ILOParams:
        rounds = self.rounds if self.rounds is not None else (len(self.steps) if isinstance(self.steps, list) else 4)
        problems = []
        for name, count, what in (("steps", rounds, "round"), ("lr", rounds, "round")):
            value = getattr(self, name)
            if isinstance(value, list) and len(value) != count:
                problems.append(f"{name} has {len(value)} entries for {count} {what}s")
        for name, count, what in (
            ("radius_features", rounds - 1, "deeper rounds (all but round 0)"),
            ("radius_latents", rounds, "rounds (from round 0)"),
            ("radius_noises", rounds, "rounds (from round 0)"),
        ):
            value = getattr(self, name)
            if isinstance(value, list) and len(value) != count:
                problems.append(f"{name} has {len(value)} entries for {count} {what}")
        if self.init_latents is not None and self.restarts != 1:
            problems.append(f"init_latents gives one start per image, so restarts must be 1 (got {self.restarts})")
        if problems:
            raise ValueError(
                "; ".join(problems) + ": give per-round lists of one entry per round (radii: per deeper round), "
                "or a single value for all"
            )
        return self


def _ilo(params: ILOParams, context: BuildContext):
    from .solver import ILOSolver

    solver = ILOSolver(
        steps=params.steps,
        lr=params.lr,
        rounds=params.rounds,
        radius_features=params.radius_features,
        radius_latents=params.radius_latents,
        radius_noises=params.radius_noises,
        first_layer=params.first_layer,
        noise_layers=params.noise_layers,
        sphere=params.sphere,
        space=params.space,
        best=params.best,
        project_to_range=params.project_to_range,
        range_steps=params.range_steps,
        range_lr=params.range_lr,
        restarts=params.restarts,
        schedule=params.schedule,
        ramp_up=params.ramp_up,
        ramp_down=params.ramp_down,
        sna=params.sna,
        sna_ramp=params.sna_ramp,
        init_latents=params.init_latents,
    )
    generator = context.generator
    if generator is not None:
        solver.check_generator(generator)  # too many rounds for this generator: fail at build time
    return solver


@hookimpl
def invprob_register_solvers(registry: ComponentRegistry) -> None:
    registry.add(
        "ilo",
        _ilo,
        params_model=ILOParams,
        examples=[
            {"steps": [20, 15, 15], "lr": 0.05, "radius_features": [5.0, 20.0], "project_to_range": True, "range_steps": 20},
            {"steps": 10, "rounds": 2, "lr": [0.1, 0.05], "radius_features": 3.0, "project_to_range": False, "restarts": 2},
            {"steps": [15, 10], "radius_features": 5.0, "sna": 10.0, "sna_ramp": 0.75, "best": "overall"},
        ],
        defaults={"losses": [{"type": "mse"}]},
    )

