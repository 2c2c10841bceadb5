"""The one optimisation loop (`invprob.optimisation`) and the one best-iterate tracker
(`invprob.solver.BestIterate`): custom renders, rounds with different variables, stopping,
projections and histories kept as tensors."""

from __future__ import annotations

import dataclasses
import math
import sys

import pytest
import torch

from invprob.optimisation import OptimiserSettings, initial_latents, optimise
from invprob.prior import Constraint, Reparameterisation
from invprob.progress import Monitor
from invprob.solver import BestIterate
from invprob.testing.toys import make_toy_problem


def _z(latents) -> torch.Tensor:
    return latents["z"] if isinstance(latents, dict) else latents


def _pixels(problem, restarts: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    """Image-shaped variables ``[R * B, C, H, W]`` (the render is tanh of them: no generator)."""
    shape = (restarts * problem.batch_size, *problem.image_shape)
    return {"x": torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 0.1}


def _tanh(variables):
    return torch.tanh(variables["x"])


class _Clamp(Constraint):
    def __init__(self, variable: str, bound: float):
        super().__init__(variable)
        self.bound = bound

    def project(self, value):
        return value.clamp(-self.bound, self.bound)


def test_a_custom_render_without_a_generator_is_optimised():
    problem = dataclasses.replace(make_toy_problem(batch=2), generator=None)
    variables = _pixels(problem)
    with torch.no_grad():
        start = problem.measurement_loss(_tanh(variables))
    result = optimise(variables, _tanh, problem, OptimiserSettings(steps=30, lr=0.1))
    assert torch.all(result.best_loss < 0.5 * start)
    with torch.no_grad():
        torch.testing.assert_close(result.best_image, _tanh(result.best_latents))
        torch.testing.assert_close(result.best_loss, problem.measurement_loss(result.best_image))
    assert result.best_round.tolist() == [0, 0]


def test_the_loop_optimises_whatever_a_reparameterising_solver_hands_it():
    """Reparameterisations are a solver's business: the loop does not refuse them."""

    class Scale(Reparameterisation):
        def forward(self):
            return {}

    problem = dataclasses.replace(make_toy_problem(batch=1), priors=[Scale()], generator=None)
    result = optimise(_pixels(problem), _tanh, problem, OptimiserSettings(steps=2, lr=0.1))
    assert result.best_image.shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="cannot use the reparameterisation"):
        initial_latents(dataclasses.replace(make_toy_problem(), priors=[Scale()]), 1, None, solver="csgm")


def test_restarts_are_ranked_per_image_restart_major():
    problem = dataclasses.replace(make_toy_problem(batch=2), generator=None)
    variables = _pixels(problem, restarts=3)
    with torch.no_grad():
        losses = problem.measurement_loss(_tanh(variables)).reshape(3, 2)
    result = optimise(variables, _tanh, problem, OptimiserSettings(steps=0, lr=0.1))
    torch.testing.assert_close(result.best_loss, losses.min(dim=0).values)
    winners = losses.argmin(dim=0) * 2 + torch.arange(2)
    torch.testing.assert_close(result.best_latents["x"], variables["x"].detach()[winners])


def test_constraints_and_the_solvers_projection_apply_from_the_start_and_after_every_step():
    problem = dataclasses.replace(make_toy_problem(batch=2), generator=None, priors=[_Clamp("x", 0.3)])
    variables = {"x": torch.full((2, *problem.image_shape), 2.0)}
    seen = []

    def halve_the_first_channel(values):
        seen.append(float(values["x"].abs().max()))
        values["x"][:, 0].mul_(0.5)

    result = optimise(variables, _tanh, problem, OptimiserSettings(steps=4, lr=1.0), project=halve_the_first_channel)
    assert seen[0] == pytest.approx(0.3)  # the problem's constraint runs before the solver's projection
    assert len(seen) == 5  # the initial variables and after each of the 4 steps
    assert result.best_latents["x"].abs().max() <= 0.3
    assert result.last_latents["x"][:, 0].abs().max() <= 0.15 + 1e-7


