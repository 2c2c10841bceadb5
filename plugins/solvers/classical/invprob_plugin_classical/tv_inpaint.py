"""Total-variation inpainting by the primal-dual algorithm of Chambolle and Pock (2011).

    min_x  ||∇x||_{2,1}  +  (weight / 2) ||M ⊙ (x - y)||^2

``∇`` is the forward-difference gradient with Neumann boundary, ``||·||_{2,1}`` the isotropic
TV of each channel (sum over pixels of the length of the 2-vector of differences), ``M`` the
observed-pixel mask. With ``K = ∇`` (``||K||^2 <= 8``) and steps ``tau = sigma = 0.99/sqrt(8)``:

    p    <- proj_{|p| <= 1}(p + sigma ∇ x̄)                      (prox of the TV conjugate)
    x'   <- (x + tau div p + tau weight M y) / (1 + tau weight M)   (prox of the data term)
    x̄    <- 2 x' - x,   x <- x'

Missing pixels have no data term: their values come from TV alone (they fill in as the
smoothest continuation of the boundary). The whole batch is solved at once.
"""

from __future__ import annotations

import math
import time

import torch

from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import Solver, SolverResult

from .common import classical_result, image_shaped_observation, observed_mask


def gradient(x: torch.Tensor) -> torch.Tensor:
    """Forward differences ``[..., 2, H, W]`` (rows, columns), zero at the far border."""
    dy = torch.zeros_like(x)
    dx = torch.zeros_like(x)
    dy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    dx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return torch.stack([dy, dx], dim=-3)


def divergence(p: torch.Tensor) -> torch.Tensor:
    """``-∇^T p``: the negative adjoint of :func:`gradient`."""
    py, px = p.unbind(dim=-3)
    div = torch.zeros_like(py)
    div[..., 0, :] += py[..., 0, :]
    div[..., 1:-1, :] += py[..., 1:-1, :] - py[..., :-2, :]
    div[..., -1, :] -= py[..., -2, :]
    div[..., :, 0] += px[..., :, 0]
    div[..., :, 1:-1] += px[..., :, 1:-1] - px[..., :, :-2]
    div[..., :, -1] -= px[..., :, -2]
    return div


def magnitude(v: torch.Tensor) -> torch.Tensor:
    """``|v|`` of the 2-vectors ``[..., 2, H, W]`` of :func:`gradient`, as ``[..., H, W]``.

    Written out: ``Tensor.norm(dim=-3)`` reduces over a strided dimension of size 2 and is
    about ten times slower on the CPU; it was most of the cost of every step and objective.
    """
    rows, cols = v.unbind(dim=-3)
    return (rows * rows + cols * cols).sqrt()


def tv_inpaint(observation: torch.Tensor, mask: torch.Tensor, *, iterations: int, weight: float, monitor: Monitor | None = None) -> tuple[torch.Tensor, bool]:
    """The TV-inpainted batch and whether the monitor stopped it early.

    ``∇`` is linear, so ``∇x̄ = 2 ∇x' - ∇x``: each step takes one gradient, of the new
    iterate, and uses it twice, for the objective the monitor records (TV term of ``x'``) and
    for the next step's dual update; the objective then costs a magnitude and two sums.
    Without a monitor it is not computed at all.
    """
    mask = mask.to(observation)
    observed = mask * observation
    fill = observed.sum(dim=(-2, -1), keepdim=True) / mask.sum(dim=(-2, -1), keepdim=True).clamp_min(1)
    x = observed + (1 - mask) * fill
    grad_x = gradient(x)
    grad_x_bar = grad_x
    p = torch.zeros_like(grad_x)
    tau = sigma = 0.99 / math.sqrt(8.0)
    for _ in range(iterations):
        if monitor is not None and monitor.stop_requested:
            return x, True
        p = p + sigma * grad_x_bar
        p = p / magnitude(p).clamp_min(1.0).unsqueeze(-3)
        x = (x + tau * divergence(p) + tau * weight * observed) / (1 + tau * weight * mask)
        grad_new = gradient(x)
        grad_x_bar = 2 * grad_new - grad_x
        grad_x = grad_new
        if monitor is not None:
            monitor.step(image=x, objective=tv_objective(x, grad_x, observation, mask, weight))
    return x, False


def tv_objective(x: torch.Tensor, grad_x: torch.Tensor, observation: torch.Tensor, mask: torch.Tensor, weight: float) -> torch.Tensor:
    """``||∇x||_{2,1} + (weight / 2) ||M ⊙ (x - y)||^2`` per image, given ``∇x``."""
    data = (mask * (x - observation)).pow(2).sum(dim=(1, 2, 3))
    return magnitude(grad_x).sum(dim=(1, 2, 3)) + 0.5 * weight * data


class TVInpaintSolver(Solver):
    """TV inpainting of the observation (the generator, if any, is ignored)."""

    def __init__(self, iterations: int = 500, weight: float = 100.0):
        self.iterations = iterations
        self.weight = weight

    def solve(self, problem: InverseProblem, *, rng: torch.Generator | None = None, monitor: Monitor | None = None) -> SolverResult:
        monitor = monitor if monitor is not None else Monitor(show_progress=False)
        started = time.perf_counter()
        observation = image_shaped_observation(problem, "tv-inpaint")
        mask = observed_mask(problem, "tv-inpaint")
        monitor.start(self.iterations, "tv-inpaint")
        with torch.no_grad():
            image, interrupted = tv_inpaint(observation, mask, iterations=self.iterations, weight=self.weight, monitor=monitor)
        return classical_result(problem, image, started, interrupted=interrupted, monitor=monitor)
