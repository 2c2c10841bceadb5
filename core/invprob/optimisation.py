"""One optimisation loop for every solver that searches its variables by gradient descent.

A solver chooses *what* it optimises and *how that becomes an image*; this loop does the rest.

=================  ==========================================  ==============================
solver             variables                                   render
=================  ==========================================  ==============================
CSGM, Yeh          the generator's latents                     ``G``
an ILO round       the state at layer ``k`` (and the latents   ``G2`` of ``G.split(k)``
                   still to come)
LCM                the manifold's parameters ``phi``           ``G(f_phi(s))``
DIP                a network's weights                         the network itself
=================  ==========================================  ==============================

Every variable is batched restart-major: for ``R`` restarts of ``B`` images its leading
dimension is ``R * B`` and element ``r * B + b`` is restart ``r`` of image ``b`` (the layout
:meth:`InverseProblem.observation_for` expects); ``render`` returns ``[R * B, C, H, W]``.
Each step minimises, per element,

    L(v) = sum_i w_i * loss_i(A(render(v)), y)  +  sum_p penalty_p(v, render(v))

with Adam or SGD, then projects ``v`` with every constraint prior of the problem and the
solver's own ``project``. Iterates are ranked per image by the *measurement loss* alone
(penalties excluded) and :class:`~invprob.solver.BestIterate` keeps the best over restarts,
steps and rounds: each call of :func:`optimise` is one round, and a solver with several rounds
passes the same tracker to each.

Speed: gradients come from ``torch.autograd.grad`` w.r.t. the variables only (the generator's
parameters never accumulate ``.grad``), and nothing in the loop reads a tensor back to the
host: the best-iterate tracker works with ``torch.where``, the monitor keeps the history as
tensors, and the learning-rate schedule is a list of floats computed before the first step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Literal

import torch

from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import BestIterate, SolverResult

Variables = dict[str, torch.Tensor]
"""Named leaf tensors that a solver optimises, each ``[R * B, ...]`` restart-major."""
Render = Callable[[Mapping[str, torch.Tensor]], torch.Tensor]
"""Maps the variables to images ``[R * B, C, H, W]`` in [-1, 1]."""
Projection = Callable[[MutableMapping[str, torch.Tensor]], None]
"""Projects the variables in place (``tensor.copy_``/``clamp_``: the optimiser keeps its state)."""
Perturbation = Callable[[torch.Tensor, int], torch.Tensor]
"""``perturb(image, step)``: the image the loss of step ``step`` sees (ILO's stochastic noise addition)."""

SCHEDULES = ("constant", "cosine", "ramp", "one-cycle", "one-cycle-drop")


@dataclass(frozen=True)
class OptimiserSettings:
    """How the variables are optimised: optimiser, steps, learning rate and its schedule.

    The rate at step ``t`` of ``T = steps``, with ``u = t / T``:

    - ``"constant"``: ``lr``;
    - ``"cosine"``: ``lr * (1 + cos(pi * u)) / 2``;
    - ``"ramp"`` (StyleGAN2's projector, used by ILO in every round): a linear ramp-up over
      the first ``ramp_up`` of the steps, then a cosine ramp-down over the last ``ramp_down``,
      ``lr * min(1, u / ramp_up) * (1 - cos(pi * min(1, (1 - u) / ramp_down))) / 2``;
    - ``"one-cycle"`` (PULSE's ``linear1cycle``): from ``lr / 10`` linearly up to ``lr`` at
      the middle and back down, ``lr * (9 * (1 - |2u - 1|) + 1) / 10``;
    - ``"one-cycle-drop"`` (PULSE's default ``linear1cycledrop``): the one-cycle over the first
      90% of the steps, then linearly from ``lr / 10`` to ``lr / 1000``.

    ``sgd`` uses heavy-ball momentum ``momentum``; ``adam`` uses ``betas``.
    """

    steps: int
    lr: float
    optimizer: Literal["adam", "sgd"] = "adam"
    schedule: Literal["constant", "cosine", "ramp", "one-cycle", "one-cycle-drop"] = "constant"
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    ramp_up: float = 0.05
    ramp_down: float = 0.25

    def __post_init__(self) -> None:
        if self.steps < 0 or self.lr <= 0:
            raise ValueError(f"need steps >= 0 and lr > 0; got steps={self.steps}, lr={self.lr}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected 'adam' or 'sgd'")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; expected one of {', '.join(SCHEDULES)}")
        if not (0 < self.ramp_up <= 1 and 0 < self.ramp_down <= 1):
            raise ValueError(f"need ramp_up and ramp_down in (0, 1]; got {self.ramp_up}, {self.ramp_down}")

    def make_optimizer(self, parameters: list[torch.Tensor]) -> torch.optim.Optimizer:
        if self.optimizer == "adam":
            return torch.optim.Adam(parameters, lr=self.lr, betas=self.betas)
        return torch.optim.SGD(parameters, lr=self.lr, momentum=self.momentum)

    def learning_rates(self) -> list[float] | None:
        """The rate of every step, or None when it is constant (nothing to update)."""
        if self.schedule == "constant" or self.steps == 0:
            return None
        return [self.lr * self._factor(step / self.steps) for step in range(self.steps)]

    def _factor(self, u: float) -> float:
        if self.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * u))
        if self.schedule == "ramp":
            down = min(1.0, (1 - u) / self.ramp_down)
            return min(1.0, u / self.ramp_up) * 0.5 * (1 - math.cos(math.pi * down))
        if self.schedule == "one-cycle-drop":
            if u >= 0.9:
                return 0.1 + (u - 0.9) / 0.1 * (1 / 1000 - 1 / 10)
            u = u / 0.9
        return (9 * (1 - abs(2 * u - 1)) + 1) / 10  # one-cycle