def test_stop_request_returns_the_initial_iterate_marked_interrupted():
    problem = dataclasses.replace(make_toy_problem(batch=2), generator=None)
    variables = _pixels(problem)
    with torch.no_grad():
        start = problem.measurement_loss(_tanh(variables))
    monitor = Monitor(show_progress=False)
    monitor.request_stop()
    result = optimise(variables, _tanh, problem, OptimiserSettings(steps=50, lr=0.1), monitor=monitor)
    assert result.interrupted and result.history == {}
    torch.testing.assert_close(result.best_loss, start)


class _RecordingMonitor(Monitor):
    """Records the types the loop hands to ``step``."""

    def __init__(self):
        super().__init__(show_progress=False)
        self.kinds: set[type] = set()

    def step(self, image=None, **scalars):
        self.kinds |= {type(v) for v in scalars.values()}
        super().step(image=image, **scalars)


def test_the_history_stays_tensors_until_the_run_ends():
    problem = dataclasses.replace(make_toy_problem(batch=2), generator=None)
    monitor = _RecordingMonitor()
    result = optimise(_pixels(problem), _tanh, problem, OptimiserSettings(steps=6, lr=0.1), monitor=monitor)
    assert monitor.kinds == {torch.Tensor}
    assert all(isinstance(v, torch.Tensor) for values in monitor._history.values() for v in values)
    assert set(result.history) == {"loss", "measurement_loss"}
    assert all(isinstance(v, float) for v in result.history["loss"]) and len(result.history["loss"]) == 6


def test_the_cosine_schedule_is_computed_once_before_the_loop():
    settings = OptimiserSettings(steps=4, lr=0.2, schedule="cosine")
    assert settings.learning_rates() == pytest.approx([0.2 * 0.5 * (1 + math.cos(math.pi * t / 4)) for t in range(4)])
    assert OptimiserSettings(steps=4, lr=0.2).learning_rates() is None


def test_variables_must_be_batched_leaves():
    problem = make_toy_problem(batch=2)
    settings = OptimiserSettings(steps=1, lr=0.1)
    with pytest.raises(ValueError, match="restart-major"):
        optimise({"x": torch.zeros(3, 3, 16, 16)}, _tanh, problem, settings)
    with pytest.raises(ValueError, match="not a leaf"):
        optimise({"x": torch.zeros(2, 3, 16, 16, requires_grad=True) * 1}, _tanh, problem, settings)


def test_csgm_style_latents_render_through_the_generator():
    problem = make_toy_problem(batch=2)
    latents = initial_latents(problem, 2, torch.Generator().manual_seed(0), solver="test")
    assert set(latents) == {"z"} and latents["z"].shape == (4, 8) and latents["z"].is_leaf
    result = optimise(latents, problem.generator, problem, OptimiserSettings(steps=5, lr=0.1))
    with torch.no_grad():
        torch.testing.assert_close(result.best_image, problem.generator(result.best_latents["z"]))


# -- rounds -----------------------------------------------------------------------------------


def _two_rounds(problem, second: dict[str, torch.Tensor], render_second):
    """Round 0 optimises the generator's z; round 1 the given variables; one tracker."""
    best = BestIterate(problem.batch_size)
    first = initial_latents(problem, 1, torch.Generator().manual_seed(0), solver="test")
    optimise(first, problem.generator, problem, OptimiserSettings(steps=0, lr=0.1), best=best)
    return optimise(second, render_second, problem, OptimiserSettings(steps=0, lr=0.1), best=best)


