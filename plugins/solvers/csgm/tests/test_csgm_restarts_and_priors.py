"""CSGM's restarts, ranking, priors and records."""

from __future__ import annotations

import dataclasses

import torch

from invprob.prior import Constraint, Penalty, PenaltyContext
from invprob.progress import Monitor
from invprob.testing.toys import make_toy_problem
from invprob_plugin_csgm.solver import CSGMSolver


class _SquaredNorm(Penalty):
    def __init__(self, weight: float):
        super().__init__()
        self.weight = weight

    def forward(self, context: PenaltyContext) -> torch.Tensor:
        return self.weight * context.variables["z"].pow(2).sum(dim=1)


class _Clamp(Constraint):
    def __init__(self, bound: float):
        super().__init__("z")
        self.bound = bound

    def project(self, value: torch.Tensor) -> torch.Tensor:
        return value.clamp(-self.bound, self.bound)


def _solve(problem, seed: int = 0, **params):
    return CSGMSolver(**params).solve(problem, rng=torch.Generator().manual_seed(seed), monitor=Monitor(show_progress=False))


def _z(latents) -> torch.Tensor:
    return latents["z"] if isinstance(latents, dict) else latents


def _initial_losses(problem, restarts: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Measurement losses [R, B] and latents [R, B, k] of the R*B latents a seeded solver draws."""
    latents = _z(problem.generator.sample_latent(restarts * problem.batch_size, torch.Generator().manual_seed(seed)))
    with torch.no_grad():
        losses = problem.measurement_loss(problem.generator(latents))
    return losses.reshape(restarts, problem.batch_size), latents.reshape(restarts, problem.batch_size, -1)


def test_best_restart_is_chosen_per_image_among_the_batched_starts():
    problem = make_toy_problem(batch=3)
    result = _solve(problem, steps=0, restarts=5)
    losses, latents = _initial_losses(problem, 5)
    winners = losses.argmin(dim=0)
    torch.testing.assert_close(result.best_loss, losses.min(dim=0).values)
    torch.testing.assert_close(result.best_latents["z"], latents[winners, torch.arange(3)])


def test_ranking_uses_the_measurement_loss_and_not_the_penalty():
    problem = make_toy_problem(batch=2)
    penalised = dataclasses.replace(problem, priors=[_SquaredNorm(1e6)])
    result = _solve(penalised, steps=0, restarts=6)
    losses, _ = _initial_losses(problem, 6)
    torch.testing.assert_close(result.best_loss, losses.min(dim=0).values)


def test_more_restarts_never_end_worse_per_image():
    problem = make_toy_problem(batch=2)
    one = _solve(problem, steps=15, restarts=1)
    four = _solve(problem, steps=15, restarts=4)  # its first restart is the single run's start
    assert torch.all(four.best_loss <= one.best_loss + 1e-7)


def test_batched_restarts_match_the_restarts_run_one_after_another(monkeypatch):
    """Batching changes the cost, not the answer: best of the batch == best of separate runs."""
    problem = make_toy_problem(batch=2)
    starts = torch.randn(2, 2, 8, generator=torch.Generator().manual_seed(7))  # [restart, image, k]

    def run_from(latents: torch.Tensor):
        monkeypatch.setattr(problem.generator, "sample_latent", lambda count, rng=None: {"z": latents.clone()})
        return _solve(problem, steps=10, restarts=latents.shape[0] // 2)

    batched = run_from(starts.reshape(4, 8))
    separate = [run_from(starts[r]) for r in range(2)]
    expected = torch.minimum(separate[0].best_loss, separate[1].best_loss)
    torch.testing.assert_close(batched.best_loss, expected, rtol=1e-5, atol=1e-7)
    assert len(batched.history["measurement_loss"]) == 10


def test_constraints_are_projected_after_every_step():
    problem = dataclasses.replace(make_toy_problem(batch=2), priors=[_Clamp(0.05)])
    result = _solve(problem, steps=10, restarts=2, lr=0.5)
    assert result.best_latents["z"].abs().max() <= 0.05 + 1e-7
    assert result.last_latents["z"].abs().max() <= 0.05 + 1e-7


def test_penalties_enter_the_optimised_objective():
    problem = make_toy_problem(batch=2)
    free = _solve(problem, steps=30, restarts=1)
    shrunk = _solve(dataclasses.replace(problem, priors=[_SquaredNorm(10.0)]), steps=30, restarts=1)
    assert shrunk.last_latents["z"].norm() < 0.5 * free.last_latents["z"].norm()


def test_history_timings_and_last_iterate_are_recorded():
    problem = make_toy_problem(batch=2)
    result = _solve(problem, steps=12, restarts=2, optimizer="sgd", lr=0.05, schedule="cosine")
    assert set(result.history) == {"loss", "measurement_loss"} and len(result.history["loss"]) == 12
    assert result.timings["optimise"] > 0
    assert result.last_image.shape == (2, 3, 16, 16) and not result.interrupted
    with torch.no_grad():
        torch.testing.assert_close(result.best_image, problem.generator(result.best_latents["z"]))


def test_same_seed_same_result_and_generator_weights_untouched():
    problem = make_toy_problem(batch=2)
    before = {k: v.clone() for k, v in problem.generator.state_dict().items()}
    first, second = _solve(problem, steps=5, restarts=2), _solve(problem, steps=5, restarts=2)
    torch.testing.assert_close(first.best_latents["z"], second.best_latents["z"])
    for key, value in problem.generator.state_dict().items():
        torch.testing.assert_close(value, before[key])
    assert all(p.grad is None for p in problem.generator.parameters())


def test_rounds_say_what_was_optimised_and_how_it_was_constrained(tmp_path):
    """``metrics.json``'s ``rounds``: one CSGM round, z, the l1-ball prior's radius."""
    import json

    import invprob

    recipe = {
        "version": 1, "name": "rounds", "seed": 0, "generator": {"type": "dcgan64-faces"},
        "operator": {"type": "inpaint-random", "params": {"observed": 0.3}}, "losses": [{"type": "mse"}],
        "priors": [{"type": "l1-ball", "params": {"radius": 40.0}}],
        "solver": {"type": "csgm", "params": {"steps": 3, "lr": 0.05, "restarts": 2}},
        "data": {"samples": 1, "batch_size": 1}, "metrics": ["psnr"], "outputs": {"gif": False},
    }  # fmt: skip
    result = invprob.run(recipe, out=tmp_path, show_progress=False)
    rounds = json.loads((result.directory / "metrics.json").read_text())["rounds"]
    assert rounds == [{"round": 0, "steps": 3, "lr": 0.05, "variables": [{"name": "z", "shape": [100], "radius": 40.0}],
                       "constraints": ["l1-ball"]}]  # fmt: skip
