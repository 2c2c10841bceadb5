"""The Yeh solver: recipe defaults, the problem's losses and priors, blending as the last step."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from invprob.context import BuildContext
from invprob.problem import WeightedLoss
from invprob.progress import Monitor
from invprob.registry import new_registry
from invprob.testing.toys import make_toy_problem
from invprob_plugin_yeh.context_loss import ContextLoss
from invprob_plugin_yeh.plugin import YEH_DEFAULTS
from invprob_plugin_yeh.solver import YehSolver


def _registry():
    return new_registry(only={"invprob-plugin-yeh", "invprob-plugin-gan-priors"})


def _build(**params):
    registry = _registry()
    return registry.build("solvers", "yeh", params, BuildContext(registry=registry, image_shape=(3, 16, 16)))


def _solve(solver, problem, seed: int = 0):
    return solver.solve(problem, rng=torch.Generator().manual_seed(seed), monitor=Monitor(show_progress=False))


def _with_yeh_defaults(problem):
    """The toy problem with the losses and priors a recipe naming none gets (YEH_DEFAULTS)."""
    registry = _registry()
    context = BuildContext(registry=registry, image_shape=problem.image_shape)
    context.generator = problem.generator
    losses = [WeightedLoss(1.0, registry.build("losses", c["type"], c.get("params"), context)) for c in YEH_DEFAULTS["losses"]]
    priors = [registry.build("priors", c["type"], c.get("params"), context) for c in YEH_DEFAULTS["priors"]]
    return dataclasses.replace(problem, losses=losses, priors=priors)


def test_registration_declares_the_papers_losses_and_priors_as_recipe_defaults():
    component = _registry().components["solvers"]["yeh"]
    assert component.defaults == {
        "losses": [{"type": "context", "params": {"window": 7}}],
        "priors": [{"type": "discriminator", "params": {"lam": 0.003}}, {"type": "box"}],
    }
    problem = _with_yeh_defaults(make_toy_problem())
    (loss,) = problem.losses
    assert isinstance(loss.loss, ContextLoss) and loss.loss.window == 7
    assert [type(p).__name__ for p in problem.priors] == ["DiscriminatorPrior", "BoxConstraint"]


def test_removed_switches_are_refused():
    from pydantic import ValidationError

    for removed in ({"lam": 0.0}, {"clamp": False}, {"window": 5}, {"prior_form": "lsgan"}):
        with pytest.raises(ValidationError):
            _build(**removed)


def test_the_problems_losses_are_optimised_as_given():
    """No hidden defaults: with the MSE problem, best_loss is the MSE of the returned image."""
    problem = make_toy_problem(batch=2)
    result = _solve(_build(steps=5, blend=False), problem)
    with torch.no_grad():
        torch.testing.assert_close(result.best_loss, problem.measurement_loss(result.best_image))


def test_changing_the_ground_truth_inside_the_hole_changes_nothing():
    problem = _with_yeh_defaults(make_toy_problem(batch=2))
    other_truth = problem.ground_truth.clone()
    hole = ~problem.operator.observed_mask().expand_as(other_truth).bool()
    other_truth[hole] = -other_truth[hole]
    other = dataclasses.replace(problem, ground_truth=other_truth)  # observation unchanged
    solver = _build(steps=10, lr=0.05)
    first, second = _solve(solver, problem), _solve(solver, other)
    assert torch.equal(first.best_image, second.best_image)
    assert torch.equal(first.best_latents["z"], second.best_latents["z"])


def test_box_default_keeps_latents_in_the_unit_box_and_blending_keeps_observed_pixels():
    problem = _with_yeh_defaults(make_toy_problem(batch=2))
    result = _solve(_build(steps=15, lr=0.5, restarts=2), problem)
    assert result.best_latents["z"].abs().max() <= 1.0 and result.last_latents["z"].abs().max() <= 1.0
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


def test_the_pre_blend_measurement_loss_is_reported_in_the_notes():
    """After blending the loss is 0 by construction; the note carries the loss of G(z*) itself."""
    import re

    problem = make_toy_problem(batch=2)
    solver = _build(steps=5, restarts=1)
    blended = _solve(solver, problem)
    unblended = _solve(_build(steps=5, restarts=1, blend=False), problem)
    assert blended.best_loss.abs().max() < 1e-10  # observed pixels copied: 0 by construction
    (note,) = [n for n in blended.notes if "before Poisson blending" in n]
    values = [float(v) for v in re.search(r"\[([^\]]*)\]", note).group(1).split(",")]
    assert values == pytest.approx(unblended.best_loss.tolist(), rel=1e-5)
    assert min(values) > 0
    assert not unblended.notes


def test_blending_declares_the_measurement_loss_trivial_so_nothing_ranks_by_it():
    """A study's report must not call Yeh + blend's 0 the best measurement loss."""
    problem = make_toy_problem(batch=2)
    blended = _solve(_build(steps=3, restarts=1), problem)
    unblended = _solve(_build(steps=3, restarts=1, blend=False), problem)
    assert list(blended.trivial_metrics) == ["measurement_loss"]
    assert "Poisson blending" in blended.trivial_metrics["measurement_loss"]
    assert unblended.trivial_metrics == {}
