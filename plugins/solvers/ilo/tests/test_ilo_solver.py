"""ILO's rounds: the l1 balls, the projection back to the range, the best over rounds, SNA, settings."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from invprob.optimisation import OptimiserSettings
from invprob.progress import Monitor
from invprob.testing.toys import TinyGenerator, make_toy_problem
from invprob_plugin_ilo.plugin import ILOParams
from invprob_plugin_ilo.schedule import NoiseAddition, per_round
from invprob_plugin_ilo.solver import ILOSolver, project_to_range


def _solve(solver: ILOSolver, problem, seed: int = 0):
    return solver.solve(problem, rng=torch.Generator().manual_seed(seed), monitor=Monitor(show_progress=False))


def _distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> torch.Tensor:
    return sum((a[name] - b[name]).reshape(a[name].shape[0], -1).square().sum(dim=1) for name in b).sqrt()


def test_projection_back_to_the_range_reduces_the_distance_to_the_intermediate_solution():
    generator = TinyGenerator().eval().requires_grad_(False)
    segment = generator.segment(0, 1)
    start = {"z": generator.sample_latent(3, torch.Generator().manual_seed(0))["z"]}
    with torch.no_grad():
        in_range = segment({"z": generator.sample_latent(3, torch.Generator().manual_seed(1))["z"]})
        solution = {name: value + 0.05 * torch.randn_like(value) for name, value in in_range.items()}  # off the range
        before = _distance(segment(start), solution)
    fitted = project_to_range(segment, start, solution, OptimiserSettings(steps=200, lr=0.05))
    with torch.no_grad():
        after = _distance(segment(fitted), solution)
    assert (after < 0.5 * before).all(), (before, after)


def test_the_projection_back_to_the_range_is_a_switch_that_runs_between_rounds():
    """With the projection, the point the next round starts from is G1 of a fitted latent."""
    problem = make_toy_problem(batch=2)
    with_range = _solve(
        ILOSolver(steps=[10, 10, 10], lr=0.05, radius_features=[20.0, 20.0], project_to_range=True, range_steps=10), problem
    )
    without = _solve(ILOSolver(steps=[10, 10, 10], lr=0.05, radius_features=[20.0, 20.0], project_to_range=False), problem)
    assert set(with_range.timings) == {"round0", "round1", "range1", "round2"}
    assert "range1" not in without.timings
    assert torch.isfinite(with_range.best_loss).all() and torch.isfinite(without.best_loss).all()


def test_radius_zero_keeps_every_deeper_round_at_the_previous_best_with_best_overall():
    problem = make_toy_problem(batch=2)
    solver = ILOSolver(steps=[20, 20, 20], lr=0.05, radius_features=0.0, best="overall")
    result = _solve(solver, problem)
    with torch.no_grad():
        losses = [problem.measurement_loss(result.extra_images[f"round{k}"]) for k in range(3)]
    torch.testing.assert_close(losses[1], losses[0])
    torch.testing.assert_close(losses[2], losses[0])
    assert result.best_round.tolist() == [0, 0]


def test_by_default_each_round_starts_from_the_last_iterate_and_the_result_is_the_last_rounds_best():
    """Official: round k starts from round k-1's last iterate; the best is reset every round."""
    problem = make_toy_problem(batch=2)
    result = _solve(ILOSolver(steps=[20, 20, 20], lr=0.05, radius_features=0.0), problem)
    start = _round0_last(problem)
    with torch.no_grad():
        last_of_round0 = problem.generator(start)
    torch.testing.assert_close(result.extra_images["round1"], last_of_round0)
    torch.testing.assert_close(result.extra_images["round2"], last_of_round0)
    torch.testing.assert_close(result.best_image, result.extra_images["round2"])
    assert result.best_round.tolist() == [2, 2]


def _round0_last(problem):
    """The latents round 0 of the solver above ends at (the same seed, one round)."""
    one = _solve(ILOSolver(steps=[20], lr=0.05, rounds=1), problem)
    return one.last_latents


def test_the_best_over_all_rounds_is_kept_when_a_later_round_ends_worse():
    problem = make_toy_problem(batch=2)
    # round 1 with a rate far too large in a huge ball: it ends far worse than round 0
    solver = ILOSolver(steps=[40, 20], lr=[0.05, 50.0], radius_features=1e6, schedule="constant", best="overall")
    result = _solve(solver, problem)
    with torch.no_grad():
        per_round = torch.stack([problem.measurement_loss(result.extra_images[f"round{k}"]) for k in range(2)])
        last = problem.measurement_loss(result.last_image)
    assert (last > result.best_loss).all()
    torch.testing.assert_close(result.best_loss, per_round.min(dim=0).values)
    assert torch.equal(result.best_round, per_round.argmin(dim=0)) or bool((per_round[0] == per_round[1]).any())
    assert sorted(result.best_latents) in (["z"], ["features"], [])


