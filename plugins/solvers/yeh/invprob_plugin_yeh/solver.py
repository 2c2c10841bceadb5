"""The Yeh et al. solver: latent search on the problem's losses and priors, then Poisson blending."""

from __future__ import annotations

import time

import torch

from invprob.optimisation import OptimiserSettings, initial_latents, optimise
from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import Solver, SolverResult

from .blending import poisson_blend


class YehSolver(Solver):
    """Semantic inpainting (Yeh et al., CVPR 2017, sec. 3):

    1. ``z* = argmin_z L_c(z | y, M) + L_p(z)`` (eq. 2) with Adam from ``restarts`` random
       starts batched; the best start per image is kept by the measurement loss.
    2. ``x = argmin ||∇x - ∇G(z*)||^2`` with ``x = y`` on observed pixels (eq. 6, Poisson
       blending), using the observation's observed pixels only.

    ``L_c`` and ``L_p`` are the problem's losses and priors. The paper's choice (the context
    loss, the discriminator prior with lambda = 0.003, z clamped to [-1, 1]) is the plugin's
    recipe default, applied when a recipe names no ``losses``/``priors``
    (:data:`invprob_plugin_yeh.plugin.YEH_DEFAULTS`).
    """

    def __init__(self, steps: int = 1500, lr: float = 0.01, restarts: int = 1, blend: bool = True):
        self.settings = OptimiserSettings(steps=steps, lr=lr, optimizer="adam")
        self.restarts = restarts
        self.blend = blend

    def solve(
        self,
        problem: InverseProblem,
        *,
        rng: torch.Generator | None = None,
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
        latents = initial_latents(problem, self.restarts, rng, solver="yeh")
        result = optimise(latents, problem.generator, problem, self.settings, monitor=monitor, description="yeh")
        if self.blend:
            started = time.perf_counter()
            pre_blend_loss = result.best_loss.detach().clone()
            result.best_image = poisson_blend(result.best_image, problem.observation, mask)
            result.last_image = poisson_blend(result.last_image, problem.observation, mask)
            with torch.no_grad():
                result.best_loss = problem.measurement_loss(result.best_image)
            if result.frames:  # the GIF shows the reported image: blended too (one batch, one factorisation)
                frames = torch.stack(result.frames)
                count = frames.shape[0]
                observation = problem.observation.detach().to("cpu", frames.dtype).repeat(count, 1, 1, 1)
                masks = mask.detach().cpu().repeat(count if mask.shape[0] > 1 else 1, 1, 1, 1)
                result.frames = list(poisson_blend(frames.flatten(0, 1), observation, masks).unflatten(0, (count, -1)))
            result.timings["blend"] = time.perf_counter() - started
            result.notes.append(pre_blend_note(pre_blend_loss))
            result.trivial_metrics["measurement_loss"] = BLENDED_MEASUREMENT_LOSS
        return result


BLENDED_MEASUREMENT_LOSS = (
    "0 by construction: Poisson blending copies the observed pixels into the result "
    "(the note gives the loss of G(z*) before blending)"
)
"""Why Yeh's ``measurement_loss`` says nothing after blending (``SolverResult.trivial_metrics``)."""


def pre_blend_note(pre_blend_loss: torch.Tensor) -> str:
    """The sentence that reports the measurement loss of ``G(z*)`` before blending, per image.

    Blending copies the observed pixels into the result, so the measurement loss reported
    after it is 0 by construction and says nothing about the fit of
    ``z*``; this one does.
    """
    values = ", ".join(f"{value:.6g}" for value in pre_blend_loss.reshape(-1).tolist())
    return (
        f"yeh: measurement loss of G(z*) before Poisson blending, per image of the batch: [{values}] "
        f"(mean {pre_blend_loss.mean().item():.6g}); after blending the observed pixels are the "
        "observation's, so the measurement_loss above is 0 by construction"
    )
