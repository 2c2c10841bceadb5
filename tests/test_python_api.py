"""From Python: components built in one call, a user's nn.Module as the generator, live
operator objects in a recipe dict, re-registration from a notebook, and command-line paths."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import invprob
from invprob.hookspecs import hookimpl
from invprob.params import Params
from invprob.recipe import RecipeError
from invprob.registry import Registry
from invprob.unit_range import RANGE_TOLERANCE, RangeError


def test_build_operator_in_one_call():
    op = invprob.build_operator("downsample", image_shape=(3, 64, 48), factor=4)
    assert op.A(torch.zeros(2, 3, 64, 48)).shape == (2, 3, 16, 12)
    mask = invprob.build_operator("inpaint-random", image_shape=(1, 8, 8), observed=0.5, seed=3)
    again = invprob.build_component("operator", "inpaint-random", image_shape=(1, 8, 8), params={"observed": 0.5}, seed=3)
    assert torch.equal(mask.observed_mask(), again.observed_mask())  # seeded like a run


def test_build_loss_prior_and_a_params_error_with_its_path():
    loss = invprob.build_loss("mse")
    assert loss is not None
    with pytest.raises(RecipeError, match=r"operator 'downsample'.params.factor: Input should be greater than or equal to 1"):
        invprob.build_operator("downsample", image_shape=(3, 8, 8), factor=0)
    with pytest.raises(ValueError, match="unknown component kind 'operater'"):
        invprob.build_component("operater", "downsample")


class TinyGenerator(nn.Module):
    """A user's own generator: z [B, 8] -> sigmoid images [B, 1, 6, 10] in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(8, 60)
        torch.nn.init.normal_(self.linear.weight, std=0.5, generator=torch.Generator().manual_seed(0))

    def forward(self, z):
        return torch.sigmoid(self.linear(z)).view(-1, 1, 6, 10)


def test_adapt_generator_without_its_distribution_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "invprob_plugin_torch_module", None)  # as if not installed
    with pytest.raises(ImportError, match=r"^invprob.adapt_generator comes with invprob-plugin-torch-module, which "
                                          r"is not installed: pip install invprob-plugin-torch-module$"):  # fmt: skip
        invprob.adapt_generator


def test_csgm_runs_with_a_users_module_and_a_live_operator(tmp_path):
    generator = invprob.adapt_generator(TinyGenerator(), latent_shape=8, output_range=(0, 1))
    operator = invprob.build_operator("inpaint-center", image_shape=generator.image_shape, fraction=0.5)
    recipe = {
        "version": 1,
        "device": "cpu",
        "generator": generator,
        "operator": operator,
        "solver": {"type": "csgm", "params": {"steps": 30, "restarts": 1, "lr": 0.1}},
        "data": {"samples": 2},
        "metrics": ["psnr"],
        "outputs": {"latents": False},
    }
    result = invprob.run(recipe, out=tmp_path / "runs", show_progress=False)
    assert result.reconstructions.shape == (2, 1, 6, 10)
    first_loss = result.results[0].history["measurement_loss"][0]
    assert result.metrics["mean"]["measurement_loss"] < first_loss  # it optimised the user's latent
    resolved = (result.directory / "recipe.resolved.yaml").read_text()
    assert "type: python:generator" in resolved and "type: python:operator" in resolved
    # an override keeps the live objects
    again = invprob.run(invprob.load_recipe(recipe), ["solver.params.steps=2"], out=tmp_path / "runs", show_progress=False)
    assert again.reconstructions.shape == (2, 1, 6, 10)


def test_a_plain_module_as_the_generator_says_to_adapt_it():
    recipe = {"version": 1, "generator": TinyGenerator(), "operator": {"type": "identity"},
              "solver": {"type": "csgm"}, "data": {"samples": 1}}  # fmt: skip
    with pytest.raises(RecipeError, match=r"generator: a TinyGenerator object is not an invprob Generator; wrap a plain "
                                          r"nn.Module with invprob.adapt_generator"):  # fmt: skip
        invprob.load_recipe(recipe)


# -- one image range at the public API: [0, 1] ----------------------------------------------


def _photos(count: int = 2) -> torch.Tensor:
    return torch.rand(count, 1, 6, 10, generator=torch.Generator().manual_seed(3))