def optimise(
    variables: Mapping[str, torch.Tensor],
    render: Render,
    problem: InverseProblem,
    settings: OptimiserSettings,
    *,
    project: Projection | None = None,
    perturb: Perturbation | None = None,
    monitor: Monitor | None = None,
    best: BestIterate | None = None,
    description: str = "optimise",
) -> SolverResult:
    """Optimise ``variables`` so that ``render(variables)`` explains ``problem.observation``.

    ``variables`` are leaf tensors, each ``[R * B, ...]`` restart-major, updated in place
    (``requires_grad`` is switched on). ``project`` is the solver's own projection, applied
    after the problem's constraint priors (on the initial variables too, and after every
    step). ``perturb(image, step)``, when given, is what the loss of each step is computed on
    (ILO's stochastic noise addition adds decaying noise to the image); iterates are still
    ranked by the measurement loss of the unperturbed image. ``best`` is the tracker to update
    (pass the same one to every round of a multi-round solver); a new one is made when None.

    Returns ``best_*`` (lowest measurement loss per image over every restart, step and round
    the tracker has seen, including the initial and the final iterate), ``last_*`` (per image,
    this round's final iterate of the restart that ends lowest), ``history`` (``loss`` =
    measurement loss + penalties and ``measurement_loss``, batch means, one per step),
    ``timings["optimise"]`` and ``best_round``. When ``monitor`` asks to stop, the loop ends
    after the current step and ``interrupted`` is True. The monitor's frames (``frames``) show
    the tracker's best iterate per image at each step, the image that would be reported if
    the run stopped there, not the current iterate of one restart.
    """
    parameters = _leaf_variables(variables, problem.batch_size)
    monitor = monitor if monitor is not None else Monitor(show_progress=False)
    best = best if best is not None else BestIterate(problem.batch_size)
    started = time.perf_counter()
    best.start_round()

    has_penalties = bool(problem.penalties)
    projections = [constraint.project_ for constraint in problem.constraints]
    if project is not None:
        projections.append(project)
    _project(projections, variables)
    optimizer = settings.make_optimizer(parameters)
    rates = settings.learning_rates()

    monitor.start(settings.steps, description)
    step = 0
    try:
        while step < settings.steps and not monitor.stop_requested:
            image = render(variables)
            fitted, measurement = _step_losses(problem, image, perturb, step)
            best.update(measurement, image, variables)
            total = fitted + problem.penalty(variables, image) if has_penalties else fitted
            gradients = torch.autograd.grad(total.sum(), parameters)
            for parameter, gradient in zip(parameters, gradients):
                parameter.grad = gradient
            if rates is not None:
                for group in optimizer.param_groups:
                    group["lr"] = rates[step]
            optimizer.step()
            if projections:
                _project(projections, variables)
            # the frame is what would be reported now: the best restart of each image so far
            monitor.step(image=best.image, loss=total, measurement_loss=measurement)
            step += 1
        with torch.no_grad():  # the iterate the last step (or the stop) left
            image = render(variables)
            measurement = problem.measurement_loss(image)
        best.update(measurement, image, variables)
    finally:
        monitor.close()
    return _result(best, monitor, variables, image, measurement, started, interrupted=step < settings.steps)