def test_each_image_keeps_the_round_of_its_best_and_no_variable_is_zero_filled():
    problem = make_toy_problem(batch=2)
    # round 1 renders the truth for image 1 only and noise for image 0
    pixels = problem.ground_truth.clone()
    pixels[0] = torch.rand(problem.image_shape, generator=torch.Generator().manual_seed(5)) * 2 - 1
    result = _two_rounds(problem, {"x": pixels}, lambda v: v["x"])
    assert result.best_round.tolist() == [0, 1]
    assert result.best_loss[1] == 0
    # z exists only in round 0 and x only in round 1: neither is defined for both images
    assert result.best_latents == {}
    torch.testing.assert_close(result.best_image[1], problem.ground_truth[1])


def test_a_variable_in_every_best_round_is_taken_per_image_from_its_round():
    problem = make_toy_problem(batch=2)
    truth_z = _z(problem.generator.sample_latent(2, torch.Generator().manual_seed(1000)))  # make_toy_problem's z*
    second_z = torch.stack([torch.full((8,), 3.0), truth_z[1]])
    result = _two_rounds(problem, {"z": second_z, "extra": torch.zeros(2, 5)}, lambda v: problem.generator(v["z"]))
    assert result.best_round.tolist() == [0, 1]
    first_z = _z(problem.generator.sample_latent(2, torch.Generator().manual_seed(0)))
    torch.testing.assert_close(result.best_latents["z"], torch.stack([first_z[0], truth_z[1]]))
    assert set(result.best_latents) == {"z"}  # 'extra' is not defined for image 0's round


def test_when_every_image_is_best_in_the_last_round_its_variables_are_reported():
    problem = make_toy_problem(batch=2)
    result = _two_rounds(problem, {"x": problem.ground_truth.clone()}, lambda v: v["x"])
    assert result.best_round.tolist() == [1, 1]
    assert set(result.best_latents) == {"x"}
    torch.testing.assert_close(result.best_latents["x"], problem.ground_truth)


def test_the_tracker_keeps_an_earlier_better_iterate():
    best = BestIterate(2)
    image = torch.zeros(2, 1, 2, 2)
    best.update(torch.tensor([1.0, 5.0]), image, {"v": torch.tensor([[1.0], [2.0]])})
    best.update(torch.tensor([3.0, 4.0, 2.0, 9.0]), image.repeat(2, 1, 1, 1), {"v": torch.tensor([[3.0], [4.0], [5.0], [6.0]])})
    assert best.loss.tolist() == [1.0, 4.0]
    assert best.variables["v"].tolist() == [[1.0], [4.0]]
    assert best.start_round() == 1 and best.start_round() == 1  # a round with no update yet is not skipped
    assert best.round.tolist() == [0, 0]


def test_a_diverged_iterate_never_wins_and_a_diverged_first_one_is_replaced():
    nan = float("nan")
    best = BestIterate(2)
    image = torch.zeros(4, 1, 2, 2)
    # restart-major: restart 0 of image 0 diverged, restart 1 of image 0 is finite
    best.update(torch.tensor([nan, 3.0, 2.0, 1.0]), image, {"v": torch.tensor([[1.0], [2.0], [3.0], [4.0]])})
    assert best.loss.tolist() == [2.0, 1.0] and best.variables["v"].tolist() == [[3.0], [4.0]]
    first_diverged = BestIterate(1)
    first_diverged.update(torch.tensor([nan]), image[:1], {"v": torch.tensor([[1.0]])})
    first_diverged.update(torch.tensor([7.0]), image[:1], {"v": torch.tensor([[2.0]])})
    assert first_diverged.loss.tolist() == [7.0] and first_diverged.variables["v"].tolist() == [[2.0]]


_HOST_READS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")