def test_a_psnr_computed_by_hand_on_a_runs_outputs_is_the_runs_psnr(tmp_path):
    generator = invprob.adapt_generator(TinyGenerator(), latent_shape=8, output_range=(0, 1))
    operator = invprob.build_operator("inpaint-center", image_shape=generator.image_shape, fraction=0.5)
    photos = _photos()
    recipe = {"version": 1, "device": "cpu", "generator": generator, "operator": operator,
              "solver": {"type": "csgm", "params": {"steps": 20, "restarts": 1, "lr": 0.1}},
              "data": {"images": photos}, "metrics": ["psnr", "mse"], "outputs": {"latents": False}}  # fmt: skip
    run = invprob.run(recipe, out=tmp_path / "runs", show_progress=False)
    reconstructions = run.reconstructions
    assert 0 <= float(reconstructions.min()) and float(reconstructions.max()) <= 1
    # what a notebook does: the tensor it gave, the tensor it got back, PSNR with data range 1
    mse = (reconstructions.double() - photos.double()).pow(2).mean(dim=(1, 2, 3))
    by_hand = (-10 * torch.log10(mse)).tolist()
    reported = [image["psnr"] for image in run.metrics["images"]]
    # The two differ only by float32 rounding of 2u - 1 and (x + 1) / 2 (<= 1.2e-7 per pixel);
    # with an RMS error >= 0.05 here (PSNR < 26 dB) that moves the PSNR by < 2e-5 dB: 50x margin.
    assert by_hand == pytest.approx(reported, abs=1e-3)
    assert mse.tolist() == pytest.approx([image["mse"] for image in run.metrics["images"]], rel=1e-4)
    torch.testing.assert_close(run.ground_truth, photos)  # the images solved for, as given
    # the observations are the public operator's measurements of the ground truth
    torch.testing.assert_close(run.observations, operator.A(run.ground_truth))
    torch.testing.assert_close(run.observations, operator.observed_mask() * photos)


def test_a_run_given_its_observation_returns_it_in_0_1_and_no_ground_truth(tmp_path):
    generator = invprob.adapt_generator(TinyGenerator(), latent_shape=8, output_range=(0, 1))
    operator = invprob.build_operator("inpaint-center", image_shape=generator.image_shape, fraction=0.5)
    pixels = np.random.default_rng(0).integers(0, 256, (6, 10), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "seen.png")
    recipe = {"version": 1, "device": "cpu", "generator": generator, "operator": operator,
              "solver": {"type": "csgm", "params": {"steps": 2, "restarts": 1}},
              "data": {"observation": str(tmp_path / "seen.png")}, "outputs": {"latents": False}}  # fmt: skip
    run = invprob.run(recipe, out=tmp_path / "runs", show_progress=False)
    assert run.ground_truth is None
    observed = operator.observed_mask().bool().expand(1, 1, 6, 10)
    seen = torch.from_numpy(pixels.astype(np.float32) / 255)[None, None]
    torch.testing.assert_close(run.observations[observed], seen[observed])  # the observed pixels, as in the file


def test_operators_from_the_public_api_act_on_0_1_images():
    op = invprob.build_operator("downsample", image_shape=(3, 16, 16), factor=2, method="box", noise_sigma=10)
    u = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(op.A(u), torch.nn.functional.avg_pool2d(u, 2))
    torch.testing.assert_close(op.A(u), op.operator.A(u))  # linear: the same map as inside
    # noise_sigma is on the 0-255 scale: 10/255 on [0, 1] images (10/127.5 on [-1, 1] inside)
    noise = op(u, torch.Generator().manual_seed(1)) - op.A(u)
    assert 0.9 < noise.std().item() / (10 / 255) < 1.1  # 768 draws: the std is known to ~3%
    y = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    assert torch.sum(op.A(u) * y).item() == pytest.approx(torch.sum(u * op.A_adjoint(y)).item(), rel=1e-5)
    blur = invprob.build_operator("blur-gaussian", image_shape=(3, 16, 16), sigma=1.0, padding="zeros")
    torch.testing.assert_close((op * blur).A(u), op.A(blur.A(u)))  # operators compose as inside
    # a mask's measurement of [0, 1] images is the masked image, as in deepinv
    mask_op = invprob.build_operator("inpaint-center", image_shape=(3, 16, 16), fraction=0.5)
    torch.testing.assert_close(mask_op(u), mask_op.observed_mask() * u)
    # non-linear: (A(2u - 1) + A(1)) / 2
    jpeg = invprob.build_operator("jpeg", image_shape=(3, 16, 16), quality=30)
    white = jpeg.operator.A(torch.ones(1, 3, 16, 16))
    torch.testing.assert_close(jpeg.A(u), (jpeg.operator.A(2 * u - 1) + white) / 2)


