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
def real_plugins():
    """These tests use the installed first-party plugins, whatever the test fixtures did."""
    from invprob.registry import replace_default_registry

    previous = replace_default_registry(None)  # loaded again, from the entry points, on first use
    yield
    replace_default_registry(previous)


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_validates_and_opens_with_the_command_that_runs_it(path: Path):
    assert path.read_text().startswith("#"), "a recipe opens with a comment showing how to run it"
    assert f"invprob run recipes/{path.name}" in path.read_text()
    raw = read_recipe_file(path)
    if "shared/weights" in json.dumps(raw) and not SHARED.is_dir():
        pytest.skip(f"{path.name} names weights in ../shared, which is absent (validate checks they exist)")
    invprob.load_recipe(path, _checkpoint_filled_in(raw))


def _checkpoint_filled_in(raw: dict) -> list[str]:
    """A StyleGAN2 recipe's checkpoint is a field the user fills: the fixture checkpoint stands in."""
    if raw.get("generator", {}).get("type") != "stylegan2":
        return []
    if not STYLEGAN2_FIXTURE.is_file():
        pytest.skip("StyleGAN2 recipes are checked on the fixture checkpoint, which is absent from ../shared")
    return [f"generator.params.checkpoint={STYLEGAN2_FIXTURE}"]


def test_a_stylegan2_recipe_whose_checkpoint_is_not_filled_in_says_which_file_is_missing():
    from invprob.recipe import RecipeError

    with pytest.raises(RecipeError, match=r"generator\.params\.checkpoint: file 'stylegan2-ffhq-config-f\.pt' not found"):
        invprob.load_recipe(REPO / "recipes" / "ilo-inpaint-stylegan2.yaml")


@pytest.mark.filterwarnings("ignore:PULSE did not reach the target loss")  # 3 steps do not reach eps
@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_runs_on_a_few_steps(path: Path, tmp_path: Path):
    raw = read_recipe_file(path)
    if "shared" in json.dumps(raw) and not SHARED.is_dir():
        pytest.skip(f"{path.name} reads ../shared, which is absent")
    overrides = ["solver.params.steps=3", "solver.params.restarts=1", "outputs.gif_every=1", "metrics=[psnr, ssim]"]
    if raw["data"].get("select"):
        overrides.append("data.select='-2:'")
    overrides += _checkpoint_filled_in(raw)
    result = invprob.run(path, overrides, out=tmp_path, show_progress=False)
    assert result.metrics["images_solved"] >= 1
    if raw["data"].get("observation"):  # a given observation has no ground truth to score against
        assert result.metrics["unavailable"]["psnr"] and result.metrics["mean"]["measurement_loss"] >= 0
    else:
        assert result.metrics["mean"]["psnr"] > 5
    assert (result.directory / "grid.png").is_file()


@pytest.mark.parametrize("solver", ["csgm", "yeh"])
def test_a_latent_solver_without_a_generator_is_invalid_before_anything_is_built(solver: str):
    from invprob.recipe import RecipeError

    with pytest.raises(RecipeError) as caught:
        invprob.load_recipe(REPO / "recipes" / "demo.yaml", ["~generator", f"solver.type={solver}"])
    assert f"solver.type: solver '{solver}' works on a generator's latent" in str(caught.value)


NO_MASK = "operator.params={operators: [{type: denoise, params: {sigma: 3}}, {type: inpaint-random, params: {observed: 0.5}}]}"


@pytest.mark.parametrize(
    "operator",
    [["operator.type=denoise", "operator.params={sigma: 10}"], ["operator.type=downsample", "operator.params={factor: 2}"],
     ["operator.type=compose", NO_MASK]],
    ids=["denoise", "downsample", "compose-mask-not-first"],
)
def test_yeh_on_an_operator_without_a_mask_is_invalid_naming_both_and_the_fix(operator: list[str]):
    from invprob.recipe import RecipeError

    with pytest.raises(RecipeError) as caught:
        invprob.load_recipe(REPO / "recipes" / "demo.yaml", operator)
    name = operator[0].split("=")[1]
    lines = str(caught.value).splitlines()[1:]
    assert [line.split(":")[0].strip() for line in lines] == ["losses (default of solver 'yeh')[0].type", "solver.type"]
    assert f"solver 'yeh' needs an operator that masks pixels, and operator '{name}' has no observed-pixel mask" in lines[1]
    assert lines[1].endswith("use an inpainting operator (inpaint-box, inpaint-center, inpaint-half, ...), or the csgm solver")
    assert "loss 'context' needs an operator that masks pixels" in lines[0] and lines[0].endswith("or the mse or l1 loss")


def test_a_compose_whose_first_operator_masks_provides_the_mask():
    first = "operator.params={operators: [{type: inpaint-random, params: {observed: 0.5}}, {type: denoise, params: {sigma: 3}}]}"
    assert invprob.load_recipe(REPO / "recipes" / "demo.yaml", ["operator.type=compose", first])


def test_csgm_with_mse_needs_no_mask():
    assert invprob.load_recipe(
        REPO / "recipes" / "demo.yaml",
        ["operator.type=denoise", "operator.params={sigma: 10}", "solver.type=csgm", "solver.params={steps: 3}", "losses=[{type: mse}]"],
    )


def test_classical_inpainting_on_an_operator_without_a_mask_is_invalid():
    from invprob.recipe import RecipeError

    with pytest.raises(RecipeError, match="solver 'biharmonic-inpaint' needs an operator that masks pixels, and operator 'downsample'"):
        invprob.load_recipe(
            REPO / "recipes" / "demo.yaml",
            ["operator.type=downsample", "operator.params={factor: 2}", "solver.type=biharmonic-inpaint", "solver.params={}"],
        )


@pytest.mark.parametrize(
    "generator",
    [
        ["generator.type=dcgan", "generator.params={weights: no/such/g.pt}"],
        ["generator.type=dcgan32-celeba", "generator.params={generator_weights: no/such/g.pt}"],
        ["generator.type=stylegan2", "generator.params={checkpoint: no/such/g.pt}"],
    ],
    ids=["dcgan", "dcgan32-celeba", "stylegan2"],
)
def test_missing_weights_are_invalid_naming_the_file_and_where_it_looked(generator: list[str]):
    from invprob.recipe import RecipeError

    with pytest.raises(RecipeError) as caught:
        invprob.load_recipe(REPO / "recipes" / "demo.yaml", generator)
    looked = (REPO / "recipes" / "demo.yaml").resolve().parent / "no" / "such" / "g.pt"  # beside the file itself
    assert f"file 'g.pt' not found: {looked} does not exist" in str(caught.value)


def test_params_that_do_not_fit_the_generators_image_are_invalid_naming_the_field():
    """The generator fixes the image size (64 x 64), so validation refuses the box before anything
    is built (tests/test_recipe_image_shape.py covers the other fields and the build-time check)."""
    from invprob.recipe import RecipeError

    box = ["operator.type=inpaint-box", "operator.params={top: 60, left: 0, height: 10, width: 10}"]
    with pytest.raises(RecipeError, match=r"operator\.params\.height: the missing box rows 60\.\.69 do not fit in a 64 x 64 image"):
        invprob.load_recipe(REPO / "recipes" / "demo.yaml", box)
