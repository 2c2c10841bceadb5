"""Conformance of solvers on an in-range toy problem.

The problem (:func:`~invprob.testing.toys.make_toy_problem`) inpaints ``G(z*)`` for the tiny
generator, so a good latent exists. A solver, built from its examples (authors give small
step counts there), must return a finite best image of the right shape, report as
``best_loss`` the measurement loss of that image, do better than the random latent it starts
from, and stop early with the best iterate so far when its monitor asks it to.
"""

from __future__ import annotations

import torch

from invprob.hints import with_article
from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import Solver, SolverResult
from invprob.testing.numerics import assert_finite, seeded
from invprob.testing.suite import ComponentCase, ConformanceSuite
from invprob.testing.toys import make_toy_problem


def run_solver(solver: Solver, problem: InverseProblem, *, seed: int = 0, stop: bool = False) -> tuple[SolverResult, Monitor]:
    """``solver.solve`` seeded with ``seed`` and a silent monitor (stop requested up front if ``stop``)."""
    monitor = Monitor(show_progress=False)
    if stop:
        monitor.request_stop()
    result = solver.solve(problem, rng=seeded(seed), monitor=monitor)
    if not isinstance(result, SolverResult):
        raise AssertionError(f"solve returned {with_article(type(result).__qualname__)}, not an invprob.solver.SolverResult")
    return result, monitor


def check_result_shapes(result: SolverResult, problem: InverseProblem) -> None:
    """``best_image`` is ``[B, C, H, W]`` and finite; ``best_loss`` is ``[B]`` and finite; every
    ``best_latents`` entry and ``best_round`` (when given) hold one entry per image."""
    expected = (problem.batch_size, *problem.image_shape)
    if tuple(result.best_image.shape) != expected:
        raise AssertionError(f"best_image has shape {tuple(result.best_image.shape)}, expected {expected}")
    assert_finite(result.best_image, "best_image")
    if tuple(result.best_loss.shape) != (problem.batch_size,):
        raise AssertionError(f"best_loss has shape {tuple(result.best_loss.shape)}, expected ({problem.batch_size},)")
    assert_finite(result.best_loss, "best_loss")
    for name, value in result.best_latents.items():
        if value.shape[:1] != (problem.batch_size,):
            raise AssertionError(
                f"best_latents[{name!r}] has shape {tuple(value.shape)}; it must hold one entry per image, "
                f"[{problem.batch_size}, ...] (the best restart's, not all R * B)"
            )
    if result.best_round is not None and tuple(result.best_round.shape) != (problem.batch_size,):
        raise AssertionError(f"best_round has shape {tuple(result.best_round.shape)}, expected ({problem.batch_size},)")


def check_best_loss_is_measurement_loss(result: SolverResult, problem: InverseProblem, *, rtol: float = 1e-4) -> None:
    """``problem.measurement_loss(best_image)`` equals ``best_loss`` (relative tolerance ``rtol``)."""
    with torch.no_grad():
        recomputed = problem.measurement_loss(result.best_image)
    reported = result.best_loss.to(recomputed)
    if not torch.allclose(recomputed, reported, rtol=rtol, atol=1e-8):
        raise AssertionError(
            f"best_loss {reported.tolist()} is not the measurement loss of best_image, {recomputed.tolist()}: "
            "rank and return iterates by problem.measurement_loss"
        )


def initial_measurement_loss(problem: InverseProblem, *, seed: int = 0) -> torch.Tensor:
    """The measurement loss, per image, of ``G(z0)`` for the latent ``z0`` that a solver seeded
    with ``seed`` draws first (``generator.sample_latent(B, torch.Generator().manual_seed(seed))``; restart 0 of a restart-major batch)."""
    if problem.generator is None:
        raise ValueError("the problem has no generator to draw an initial latent from")
    latent = problem.generator.sample_latent(problem.batch_size, seeded(seed))
    with torch.no_grad():
        return problem.measurement_loss(problem.generator(latent))


