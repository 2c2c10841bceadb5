"""The CSGM solver (Bora et al., 2017): ``min_z sum_i w_i loss_i(A(G(z)), y) + penalties``."""

from __future__ import annotations

from typing import Literal

import torch

from invprob.optimisation import OptimiserSettings, initial_latents, optimise
from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import Solver, SolverResult, problem_round


class CSGMSolver(Solver):
    """Gradient descent on the latent from random starts drawn from the generator's latent
    distribution; the ``restarts`` starts run as one batch and the best per image (by
    measurement loss, penalties excluded) is returned. Priors apply as given in the problem:
    penalties are added to the loss, constraints projected after every step.
    """

    def __init__(
        self,
        steps: int = 500,
        lr: float = 0.1,
        optimizer: Literal["adam", "sgd"] = "adam",
        momentum: float = 0.9,
        schedule: Literal["constant", "cosine"] = "constant",
        restarts: int = 4,
    ):
        self.settings = OptimiserSettings(steps=steps, lr=lr, optimizer=optimizer, momentum=momentum, schedule=schedule)
        self.restarts = restarts

    def solve(
        self,
        problem: InverseProblem,
        *,
        rng: torch.Generator | None = None,
        monitor: Monitor | None = None,
    ) -> SolverResult:
        latents = initial_latents(problem, self.restarts, rng, solver="csgm")
        result = optimise(latents, problem.generator, problem, self.settings, monitor=monitor, description="csgm")
        result.rounds = [problem_round(problem, 0, self.settings.steps, self.settings.lr, latents)]
        return result
