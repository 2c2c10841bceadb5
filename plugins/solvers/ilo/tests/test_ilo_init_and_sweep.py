"""ILO from given latents (init_latents) and ``invprob sweep ilo-radius`` on the MNIST GAN and LeNet-5.

The sweep runs on random weights everywhere; with ../shared present it also runs the
classifier recipe's real models and checks that a larger ball makes the 7 read as a 3.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import save_file

from invprob.progress import Monitor
from invprob.testing.toys import TinyGenerator, make_toy_problem
from invprob_plugin_ilo.plugin import ILOParams
from invprob_plugin_ilo.solver import ILOSolver

REPO = Path(__file__).resolve().parents[4]
SHARED = REPO.parent / "shared"
RECIPE = REPO / "recipes" / "ilo-classifier-mnist.yaml"


@pytest.fixture(autouse=True)
def real_plugins(monkeypatch):
    """The sweep builds recipes with the installed plugins (mnist generator, imaging classifier)."""
    import invprob.registry

    monkeypatch.setattr(invprob.registry, "_DEFAULT", None)


def _solve(solver: ILOSolver, problem):
    return solver.solve(problem, rng=torch.Generator().manual_seed(0), monitor=Monitor(show_progress=False))


def test_with_no_round_0_steps_the_given_latents_are_the_start_and_radius_0_keeps_them():
    problem = make_toy_problem(batch=2)
    generator = problem.generator
    z = generator.sample_latent(1, torch.Generator().manual_seed(5))["z"]
    result = _solve(ILOSolver(steps=[0, 5], radius_features=0.0, init_latents={"z": z}, project_to_range=False), problem)
    with torch.no_grad():
        start = generator({"z": z.expand(2, -1)})
    torch.testing.assert_close(result.extra_images["round0"], start)
    torch.testing.assert_close(result.extra_images["round1"], start)
    drawn = _solve(ILOSolver(steps=[0, 5], radius_features=0.0, project_to_range=False), problem)
    assert not torch.allclose(drawn.extra_images["round0"], start)


def test_given_latents_are_read_from_safetensors_and_checked(tmp_path: Path):
    problem = make_toy_problem(batch=2)
    space = next(iter(TinyGenerator().latent_spaces.values()))
    good = tmp_path / "z.safetensors"
    save_file({"z": torch.zeros(2, *space.shape)}, str(good))
    assert torch.isfinite(_solve(ILOSolver(steps=[0, 2], radius_features=1.0, init_latents=good), problem).best_loss).all()
    wrong_name = tmp_path / "w.safetensors"
    save_file({"w": torch.zeros(1, *space.shape)}, str(wrong_name))
    with pytest.raises(ValueError, match=r"init_latents holds \['w'\] but TinyGenerator takes the latents \['z'\]"):
        _solve(ILOSolver(steps=[0, 2], radius_features=1.0, init_latents=wrong_name), problem)
    three = tmp_path / "three.safetensors"
    save_file({"z": torch.zeros(3, *space.shape)}, str(three))
    with pytest.raises(ValueError, match=r"init_latents\['z'\] has shape \[3, "):
        _solve(ILOSolver(steps=[0, 2], radius_features=1.0, init_latents=three), problem)
    with pytest.raises(ValueError, match="must be a .safetensors file"):
        ILOSolver(steps=[0, 2], init_latents=tmp_path / "z.pt")


def test_given_latents_with_restarts_is_refused_in_the_params(tmp_path: Path):
    path = tmp_path / "z.safetensors"
    save_file({"z": torch.zeros(1, 4)}, str(path))
    with pytest.raises(ValidationError, match="init_latents gives one start per image, so restarts must be 1"):
        ILOParams(steps=[0, 2], radius_features=1.0, init_latents=path, restarts=2)


def _sweep_args(recipe: Path, out: Path, radii: list[float], overrides: list[str]) -> argparse.Namespace:
    return argparse.Namespace(recipe=recipe, overrides=overrides, radii=radii, out=out, name="sweep", threads=None)


def _random_weights_recipe(tmp_path: Path) -> Path:
    """The classifier recipe with random weights: the MNIST GAN and LeNet-5 from the seed."""
    from safetensors.torch import load_file

    start = load_file(str(REPO / "recipes" / "data" / "mnist-gan-seven.latents.safetensors"))
    save_file(start, str(tmp_path / "start.safetensors"))
    np.save(tmp_path / "target.npy", np.load(REPO / "recipes" / "data" / "target-digit3.npy"))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "version: 1\nname: random-classifier\nseed: 0\n"
        "generator: {type: mnist-gan-mlp}\n"
        "operator: {type: classifier, params: {architecture: lenet5, weights: null}}\n"
        "losses: [{type: mse}]\n"
        "solver: {type: ilo, params: {rounds: 2, steps: [0, 15], lr: 0.1, first_layer: 2, radius_features: 1.0, "
        "init_latents: start.safetensors}}\n"
        "data: {observation: target.npy}\nmetrics: []\n",
        encoding="utf-8",
    )
    return recipe


def test_the_sweep_writes_one_run_per_radius_the_json_and_the_plot(tmp_path: Path, capsys):
    from invprob_plugin_ilo.sweep import run

    recipe = _random_weights_recipe(tmp_path)
    assert run(_sweep_args(recipe, tmp_path / "out", [0.0, 40.0], [])) == 0
    folder = tmp_path / "out" / "sweep"
    assert (folder / "probability_vs_radius.png").stat().st_size > 1000
    assert (folder / "radius-0" / "metrics.json").is_file() and (folder / "radius-40" / "metrics.json").is_file()
    rows = json.loads((folder / "sweep.json").read_text())["radii"]
    assert [row["radius"] for row in rows] == [0.0, 40.0]
    first, wide = rows[0]["images"][0], rows[1]["images"][0]
    assert first["target_class"] == 3 and abs(sum(first["probabilities"]) - 1) < 1e-4
    # the start is one of the iterates of every radius, so a larger ball never ends with a worse loss
    assert wide["measurement_loss"] <= first["measurement_loss"] + 1e-6
    assert "radius 40: p(3) = " in capsys.readouterr().out


def test_the_sweep_refuses_a_negative_radius_and_another_solver(tmp_path: Path):
    from invprob.building import InputError
    from invprob_plugin_ilo.sweep import run

    recipe = _random_weights_recipe(tmp_path)
    with pytest.raises(InputError, match="--radii must be finite and >= 0"):
        run(_sweep_args(recipe, tmp_path / "out", [-1.0], []))
    with pytest.raises(InputError, match="sweeps the ilo solver's radius_features; this recipe uses 'csgm'"):
        run(_sweep_args(recipe, tmp_path / "out", [1.0], ["solver={type: csgm, params: {steps: 2}}"]))


@pytest.mark.skipif(not (SHARED / "weights" / "mnist-gan-mlp").is_dir(), reason="../shared weights absent")
def test_with_the_real_models_a_larger_ball_makes_the_seven_read_as_a_three(tmp_path: Path):
    from invprob_plugin_ilo.sweep import run

    assert run(_sweep_args(RECIPE, tmp_path, [0.0, 20.0], ["solver.params.steps=[0, 60]"])) == 0
    rows = json.loads((tmp_path / "sweep" / "sweep.json").read_text())["radii"]
    at_zero, at_twenty = rows[0]["images"][0], rows[1]["images"][0]
    assert int(np.argmax(at_zero["probabilities"])) == 7 and at_zero["target_probability"] < 0.01
    assert at_twenty["target_probability"] > 0.5