def test_invprob_code_reads_nothing_back_to_the_host_between_steps(monkeypatch):
    """Between the first step and the end, no invprob frame calls ``.item()``, ``bool(t)``,
    ``float(t)``, ``.tolist()``, ``.cpu()`` ... on a tensor (each is a device sync on CUDA).
    torch's own code (Adam's CPU step counter) is not ours to judge."""
    guard = {"on": False}

    def guarded(name, original):
        def method(self, *args, **kwargs):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if guard["on"] and caller.startswith("invprob"):
                raise AssertionError(f"{caller} calls Tensor.{name} inside the optimisation loop")
            return original(self, *args, **kwargs)

        return method

    for name in _HOST_READS:
        monkeypatch.setattr(torch.Tensor, name, guarded(name, getattr(torch.Tensor, name)))

    class Guarding(Monitor):
        def step(self, image=None, **scalars):
            super().step(image=image, **scalars)
            guard["on"] = True

        def close(self):
            guard["on"] = False
            super().close()

    problem = dataclasses.replace(make_toy_problem(batch=2), priors=[_Clamp("z", 0.9)])
    latents = initial_latents(problem, 3, torch.Generator().manual_seed(0), solver="test")
    settings = OptimiserSettings(steps=6, lr=0.1, schedule="cosine")
    result = optimise(latents, problem.generator, problem, settings, monitor=Guarding(show_progress=False))
    assert len(result.history["loss"]) == 6 and not guard["on"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_loop_does_not_synchronise_with_the_host_between_steps():
    problem = make_toy_problem(batch=2)
    problem = dataclasses.replace(
        problem,
        generator=problem.generator.cuda(),
        operator=problem.operator.cuda(),
        observation=problem.observation.cuda(),
        ground_truth=None,
    )

    class Strict(Monitor):
        """Turns CUDA's sync debug mode to 'error' after the first step, back off at the end."""

        def step(self, image=None, **scalars):
            super().step(image=image, **scalars)
            torch.cuda.set_sync_debug_mode("error")

        def close(self):
            torch.cuda.set_sync_debug_mode("default")
            super().close()

    latents = {name: value.cuda().detach().requires_grad_(True) for name, value in initial_latents(problem, 2, None, solver="test").items()}
    monitor = Strict(show_progress=False)
    try:
        result = optimise(latents, problem.generator, problem, OptimiserSettings(steps=5, lr=0.1, schedule="cosine"), monitor=monitor)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert len(result.history["loss"]) == 5


def test_the_ramp_schedule_ramps_up_linearly_then_down_by_a_cosine():
    rates = OptimiserSettings(steps=100, lr=0.1, schedule="ramp", ramp_up=0.05, ramp_down=0.25).learning_rates()
    assert rates is not None and len(rates) == 100
    assert rates[0] == 0 and rates[1] == pytest.approx(0.1 * 1 / 5) and rates[5] == pytest.approx(0.1)
    assert rates[50] == pytest.approx(0.1) and rates[75] == pytest.approx(0.1)
    assert rates[87] == pytest.approx(0.1 * 0.5 * (1 - math.cos(math.pi * 13 / 25)))
    assert all(a >= b for a, b in zip(rates[75:], rates[76:]))


def test_the_one_cycle_schedule_goes_from_a_tenth_to_the_rate_and_back():
    rates = OptimiserSettings(steps=10, lr=1.0, schedule="one-cycle").learning_rates()
    assert rates is not None
    assert rates[0] == pytest.approx(0.1) and rates[5] == pytest.approx(1.0) and rates[9] == pytest.approx(0.28)


def test_a_perturbation_shapes_the_gradient_but_iterates_are_ranked_by_the_clean_loss():
    problem = make_toy_problem(batch=2)
    calls = []

    def perturb(image, step):
        calls.append(step)
        return image + 10.0  # a loss on this image is far larger than the clean one

    latents = initial_latents(problem, 1, torch.Generator().manual_seed(0), solver="test")
    result = optimise(latents, problem.generator, problem, OptimiserSettings(steps=5, lr=0.05), perturb=perturb)
    assert calls == [0, 1, 2, 3, 4]
    with torch.no_grad():
        torch.testing.assert_close(problem.measurement_loss(result.best_image), result.best_loss)
    assert float(result.best_loss.max()) < 1.0
