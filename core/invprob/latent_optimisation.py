"""The latent-optimisation loop shared by CSGM-style solvers: restarts batched, best kept per image.

For ``R`` restarts of ``B`` images, ``R * B`` latents are drawn from the generator's latent
distribution as ONE batch (restart-major: element ``r * B + b`` is restart ``r`` of image
``b``, as :meth:`InverseProblem.observation_for` expects) and optimised together: every
restart costs one slice of a batched forward/backward pass instead of a run of its own.
Each step minimises, per element,

    L(z) = sum_i w_i * loss_i(A(G(z)), y)  +  sum_p penalty_p(z, G(z))

then projects ``z`` with every constraint prior (and the solver's own projection, e.g. Yeh's
clamp to [-1, 1]). Iterates are ranked per image by the *measurement loss* alone (penalties
excluded), and the best one across every restart and step is kept by :class:`BestIterate`.

Gradients are taken with ``torch.autograd.grad`` w.r.t. the latents only, so the generator's
(and the discriminator's) parameters never accumulate ``.grad``. There is no host sync in the
loop: histories stay tensors until the monitor converts them at the end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Literal

import torch

from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import BestIterate, SolverResult

Projection = Callable[[MutableMapping[str, torch.Tensor]], None]


@dataclass(frozen=True)
class LatentOptimiser:
    """How latents are optimised: optimiser, steps, learning rate and its schedule, restarts.

    ``schedule="cosine"`` decays the rate as ``lr * (1 + cos(pi * t / steps)) / 2``. ``sgd``
    uses heavy-ball momentum ``momentum``; ``adam`` uses ``betas``.
    """

    steps: int
    lr: float
    optimizer: Literal["adam", "sgd"] = "adam"
    schedule: Literal["constant", "cosine"] = "constant"
    restarts: int = 1
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9

    def __post_init__(self) -> None:
        if self.steps < 0 or self.restarts < 1 or self.lr <= 0:
            raise ValueError(
                f"need steps >= 0, restarts >= 1 and lr > 0; got steps={self.steps}, "
                f"restarts={self.restarts}, lr={self.lr}"
            )

    def make_optimizer(self, parameters: list[torch.Tensor]) -> torch.optim.Optimizer:
        if self.optimizer == "adam":
            return torch.optim.Adam(parameters, lr=self.lr, betas=self.betas)
        if self.optimizer == "sgd":
            return torch.optim.SGD(parameters, lr=self.lr, momentum=self.momentum)
        raise ValueError(f"unknown optimizer {self.optimizer!r}; expected 'adam' or 'sgd'")

    def lr_at(self, step: int) -> float:
        if self.schedule == "cosine" and self.steps > 0:
            return self.lr * 0.5 * (1 + math.cos(math.pi * step / self.steps))
        return self.lr


def optimise_latents(
    problem: InverseProblem,
    settings: LatentOptimiser,
    *,
    generator: torch.Generator | None = None,
    monitor: Monitor | None = None,
    project: Projection | None = None,
    description: str = "latent optimisation",
) -> SolverResult:
    """Optimise ``R * B`` latents for ``problem`` and return the best per image.

    ``best_*`` is the iterate with the lowest measurement loss over every restart and step
    (including the initial latents and the final one); ``last_*`` is, per image, the final
    iterate of the restart that ends lowest. ``history`` has ``loss`` (measurement loss +
    penalties) and ``measurement_loss``, batch means, one per step. When ``monitor`` asks to
    stop, the loop ends after the current step and ``interrupted`` is True.
    """
    model = problem.generator
    if model is None:
        raise ValueError("this solver optimises a generator's latent, but the problem has no generator")
    if problem.reparameterisations:
        names = ", ".join(type(p).__name__ for p in problem.reparameterisations)
        raise ValueError(
            f"this solver optimises the generator's latent directly and cannot use the "
            f"reparameterisation prior(s) {names}; use a solver that optimises their parameters"
        )
    monitor = monitor if monitor is not None else Monitor(show_progress=False)
    batch = problem.batch_size
    started = time.perf_counter()

    variables, as_input = _initial_latents(model, batch * settings.restarts, generator)
    _project(problem, variables, project)
    parameters = list(variables.values())
    optimizer = settings.make_optimizer(parameters)
    best = BestIterate(batch)

    monitor.start(settings.steps, description)
    step = 0
    try:
        while True:
            image = model(as_input(variables))
            measurement = problem.measurement_loss(image)
            best.update(measurement, image, variables)
            if step == settings.steps or monitor.stop_requested:
                break
            total = measurement + problem.penalty(variables, image)
            gradients = torch.autograd.grad(total.sum(), parameters)
            for parameter, gradient in zip(parameters, gradients):
                parameter.grad = gradient
            for group in optimizer.param_groups:
                group["lr"] = settings.lr_at(step)
            optimizer.step()
            _project(problem, variables, project)
            monitor.step(image=image[:batch], loss=total, measurement_loss=measurement)
            step += 1
    finally:
        monitor.close()

    last_index = _best_restart_index(measurement.detach(), batch)
    if image.is_cuda:
        torch.cuda.synchronize(image.device)
    assert best.loss is not None and best.image is not None
    return SolverResult(
        best_image=best.image,
        best_latents=dict(best.variables),
        best_loss=best.loss,
        last_image=image.detach()[last_index],
        last_latents={name: value.detach()[last_index].clone() for name, value in variables.items()},
        history=monitor.history,
        timings={"optimise": time.perf_counter() - started},
        interrupted=step < settings.steps,
        frames=list(monitor.frames),
    )


def _initial_latents(model, count: int, generator: torch.Generator | None):
    """Latents from the generator's training distribution, as a dict of leaf tensors, and the
    function that turns that dict back into what ``model`` takes."""
    sampled = model.sample_latent(count, generator)
    if isinstance(sampled, dict):
        variables = {name: value.detach().clone().requires_grad_(True) for name, value in sampled.items()}
        return variables, lambda current: current
    name = model.primary_latent.name
    variables = {name: sampled.detach().clone().requires_grad_(True)}
    return variables, lambda current: current[name]


@torch.no_grad()
def _project(problem: InverseProblem, variables: dict[str, torch.Tensor], project: Projection | None) -> None:
    problem.project_(variables)
    if project is not None:
        project(variables)


def _best_restart_index(loss: torch.Tensor, batch: int) -> torch.Tensor:
    """Flat indices (restart-major) of the lowest-loss restart of each image."""
    restarts = loss.shape[0] // batch
    best_restart = loss.reshape(restarts, batch).argmin(dim=0)
    return best_restart * batch + torch.arange(batch, device=loss.device)
