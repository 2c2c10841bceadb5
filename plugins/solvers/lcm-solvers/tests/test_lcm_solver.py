"""The lcm solver: phi on the convolutional manifold (box after every step), z without it, bad inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import invprob
from invprob.context import BuildContext
from invprob.losses import MSELoss
from invprob.problem import InverseProblem, WeightedLoss
from invprob.progress import Monitor
from invprob.registry import default_registry
from invprob.seeding import make_rng
from invprob.testing.toys import MaskOperator
from invprob_plugin_lcm_solvers.lcm import LCMSolver

REPO = Path(__file__).resolve().parents[4]
SMALL_HOURGLASS = {"model": None, "size": 32, "latent_channels": 4, "latent_size": 16, "width": 4, "seed": 0}
SMALL_MANIFOLD = {"channels": [4, 4], "bound": 0.01, "seed": 0}


@pytest.fixture(autouse=True)
def real_plugins(installed_registry):
    """The installed plugins (the hourglass generator and the conv-manifold prior), whatever other fixtures did."""


def _problem(with_manifold: bool, batch: int = 2) -> tuple[InverseProblem, object]:
    registry = default_registry()
    context = BuildContext(registry=registry, seed=0)
    generator = registry.build("generators", "lcm-hourglass", SMALL_HOURGLASS, context).eval().requires_grad_(False)
    context.image_shape = generator.image_shape
    context.generator = generator
    prior = registry.build("priors", "conv-manifold", SMALL_MANIFOLD, context)
    # an in-range target: G(f_phi*(s)) for a phi* drawn from another seed than the solver's start
    truth_prior = registry.build("priors", "conv-manifold", {**SMALL_MANIFOLD, "seed": 7}, context)
    truth_prior.initialise(generator.sample_latent(batch, make_rng(1)))
    with torch.no_grad():
        truth = generator(truth_prior())
    operator = MaskOperator(generator.image_shape)
    problem = InverseProblem(
        operator=operator,
        observation=operator.A(truth),
        image_shape=generator.image_shape,
        generator=generator,
        losses=[WeightedLoss(1.0, MSELoss())],
        priors=[prior] if with_manifold else [],
        ground_truth=truth,
    )
    return problem, prior


def _record_phi(prior, monkeypatch) -> list[dict[str, torch.Tensor]]:
    """Every phi the generator is rendered from (render calls net.latent once per step)."""
    seen: list[dict[str, torch.Tensor]] = []
    original = type(prior).initialise

    def initialise(self, template, rng=None):
        original(self, template, rng)
        latent = self.net.latent

        def recording(params):
            seen.append({k: v.detach().clone() for k, v in params.items()})
            return latent(params)

        monkeypatch.setattr(self.net, "latent", recording)

    monkeypatch.setattr(type(prior), "initialise", initialise)
    return seen


def test_phi_stays_in_the_box_after_every_step(monkeypatch):
    problem, prior = _problem(with_manifold=True)
    seen = _record_phi(prior, monkeypatch)
    # a rate far above the box: without the clamp, the first step leaves [-0.01, 0.01]
    LCMSolver(steps=8, lr=0.05, optimizer="adam").solve(problem, rng=make_rng(0), monitor=Monitor(show_progress=False))
    assert len(seen) >= 9  # the start, every step, and the final iterate
    conv_keys = prior.net.conv_keys()
    for step, phi in enumerate(seen):
        for key in conv_keys:
            assert float(phi[key].abs().max()) <= 0.01 + 1e-7, (step, key)
    assert any(float(seen[-1][key].abs().max()) >= 0.01 - 1e-7 for key in conv_keys)  # the clamp was active
    assert any(float(seen[-1][key].abs().max()) > 0.011 for key in seen[-1] if key not in conv_keys)  # BN is free


def test_every_image_starts_from_the_same_phi(monkeypatch):
    problem, prior = _problem(with_manifold=True, batch=3)
    seen = _record_phi(prior, monkeypatch)
    LCMSolver(steps=1).solve(problem, rng=make_rng(0))
    first = seen[0]
    for value in first.values():
        assert torch.equal(value[0], value[1]) and torch.equal(value[0], value[2])
    expected = prior.net.initial_parameters(1, prior.net.seed, bound=prior.bound)
    for name, value in expected.items():
        assert torch.equal(first[name][:1], value), name


def test_on_the_manifold_the_loss_decreases_and_phi_and_z_are_returned():
    problem, prior = _problem(with_manifold=True)
    result = LCMSolver(steps=40, lr=0.002, optimizer="adam").solve(problem, rng=make_rng(0), monitor=Monitor(show_progress=False))
    start = result.history["measurement_loss"][0]
    assert float(result.best_loss.mean()) < 0.7 * start
    assert result.best_image.shape == (2, *problem.image_shape)
    assert result.best_latents["z"].shape == (2, *problem.generator.latent_spaces["z"].shape)
    for name in prior.net.conv_keys():
        assert result.best_latents[name].shape[0] == 2
    with torch.no_grad():
        torch.testing.assert_close(problem.measurement_loss(problem.generator(result.best_latents["z"])), result.best_loss)


def test_restarts_on_the_manifold_are_one_batch_and_the_best_is_kept_per_image():
    problem, _ = _problem(with_manifold=True)
    one = LCMSolver(steps=10, lr=0.002, restarts=1, optimizer="adam").solve(problem, rng=make_rng(0))
    problem, _ = _problem(with_manifold=True)
    two = LCMSolver(steps=10, lr=0.002, restarts=2, optimizer="adam").solve(problem, rng=make_rng(0))
    assert two.best_image.shape == one.best_image.shape
    assert (two.best_loss <= one.best_loss * (1 + 1e-5)).all()  # restart 0 is the single run's start


def test_without_the_manifold_z_is_optimised_directly():
    problem, _ = _problem(with_manifold=False)
    result = LCMSolver(steps=30).solve(problem, rng=make_rng(0), monitor=Monitor(show_progress=False))
    assert set(result.best_latents) == {"z"}
    assert result.best_latents["z"].shape == (2, *problem.generator.latent_spaces["z"].shape)
    assert float(result.best_loss.mean()) < result.history["measurement_loss"][0]


def test_another_reparameterisation_is_refused_naming_the_fix():
    from invprob.prior import Reparameterisation

    problem, _ = _problem(with_manifold=False)
    problem.priors = [Reparameterisation()]
    with pytest.raises(ValueError, match="use one conv-manifold prior, or none to optimise z"):
        LCMSolver(steps=1).solve(problem)


def test_without_a_generator_solve_says_what_to_add():
    problem, _ = _problem(with_manifold=False)
    problem.generator = None
    with pytest.raises(ValueError, match="the lcm solver restores through a trained generator, but the problem has none"):
        LCMSolver(steps=1).solve(problem)


def test_a_recipe_with_the_lcm_solver_and_no_generator_is_invalid_before_anything_is_built():
    from invprob.recipe import RecipeError

    with pytest.raises(RecipeError) as caught:
        invprob.load_recipe(REPO / "recipes" / "demo.yaml", ["~generator", "solver.type=lcm", "solver.params={steps: 3}"])
    assert "solver.type: solver 'lcm' works on a generator's latent" in str(caught.value)


@pytest.mark.parametrize("change", [{}, {"seed": 1}, {"channels": [8, 16, 16]}, {"bound": 0.05}])
def test_a_manifold_other_than_the_trained_one_is_refused(change):
    """The committed LCM model records its manifold: restoring on another would silently optimise
    a latent the generator never saw."""
    from invprob_plugin_lcm_solvers.lcm import check_trained_manifold

    registry = default_registry()
    context = BuildContext(registry=registry, seed=0)
    generator = registry.build("generators", "lcm-hourglass", {"model": "lcm-faces64"}, context)
    prior = registry.build("priors", "conv-manifold", change, context)
    prior.initialise(generator.sample_latent(1, make_rng(0)))
    if not change:
        check_trained_manifold(generator, prior.net.config(), prior.bound)  # the defaults are the model's
        return
    with pytest.raises(ValueError, match="not the manifold this LCM model was trained with: " + next(iter(change))):
        check_trained_manifold(generator, prior.net.config(), prior.bound)


def test_the_solver_checks_the_manifold_before_optimising():
    registry = default_registry()
    context = BuildContext(registry=registry, seed=0)
    generator = registry.build("generators", "lcm-hourglass", {"model": "lcm-faces64"}, context).eval()
    operator = MaskOperator(generator.image_shape)
    truth = torch.zeros(1, *generator.image_shape)
    problem = InverseProblem(operator=operator, observation=operator.A(truth), image_shape=generator.image_shape,
                             generator=generator, losses=[WeightedLoss(1.0, MSELoss())],
                             priors=[registry.build("priors", "conv-manifold", {"seed": 3}, context)])  # fmt: skip
    with pytest.raises(ValueError, match=r"seed: 3 \(trained: 0\)"):
        LCMSolver(steps=1).solve(problem, rng=make_rng(0))