def check_loss_decreases(result: SolverResult, problem: InverseProblem, *, seed: int = 0) -> None:
    """Every image ends with a measurement loss no larger than that of the initial random latent,
    and the mean over the batch is strictly smaller."""
    initial = initial_measurement_loss(problem, seed=seed)
    best = result.best_loss.detach().to(initial)
    if bool((best > initial * (1 + 1e-6) + 1e-12).any()) or not float(best.mean()) < float(initial.mean()):
        raise AssertionError(
            f"the best measurement loss {best.tolist()} does not improve on the initial random latent's "
            f"{initial.tolist()}: the solver does not decrease the loss on an in-range target"
        )


def recorded_steps(monitor: Monitor) -> int:
    """How many steps the solver reported to its monitor (the longest history)."""
    return max((len(values) for values in monitor.history.values()), default=0)


def check_stops_when_asked(
    solver: Solver, problem: InverseProblem, *, seed: int = 0, full_run_steps: int | None = None
) -> SolverResult:
    """With ``monitor.stop_requested`` set before ``solve``, the solver returns an
    ``interrupted`` result with a finite best image, after fewer steps than a full run."""
    result, monitor = run_solver(solver, problem, seed=seed, stop=True)
    if not result.interrupted:
        raise AssertionError("the monitor asked the solver to stop, but the result is not marked interrupted=True")
    check_result_shapes(result, problem)
    steps = recorded_steps(monitor)
    if full_run_steps is not None and full_run_steps > 1 and steps >= full_run_steps:
        raise AssertionError(
            f"the solver ran {steps} steps after being asked to stop before it started "
            f"(a full run takes {full_run_steps}): check monitor.stop_requested in the loop"
        )
    return result


class SolverConformance(ConformanceSuite):
    """The solver suite: subclass it and set ``distribution``.

    Each solver is built for :meth:`make_problem`'s image shape and solved once per case; the
    tests share that solve.
    """

    kind = "solvers"
    expected_type = Solver
    image_shapes = [(3, 16, 16)]
    seed = 0

    _solves: dict[tuple[type, str], tuple[InverseProblem, SolverResult, int]] = {}

    def make_problem(self) -> InverseProblem:
        """The problem every solver is run on (override for solvers that need another)."""
        return make_toy_problem(batch=self.batch_size, seed=self.seed)

    def solved(self, case: ComponentCase) -> tuple[InverseProblem, SolverResult, int]:
        """``(problem, result, steps)`` of one full solve of ``case``, computed once."""
        key = (type(self), case.id)
        if key not in SolverConformance._solves:
            problem = self.make_problem()
            solver = self.build(case, image_shape=problem.image_shape)
            result, monitor = run_solver(solver, problem, seed=self.seed)
            SolverConformance._solves[key] = (problem, result, recorded_steps(monitor))
        return SolverConformance._solves[key]

    def test_result_is_finite_with_batch_shapes(self, case: ComponentCase) -> None:
        problem, result, _ = self.solved(case)
        check_result_shapes(result, problem)

    def test_best_loss_is_the_measurement_loss_of_best_image(self, case: ComponentCase) -> None:
        problem, result, _ = self.solved(case)
        check_best_loss_is_measurement_loss(result, problem)

    def test_loss_decreases_on_in_range_target(self, case: ComponentCase) -> None:
        problem, result, _ = self.solved(case)
        check_loss_decreases(result, problem, seed=self.seed)

    def test_stop_request_returns_best_so_far(self, case: ComponentCase) -> None:
        _, _, full_run_steps = self.solved(case)
        problem = self.make_problem()
        solver = self.build(case, image_shape=problem.image_shape)
        check_stops_when_asked(solver, problem, seed=self.seed, full_run_steps=full_run_steps)


__all__ = [
    "SolverConformance",
    "check_best_loss_is_measurement_loss",
    "check_loss_decreases",
    "check_result_shapes",
    "check_stops_when_asked",
    "initial_measurement_loss",
    "run_solver",
]