def _step_losses(
    problem: InverseProblem, image: torch.Tensor, perturb: Perturbation | None, step: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(fitted, measurement)`` of one step: the measurement loss the gradient follows (of the
    perturbed image when ``perturb`` is given) and the one iterates are ranked by (of ``image``)."""
    if perturb is None:
        measurement = problem.measurement_loss(image)
        return measurement, measurement
    fitted = problem.measurement_loss(perturb(image, step))
    with torch.no_grad():
        return fitted, problem.measurement_loss(image)


def _result(
    best: BestIterate,
    monitor: Monitor,
    variables: Mapping[str, torch.Tensor],
    image: torch.Tensor,
    measurement: torch.Tensor,
    started: float,
    *,
    interrupted: bool,
) -> SolverResult:
    """What :func:`optimise` returns: the tracker's best, and the final iterate (``image``, its
    ``measurement`` loss, ``variables``) of the restart that ends lowest per image."""
    last_index = best.best_restart_index(measurement)
    if image.is_cuda:
        torch.cuda.synchronize(image.device)
    assert best.loss is not None and best.image is not None
    return SolverResult(
        best_image=best.image,
        best_latents=best.variables,
        best_loss=best.loss,
        last_image=image.detach().index_select(0, last_index),
        last_latents={name: value.detach().index_select(0, last_index) for name, value in variables.items()},
        history=monitor.history,
        timings={"optimise": time.perf_counter() - started},
        interrupted=interrupted,
        frames=list(monitor.frames),
        best_round=best.round,
    )


def initial_latents(problem: InverseProblem, restarts: int, rng: torch.Generator | None, *, solver: str) -> Variables:
    """``restarts * B`` latents from the problem's generator, restart-major, as leaf tensors.

    For solvers that optimise the generator's latents directly (CSGM, Yeh): they refuse a
    problem without a generator, and one with a reparameterisation prior, whose variables
    would be the prior's parameters instead.
    """
    model = problem.generator
    if model is None:
        raise ValueError(f"the {solver} solver optimises a generator's latent, but the problem has no generator")
    if problem.reparameterisations:
        names = ", ".join(type(p).__name__ for p in problem.reparameterisations)
        raise ValueError(
            f"the {solver} solver optimises the generator's latent directly and cannot use the "
            f"reparameterisation prior(s) {names}; use a solver that optimises their parameters"
        )
    if restarts < 1:
        raise ValueError(f"the {solver} solver needs restarts >= 1, got {restarts}")
    sampled = model.sample_latent(problem.batch_size * restarts, rng)
    return {name: value.detach().clone().requires_grad_(True) for name, value in sampled.items()}


def _leaf_variables(variables: Mapping[str, torch.Tensor], batch: int) -> list[torch.Tensor]:
    if not variables:
        raise ValueError("nothing to optimise: the variables dict is empty")
    sizes = {name: value.shape[0] if value.dim() else 0 for name, value in variables.items()}
    leading = set(sizes.values())
    if len(leading) != 1 or (size := leading.pop()) == 0 or size % batch:
        raise ValueError(
            f"every variable must be batched restart-major, [R * {batch}, ...] for {batch} image(s); "
            f"got leading sizes {sizes}"
        )
    for name, value in variables.items():
        if not value.is_leaf:
            raise ValueError(f"variable {name!r} is not a leaf tensor: pass value.detach().clone()")
        value.requires_grad_(True)
    return list(variables.values())


@torch.no_grad()
def _project(projections: list[Projection], variables: Mapping[str, torch.Tensor]) -> None:
    for projection in projections:
        projection(variables)  # type: ignore[arg-type]
