"""The Yeh et al. solver: CSGM-style latent search with Yeh's losses, then Poisson blending."""

from __future__ import annotations

import dataclasses
import time

import torch

from invprob.context_loss import ContextLoss
from invprob.latent_optimisation import LatentOptimiser, optimise_latents
from invprob.prior import Penalty
from invprob.problem import InverseProblem, WeightedLoss
from invprob.progress import Monitor
from invprob.solver import Solver, SolverResult

from .blending import poisson_blend


class YehSolver(Solver):
    """Semantic inpainting (Yeh et al., CVPR 2017, sec. 3):

    1. ``z* = argmin_z L_c(z | y, M) + L_p(z)`` (eq. 2) with Adam, ``z`` clamped to [-1, 1]
       after every iteration, ``restarts`` random starts batched; the best start per image is
       kept by the context (measurement) loss.
    2. ``x = argmin ||∇x - ∇G(z*)||^2`` with ``x = y`` on observed pixels (eq. 6, Poisson
       blending), using the observation's observed pixels only.

    The losses and penalty priors are the recipe's; when it gives none, the context loss with
    ``window`` and ``default_prior`` (the discriminator prior with the solver's ``lam``) are
    used. Constraint priors of the recipe apply too.
    """

    def __init__(
        self,
        steps: int = 1500,
        lr: float = 0.01,
        restarts: int = 1,
        window: int = 7,
        default_prior: Penalty | None = None,
        clamp: bool = True,
        blend: bool = True,
    ):
        self.settings = LatentOptimiser(steps=steps, lr=lr, optimizer="adam", restarts=restarts)
        self.window = window
        self.default_prior = default_prior
        self.clamp = clamp
        self.blend = blend

    def with_defaults(self, problem: InverseProblem) -> InverseProblem:
        """``problem`` with the context loss if it has no loss, the default prior if it has no penalty."""
        losses = list(problem.losses) or [WeightedLoss(1.0, ContextLoss(self.window))]
        priors = list(problem.priors)
        if not problem.penalties and self.default_prior is not None:
            priors.append(self.default_prior)
        return dataclasses.replace(problem, losses=losses, priors=priors)

    def solve(
        self,
        problem: InverseProblem,
        *,
        generator: torch.Generator | None = None,
        monitor: Monitor | None = None,
    ) -> SolverResult:
        mask = problem.operator.observed_mask()
        if mask is None:
            raise ValueError(
                f"the yeh solver inpaints: it needs an operator with an observed-pixel mask, but "
                f"{type(problem.operator).__name__} has none; use csgm for other operators"
            )
        expected = (problem.batch_size, *problem.image_shape)
        if self.blend and tuple(problem.observation.shape) != expected:
            raise ValueError(
                f"Poisson blending needs an image-shaped observation {expected}, got "
                f"{tuple(problem.observation.shape)}; set the solver's blend: false"
            )
        effective = self.with_defaults(problem)
        result = optimise_latents(
            effective,
            self.settings,
            generator=generator,
            monitor=monitor,
            project=_clamp_to_unit_box if self.clamp else None,
            description="yeh",
        )
        if self.blend:
            started = time.perf_counter()
            result.best_image = poisson_blend(result.best_image, problem.observation, mask)
            result.last_image = poisson_blend(result.last_image, problem.observation, mask)
            with torch.no_grad():
                result.best_loss = effective.measurement_loss(result.best_image)
            result.timings["blend"] = time.perf_counter() - started
        return result


def _clamp_to_unit_box(variables: dict[str, torch.Tensor]) -> None:
    for value in variables.values():
        value.clamp_(-1.0, 1.0)
