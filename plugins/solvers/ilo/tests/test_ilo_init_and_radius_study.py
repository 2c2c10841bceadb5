"""ILO from given latents (init_latents), and the radius study on the MNIST GAN and LeNet-5.

``benchmarks/studies/ilo-classifier-radius.yaml`` runs the classifier recipe once per l1
radius; a study of the same shape runs here on random weights (everywhere) and its report
plots the measurement loss against the radius; with ../shared present the study file itself
is planned.
"""

from __future__ import annotations

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
RADIUS_STUDY = REPO / "benchmarks" / "studies" / "ilo-classifier-radius.yaml"


@pytest.fixture(autouse=True)
def real_plugins(installed_registry):
    """The studies build recipes with the installed plugins (mnist generator, imaging classifier)."""


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


def test_a_radius_study_runs_one_cell_per_radius_and_its_report_plots_the_loss_against_it(tmp_path: Path):
    from invprob_studies import load_study, run_study
    from invprob_studies.report import read_results, write_report

    _random_weights_recipe(tmp_path)
    path = tmp_path / "radius.yaml"
    path.write_text(
        "version: 1\nname: radius\nrecipe: recipe.yaml\naxes:\n  - vary: {solver.params.radius_features: [0, 40]}\n",
        encoding="utf-8",
    )
    study = load_study(path)
    assert [cell.axes for cell in study.cells] == [{"solver.params.radius_features": 0}, {"solver.params.radius_features": 40}]
    outcome = run_study(study, tmp_path / "out", show_progress=False)
    assert (outcome.done, outcome.failed) == (2, 0)
    results = read_results(tmp_path / "out" / "radius")
    assert results.metrics == ["measurement_loss"] and results.numeric_axes() == ["solver.params.radius_features"]
    at_zero, wide = (results.stat(cell, "measurement_loss").mean for cell in results.cells)
    # the start is one of the iterates of every radius, so a larger ball never ends with a worse loss
    assert wide <= at_zero + 1e-6
    page = write_report(tmp_path / "out" / "radius", metric="measurement_loss").read_text(encoding="utf-8")
    assert 'data-axis="solver.params.radius_features"' in page  # the plot of the loss against the radius
    assert page.count('class="thumb"') >= 2  # each radius's image
    tables = (tmp_path / "out" / "radius" / "report.md").read_text(encoding="utf-8")
    assert "## measurement_loss (lower is better)" in tables


@pytest.mark.skipif(not (SHARED / "weights" / "mnist-gan-mlp").is_dir(), reason="../shared weights absent")
def test_the_radius_study_file_plans_one_cell_per_radius_of_the_classifier_recipe():
    from invprob_studies import load_study

    study = load_study(RADIUS_STUDY)
    radii = [cell.axes["solver.params.radius_features"] for cell in study.cells]
    assert radii == [0, 2, 5, 10, 15, 20, 30, 50, 100]
    assert {cell.validated.solver.type for cell in study.cells} == {"ilo"}
    assert [cell.validated.solver.params["radius_features"] for cell in study.cells[:2]] == [0, 2]
