"""From Python: components built in one call, a user's nn.Module as the generator, live
operator objects in a recipe dict, re-registration from a notebook, and command-line paths."""

from __future__ import annotations

import json
import subprocess
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


def test_an_adapted_module_declares_its_latent_and_maps_its_range():
    module = TinyGenerator()
    generator = invprob.adapt_generator(module, latent_shape=8, output_range=(0, 1))
    assert generator.image_shape == (1, 6, 10)
    z = generator.sample_latent(3, torch.Generator().manual_seed(1))
    assert z["z"].shape == (3, 8)
    torch.testing.assert_close(generator(z), module(z["z"]) * 2 - 1)
    g1, g2 = generator.split(1)
    torch.testing.assert_close(g2(g1(z)), generator(z))
    uniform = invprob.adapt_generator(module, latent_shape=(8,), distribution="uniform")
    assert uniform.sample_latent(64, torch.Generator().manual_seed(0))["z"].abs().max() <= 1


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


def test_command_line_paths_resolve_against_the_working_directory(tmp_path):
    recipe_dir, work = tmp_path / "recipes", tmp_path / "work"
    recipe_dir.mkdir()
    work.mkdir()
    (recipe_dir / "recipe.yaml").write_text(RECIPE)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(recipe_dir / "in-recipe-folder.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(work / "here.png")
    cli = [sys.executable, "-m", "invprob.cli"]
    recipe = str(recipe_dir / "recipe.yaml")

    ok = subprocess.run([*cli, "validate", recipe], cwd=work, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr  # the recipe's own path: from the recipe's folder
    here = subprocess.run([*cli, "validate", recipe, "data.images=here.png"], cwd=work, capture_output=True, text=True)
    assert here.returncode == 0, here.stderr  # a command-line path: from the working directory
    missing = subprocess.run([*cli, "validate", recipe, "data.images=in-recipe-folder.png"], cwd=work,
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 2
    assert f"data.images: {work / 'in-recipe-folder.png'} does not exist" in missing.stderr
    run = subprocess.run([*cli, "run", recipe, "--quiet", "--out", "runs", "data.images=here.png"], cwd=work,
                         capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    (directory,) = (work / "runs").iterdir()
    assert [m["name"] for m in json.loads((directory / "metrics.json").read_text())["images"]] == ["here"]


def test_validate_names_a_data_glob_that_matches_nothing(tmp_path):
    (tmp_path / "recipe.yaml").write_text(RECIPE.replace("in-recipe-folder.png", "photos/*.jpg"))
    result = subprocess.run([sys.executable, "-m", "invprob.cli", "validate", str(tmp_path / "recipe.yaml")],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2
    assert f"data.images: the pattern '{tmp_path / 'photos/*.jpg'}' matches no image file" in result.stderr
