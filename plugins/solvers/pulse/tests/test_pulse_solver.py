"""PULSE's target-loss report, its fixed noise maps, and its recipe defaults."""

from __future__ import annotations

import pytest
import torch

from invprob.progress import Monitor
from invprob.testing.toys import TinyMappedGenerator, make_toy_problem
from invprob_plugin_pulse.solver import PULSESolver


def _solve(solver, problem):
    return solver.solve(problem, rng=torch.Generator().manual_seed(0), monitor=Monitor(show_progress=False))


def test_when_eps_is_not_reached_it_says_so_and_returns_the_best():
    problem = make_toy_problem(batch=2)
    with pytest.warns(UserWarning, match="did not reach the target loss eps=1e-12 for 2 of 2"):
        result = _solve(PULSESolver(steps=10, lr=0.1, eps=1e-12), problem)
    assert len(result.notes) == 1 and "the best result found is returned" in result.notes[0]
    assert torch.isfinite(result.best_image).all()
    with torch.no_grad():
        torch.testing.assert_close(problem.measurement_loss(result.best_image), result.best_loss)


def test_when_eps_is_reached_there_is_no_note(recwarn):
    problem = make_toy_problem(batch=2)
    result = _solve(PULSESolver(steps=10, lr=0.1, eps=10.0), problem)
    assert result.notes == [] and not [w for w in recwarn if "PULSE" in str(w.message)]


def test_noise_maps_beyond_the_first_ones_stay_fixed():
    problem = make_toy_problem(batch=2)
    problem.generator = TinyMappedGenerator().eval().requires_grad_(False)
    optimised = _solve(PULSESolver(steps=5, lr=0.1, eps=None, noise_layers=1), problem)
    fixed = _solve(PULSESolver(steps=5, lr=0.1, eps=None, noise_layers=0), problem)
    assert sorted(optimised.best_latents) == ["noise", "w"]
    assert sorted(fixed.best_latents) == ["w"]


def test_the_recipe_defaults_are_pulses_objective_scale():
    """PULSE's 100 * L2 on [0, 1] images is 25 * MSE on [-1, 1]; the sphere is the solver's own."""
    from invprob.registry import new_registry

    registry = new_registry(only={"invprob-plugin-pulse", "invprob-plugin-latent-geometry"})
    component = registry.components["solvers"]["pulse"]
    assert component.defaults == {"losses": [{"type": "mse", "weight": 25.0}]}
