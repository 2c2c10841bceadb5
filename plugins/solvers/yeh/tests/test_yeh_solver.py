"""The Yeh solver: defaults, clamping, blending as the last step, no ground truth used."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from invprob.context import BuildContext
from invprob.context_loss import ContextLoss
from invprob.progress import Monitor
from invprob.registry import new_registry
from invprob.testing.toys import make_toy_problem
from invprob_plugin_yeh.solver import YehSolver


def _build(**params):
    registry = new_registry(only={"invprob-plugin-yeh", "invprob-plugin-gan-priors"})
    return registry.build("solvers", "yeh", params, BuildContext(registry=registry, image_shape=(3, 16, 16)))


def _solve(solver, problem, seed: int = 0):
    return solver.solve(problem, generator=torch.Generator().manual_seed(seed), monitor=Monitor(show_progress=False))


def test_changing_the_ground_truth_inside_the_hole_changes_nothing():
    problem = make_toy_problem(batch=2)
    other_truth = problem.ground_truth.clone()
    hole = ~problem.operator.observed_mask().expand_as(other_truth).bool()
    other_truth[hole] = -other_truth[hole]
    other = dataclasses.replace(problem, ground_truth=other_truth)  # observation unchanged
    solver = _build(steps=10, lr=0.05)
    first, second = _solve(solver, problem), _solve(solver, other)
    assert torch.equal(first.best_image, second.best_image)
    assert torch.equal(first.best_latents["z"], second.best_latents["z"])


def test_recipe_without_losses_or_priors_gets_the_context_loss_and_the_discriminator_prior():
    solver = _build(steps=5, lam=0.01, window=5, prior_form="lsgan")
    effective = solver.with_defaults(dataclasses.replace(make_toy_problem(), losses=[], priors=[]))
    (loss,) = effective.losses
    assert isinstance(loss.loss, ContextLoss) and loss.loss.window == 5
    (prior,) = effective.priors
    assert type(prior).__name__ == "DiscriminatorPrior" and prior.lam == 0.01 and prior.form == "lsgan"


def test_recipe_losses_and_penalties_are_kept_as_given():
    problem = make_toy_problem()
    solver = _build(steps=5)
    effective = solver.with_defaults(dataclasses.replace(problem, priors=[solver.default_prior]))
    assert list(effective.losses) == list(problem.losses) and len(effective.priors) == 1


def test_lam_zero_means_no_prior():
    assert _build(steps=5, lam=0.0).default_prior is None


def test_latents_stay_in_the_unit_box_and_blending_keeps_observed_pixels():
    problem = dataclasses.replace(make_toy_problem(batch=2), losses=[])
    result = _solve(_build(steps=15, lr=0.5, restarts=2), problem)
    assert result.best_latents["z"].abs().max() <= 1.0
    observed = problem.operator.observed_mask().expand_as(result.best_image).bool()
    assert torch.equal(result.best_image[observed], problem.observation[observed])
    assert {"optimise", "blend"} <= set(result.timings)
    assert len(result.history["measurement_loss"]) == 15


def test_without_blending_the_result_is_the_generator_output():
    problem = make_toy_problem(batch=2)
    result = _solve(_build(steps=5, blend=False), problem)
    with torch.no_grad():
        torch.testing.assert_close(result.best_image, problem.generator(result.best_latents["z"]))


def test_an_operator_without_a_mask_is_refused_with_the_alternative():
    from invprob.operator import Operator

    class Identity(Operator):
        def A(self, x):
            return x

    problem = dataclasses.replace(make_toy_problem(), operator=Identity())
    with pytest.raises(ValueError, match="use csgm"):
        _solve(YehSolver(steps=1), problem)