def test_an_image_outside_0_1_is_refused_with_the_conversion_to_apply():
    op = invprob.build_operator("downsample", image_shape=(1, 4, 4), factor=2)
    u = torch.rand(1, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    with pytest.raises(RangeError, match=r"Downsample.A: images must be in \[0, 1\] .*got values in \[-.*look like \[-1, 1\]: pass \(x \+ 1\) / 2"):
        op.A(2 * u - 1)
    with pytest.raises(RangeError, match=r"Downsample.forward: .*look like \[0, 255\]: pass x / 255"):
        op(u * 255)
    with pytest.raises(RangeError, match=r"rescale them to \[0, 1\]"):
        op(u * 1000 - 500)
    # float rounding just outside [0, 1] is taken (up to RANGE_TOLERANCE), and clamped
    edge = torch.full((1, 1, 4, 4), 1 + RANGE_TOLERANCE / 2)
    torch.testing.assert_close(op.A(edge), torch.ones(1, 1, 2, 2))
    with pytest.raises(RangeError):
        op.A(torch.full((1, 1, 4, 4), 1 + 10 * RANGE_TOLERANCE))
    with pytest.raises(RangeError, match="non-finite"):
        op.A(torch.full((1, 1, 4, 4), float("nan")))


def test_a_public_operator_and_its_inner_one_both_go_into_a_recipe():
    public = invprob.build_operator("inpaint-center", image_shape=(1, 6, 10), fraction=0.5)
    for given in (public, public.operator):
        recipe = invprob.load_recipe({"version": 1, "operator": given, "solver": {"type": "tv-inpaint"},
                                      "data": {"images": _photos(1)}})  # fmt: skip
        assert invprob.build(recipe).operator is public.operator  # the run uses the [-1, 1] one


def test_images_of_another_size_than_the_generators_name_the_generator(tmp_path, capfd):
    generator = invprob.adapt_generator(TinyGenerator(), latent_shape=8, output_range=(0, 1))
    photos = torch.rand(2, 1, 12, 20, generator=torch.Generator().manual_seed(0))
    built_for_photos = invprob.build_operator("inpaint-center", image_shape=(1, 12, 20), fraction=0.5)
    recipe = {"version": 1, "device": "cpu", "generator": generator, "operator": built_for_photos,
              "solver": {"type": "csgm", "params": {"steps": 2}}, "data": {"images": photos},
              "outputs": {"latents": False}, "metrics": ["psnr"]}  # fmt: skip
    with pytest.raises(invprob.building.InputError, match=(
        r"operator: the generator TinyGenerator makes images \[1, 6, 10\] \(C, H, W\), the size every image of the run "
        r"is fitted to \(data.fit\), but the operator given from Python does not take them \(.*\); build it for the "
        r"generator's images: invprob.build_operator\(..., image_shape=\(1, 6, 10\)\)")):  # fmt: skip
        invprob.run(recipe, out=tmp_path / "runs", show_progress=False)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # said before any run directory
    recipe["operator"] = invprob.build_operator("inpaint-center", image_shape=generator.image_shape, fraction=0.5)
    invprob.run(recipe, out=tmp_path / "runs", show_progress=False)
    assert "data: resized to 10x6 (same aspect ratio); 10x6 is what the generator TinyGenerator makes: 2 images" in capfd.readouterr().err


def _notebook_plugin(scale: float):
    """What a notebook cell defines, as it would be after each edit of the cell."""

    class ScaleParams(Params):
        """Scales the loss."""

    class NotebookPlugin:
        @staticmethod
        @hookimpl
        def invprob_register_losses(registry):
            registry.add("scaled", lambda params, context: scale, params_model=ScaleParams)

    return NotebookPlugin()


def test_a_notebook_re_registering_a_component_replaces_it():
    registry = Registry()
    assert registry.register_plugin(_notebook_plugin(1.0), distribution="notebook", entry_point="cell")
    assert registry.build("losses", "scaled", {}, None) == 1.0
    assert registry.register_plugin(_notebook_plugin(2.0), distribution="notebook", entry_point="cell")
    assert registry.build("losses", "scaled", {}, None) == 2.0
    assert registry.get("losses", "notebook:scaled").factory({}, None) == 2.0
    assert not registry.warnings and not registry.ambiguous["losses"] and not registry.failures
    # another distribution registering the name is still a clash
    assert registry.register_plugin(_notebook_plugin(3.0), distribution="other", entry_point="cell")
    assert [c.distribution for c in registry.ambiguous["losses"]["scaled"]] == ["notebook", "other"]
    # and re-registering one side of the clash replaces that side only
    assert registry.register_plugin(_notebook_plugin(4.0), distribution="notebook", entry_point="cell")
    assert [c.factory({}, None) for c in registry.ambiguous["losses"]["scaled"]] == [4.0, 3.0]
    # another entry point of the same distribution registering the name is a mistake, as before
    assert not registry.register_plugin(_notebook_plugin(5.0), distribution="notebook", entry_point="other-cell")
    assert "loss 'scaled' is registered twice by notebook" in registry.failures[-1].error


def test_re_registering_replaces_the_plugin_hooks_too():
    calls = []

    class Runtime:
        @staticmethod
        @hookimpl
        def invprob_setup_runtime(device):
            calls.append(device)

    registry = Registry()
    registry.register_plugin(Runtime(), distribution="notebook")
    registry.register_plugin(Runtime(), distribution="notebook")  # the cell run again
    registry.setup_runtime("cpu")
    assert calls == ["cpu"]


RECIPE = """\
# invprob validate recipe.yaml
version: 1
device: cpu
operator: {type: inpaint-center}
solver: {type: tv-inpaint, params: {iterations: 3}}
data: {images: in-recipe-folder.png}
metrics: [mse]
"""


def test_command_line_paths_resolve_against_the_working_directory(tmp_path, invprob_cli):
    recipe_dir, work = tmp_path / "recipes", tmp_path / "work"
    recipe_dir.mkdir()
    work.mkdir()
    (recipe_dir / "recipe.yaml").write_text(RECIPE)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(recipe_dir / "in-recipe-folder.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(work / "here.png")
    recipe = str(recipe_dir / "recipe.yaml")

    ok = invprob_cli(["validate", recipe], cwd=work)
    assert ok.returncode == 0, ok.stderr  # the recipe's own path: from the recipe's folder
    here = invprob_cli(["validate", recipe, "data.images=here.png"], cwd=work)
    assert here.returncode == 0, here.stderr  # a command-line path: from the working directory
    missing = invprob_cli(["validate", recipe, "data.images=in-recipe-folder.png"], cwd=work)
    assert missing.returncode == 2
    assert f"data.images: {work / 'in-recipe-folder.png'} does not exist" in missing.stderr
    run = invprob_cli(["run", recipe, "--quiet", "--out", "runs", "data.images=here.png"], cwd=work)
    assert run.returncode == 0, run.stderr
    (directory,) = (work / "runs").iterdir()
    assert [m["name"] for m in json.loads((directory / "metrics.json").read_text())["images"]] == ["here"]


def test_validate_names_a_data_glob_that_matches_nothing(tmp_path, invprob_cli):
    (tmp_path / "recipe.yaml").write_text(RECIPE.replace("in-recipe-folder.png", "photos/*.jpg"))
    result = invprob_cli(["validate", str(tmp_path / "recipe.yaml")])
    assert result.returncode == 2
    assert f"data.images: the pattern '{tmp_path / 'photos/*.jpg'}' matches no image file" in result.stderr


def test_re_registering_a_plugin_its_entry_point_loaded_replaces_it():
    """A notebook that registers the module its installed entry point already loaded (the module
    object is the same, its name is not the entry point's) replaces it instead of failing."""
    plugin = _notebook_plugin(1.0)
    registry = Registry()
    assert registry.register_plugin(plugin, distribution="mine", entry_point="installed-name")
    assert registry.register_plugin(plugin, distribution="mine")  # default entry point: the object's name
    assert registry.build("losses", "scaled", {}, None) == 1.0
    assert not registry.failures and not registry.warnings
