"""The recipes we ship validate, and run end to end on a few steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import invprob
from invprob.recipe import read_recipe_file

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))
STYLEGAN2_FIXTURE = SHARED / "fixtures" / "stylegan2" / "checkpoint.pt"
"""A 32x32 StyleGAN2 with random weights: the StyleGAN2 recipes' checkpoint is a field the user fills."""


@pytest.fixture(autouse=True)
def real_plugins(monkeypatch):
    """These tests use the installed first-party plugins, whatever the test fixtures did."""
    import invprob.registry

    monkeypatch.setattr(invprob.registry, "_DEFAULT", None)


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_validates_and_opens_with_the_command_that_runs_it(path: Path):
    assert path.read_text().startswith("#"), "a recipe opens with a comment showing how to run it"
    assert f"invprob run recipes/{path.name}" in path.read_text()
    invprob.load_recipe(path)


@pytest.mark.filterwarnings("ignore:PULSE did not reach the target loss")  # 3 steps do not reach eps
@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_runs_on_a_few_steps(path: Path, tmp_path: Path):
    raw = read_recipe_file(path)
    if "shared" in json.dumps(raw) and not SHARED.is_dir():
        pytest.skip(f"{path.name} reads ../shared, which is absent")
    overrides = ["solver.params.steps=3", "solver.params.restarts=1", "outputs.gif_every=1", "metrics=[psnr, ssim]"]
    if raw["data"].get("select"):
        overrides.append("data.select='-2:'")
    if raw.get("generator", {}).get("type") == "stylegan2":
        if not STYLEGAN2_FIXTURE.is_file():
            pytest.skip(f"{path.name} runs on the StyleGAN2 fixture checkpoint, which is absent from ../shared")
        overrides.append(f"generator.params.checkpoint={STYLEGAN2_FIXTURE}")
    result = invprob.run(path, overrides, out=tmp_path, show_progress=False)
    assert result.metrics["images_solved"] >= 1
    assert result.metrics["mean"]["psnr"] > 5
    assert (result.directory / "grid.png").is_file()


@pytest.mark.parametrize("solver", ["csgm", "yeh"])
def test_a_latent_solver_without_a_generator_is_invalid_before_anything_is_built(solver: str):
    from invprob.recipe import RecipeError

    with pytest.raises(RecipeError) as caught:
        invprob.load_recipe(REPO / "recipes" / "demo.yaml", ["~generator", f"solver.type={solver}"])
    assert f"solver.type: solver '{solver}' works on a generator's latent" in str(caught.value)