def test_best_latents_are_the_variables_of_each_images_best_round():
    problem = make_toy_problem(batch=2)
    result = _solve(ILOSolver(steps=[30, 30], lr=0.05, radius_features=50.0), problem)
    assert result.best_round.shape == (2,)
    rounds = set(result.best_round.tolist())
    if rounds == {1}:
        assert sorted(result.best_latents) == ["features"]
        with torch.no_grad():
            image = problem.generator.split(1)[1](result.best_latents)
        torch.testing.assert_close(image, result.best_image)


def test_per_round_settings_broadcast_a_scalar_and_check_a_list():
    solver = ILOSolver(steps=7, rounds=3, lr=[0.1, 0.05, 0.01], radius_features=2.0)
    assert solver.steps == [7, 7, 7] and solver.lr == [0.1, 0.05, 0.01]
    assert solver.radii["features"] == [2.0, 2.0]
    with pytest.raises(ValueError, match="lr has 2 entries but there are 3 rounds"):
        ILOSolver(steps=[5, 5, 5], lr=[0.1, 0.1])
    with pytest.raises(ValueError, match="radius_features has 3 entries but there are 2 deeper rounds"):
        ILOSolver(steps=[5, 5, 5], radius_features=[1.0, 2.0, 3.0])
    beyond_the_paper = ILOSolver(steps=[2] * 5)  # 4 deeper rounds; the paper gives 3 feature radii
    with pytest.raises(ValueError, match="round 4 optimises 'features', which takes radius_features, but the paper"):
        beyond_the_paper._radius("features", 4, TinyGenerator())
    assert beyond_the_paper._radius("features", 3, TinyGenerator()) == 2000.0


def test_the_params_model_reports_every_list_of_the_wrong_length():
    with pytest.raises(ValidationError) as error:
        ILOParams(steps=[10, 10, 10], lr=[0.1, 0.1], radius_features=[1.0])
    message = str(error.value)
    assert "lr has 2 entries for 3 rounds" in message
    assert "radius_features has 1 entries for 2 deeper rounds" in message
    assert ILOParams(steps=10, rounds=2, radius_features=3.0).rounds == 2


def test_too_many_rounds_for_the_generator_is_an_error_that_says_how_many_fit():
    generator = TinyGenerator()
    with pytest.raises(ValueError, match="use at most 4 rounds"):
        ILOSolver(steps=[5] * 5, radius_features=1.0).check_generator(generator)
    ILOSolver(steps=[5] * 4, radius_features=1.0).check_generator(generator)  # the last round optimises pixels


def test_noise_addition_is_constant_as_the_paper_by_default():
    sna = NoiseAddition(25.0, steps=100, rng=torch.Generator().manual_seed(0))
    assert [sna.strength(t) for t in (0, 50, 99)] == [pytest.approx(25 / 127.5)] * 3


def test_noise_addition_with_a_ramp_decays_to_nothing_and_is_seeded():
    sna = NoiseAddition(25.0, steps=100, rng=torch.Generator().manual_seed(0), ramp=0.75)
    assert sna.strength(0) == pytest.approx(25 / 127.5)
    strengths = [sna.strength(t) for t in range(100)]
    assert all(a >= b for a, b in zip(strengths, strengths[1:])) and strengths[75] == 0
    image = torch.zeros(1, 3, 4, 4)
    again = NoiseAddition(25.0, steps=100, rng=torch.Generator().manual_seed(0), ramp=0.75)
    assert torch.equal(sna(image, 3), again(image, 3)) and not torch.equal(sna(image, 3), image)
    assert sna(image, 80) is image


def test_with_sna_iterates_are_still_ranked_by_the_clean_measurement_loss():
    problem = make_toy_problem(batch=2)
    result = _solve(ILOSolver(steps=[20, 20], lr=0.05, radius_features=10.0, sna=50.0), problem)
    with torch.no_grad():
        torch.testing.assert_close(problem.measurement_loss(result.best_image), result.best_loss)


def test_per_round_names_the_setting_in_its_error():
    with pytest.raises(ValueError, match="steps has 1 entries"):
        per_round("steps", [3], 2)


def test_a_prior_on_z_shapes_round_0_and_is_left_out_of_the_deeper_rounds():
    from invprob.context import BuildContext
    from invprob.registry import new_registry

    registry = new_registry(only={"invprob-plugin-gan-priors"})  # a prior on z, built by name
    problem = make_toy_problem(batch=2)
    problem.priors = [registry.build("priors", "gaussian-norm", {"weight": 0.1}, BuildContext(registry=registry))]
    result = _solve(ILOSolver(steps=[10, 10, 10], lr=0.05, radius_features=5.0, range_steps=5), problem)
    assert torch.isfinite(result.best_loss).all() and set(result.extra_images) == {"round0", "round1", "round2"}


def test_first_layer_sets_the_split_point_of_round_one_and_the_rounds_go_one_layer_deeper():
    assert ILOSolver(steps=[5, 5, 5], radius_features=1.0).split_points() == [0, 1, 2]
    solver = ILOSolver(steps=[5, 5], radius_features=1.0, first_layer=2, range_steps=3)
    assert solver.split_points() == [0, 2]
    result = _solve(solver, make_toy_problem(batch=1))
    assert result.last_latents["features"].shape == (1, 8, 8, 8)  # the state after two stages
    assert set(result.extra_images) == {"round0", "round1"}
