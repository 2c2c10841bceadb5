"""Recipe validation: every class of error, reported all at once with the messages users see."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from invprob.recipe import RecipeError, apply_overrides, load_recipe, OverrideError

VALID = {
    "version": 1,
    "generator": {"type": "toy-generator"},
    "operator": {"type": "toy-mask", "params": {"sigma": 0.1}},
    "losses": [{"type": "mse"}],
    "solver": {"type": "toy-descent", "params": {"steps": 5}},
    "data": {"samples": 2},
}


def messages(data, registry, overrides=()) -> list[str]:
    with pytest.raises(RecipeError) as raised:
        load_recipe(data, overrides, registry=registry)
    return [str(p) for p in raised.value.problems]


def test_a_valid_recipe_loads_with_defaults_filled_in(toy_registry):
    recipe = load_recipe(VALID, registry=toy_registry)
    assert recipe.solver.params == {"steps": 5}
    assert recipe.metrics == ["psnr", "ssim", "mse", "lpips"]
    assert recipe.device == "auto" and recipe.seed == 0


def test_every_error_is_reported_at_once_with_its_path(toy_registry):
    data = {
        **VALID,
        "devcie": "cpu",
        "seed": "zero",
        "operator": {"type": "toy-msk"},
        "losses": [{"type": "mse", "wieght": 2}, {"type": "l1", "params": {"scale": 3}}],
        "solver": {"type": "toy-descent", "params": {"stpes": 5, "lr": -1}},
        "metrics": ["psnr", "ssmi"],
    }
    assert messages(data, toy_registry) == [
        "seed: Input should be a valid integer, unable to parse string as an integer (got: 'zero')",
        "losses[0].wieght: unknown field 'wieght'; did you mean 'weight'?",
        "devcie: unknown field 'devcie'; did you mean 'device'?",
        "operator.type: unknown operator 'toy-msk'; did you mean 'toy-mask'?",
        "losses[1].params.scale: unknown field 'scale'",
        "solver.params.lr: Input should be greater than 0 (got: -1)",
        "solver.params.stpes: unknown field 'stpes'; did you mean 'steps'?",
        "metrics[1]: unknown metric 'ssmi'; did you mean 'ssim'?",
    ]


def test_missing_sections_and_wrong_version(toy_registry):
    assert messages({"version": 2, "generator": {"type": "toy-generator"}}, toy_registry) == [
        "version: Input should be 1 (got: 2)",
        "operator: required field is missing",
        "solver: required field is missing",
        "data: required field is missing",
    ]


def test_a_component_no_installed_plugin_provides_names_its_distribution(toy_registry):
    data = {**VALID, "generator": {"type": "stylegan2"}}
    assert messages(data, toy_registry) == [
        "generator.type: unknown generator 'stylegan2'; it is provided by invprob-plugin-stylegan2: "
        "pip install invprob-plugin-stylegan2"
    ]


def test_an_unknown_name_with_no_close_match_lists_installed_ones(toy_registry):
    data = {**VALID, "solver": {"type": "qqqq"}}
    (message,) = messages(data, toy_registry)
    assert message.startswith("solver.type: unknown solver 'qqqq'; installed solvers: ")
    assert "toy-descent" in message


def test_invalid_choice_suggests_the_closest_value(toy_registry):
    assert messages({**VALID, "device": "cdua"}, toy_registry) == [
        "device: Input should be 'auto', 'cpu' or 'cuda'; did you mean 'cuda'? (got: 'cdua')"
    ]


def test_data_needs_exactly_one_source(toy_registry):
    assert messages({**VALID, "data": {}}, toy_registry) == [
        "data: give exactly one of 'images' (files), 'samples' (draws from the generator) or "
        "'observation' (measurements without ground truth) (got: {})"
    ]


def test_requires_is_checked_before_anything_runs(toy_registry):
    data = {**VALID, "requires": ["invprob>=99", "invprob-toy-plugin>=1.0,<2", "not-a-real-dist>=1", "bad req!"]}
    assert messages(data, toy_registry) == [
        "requires[0]: invprob 0.1.0 is installed but the recipe needs >=99: pip install 'invprob>=99'",
        "requires[2]: not-a-real-dist is not installed: pip install 'not-a-real-dist>=1'",
        "requires[3]: not a valid requirement; write a distribution name and an optional version specifier, "
        "e.g. 'invprob-plugin-dcgan>=0.1' (got: 'bad req!')",
    ]


def test_bad_yaml_reports_the_line(tmp_path, toy_registry):
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\nsolver: {type: toy-descent\n")
    with pytest.raises(RecipeError, match=r"not valid YAML: line 3, column 1"):
        load_recipe(path, registry=toy_registry)


def test_a_missing_recipe_file_is_a_clear_error(tmp_path, toy_registry):
    with pytest.raises(RecipeError, match="recipe file not found: .*nope.yaml"):
        load_recipe(tmp_path / "nope.yaml", registry=toy_registry)


def test_relative_paths_resolve_against_the_recipe_folder(tmp_path, toy_registry, monkeypatch):
    folder = tmp_path / "experiments"
    folder.mkdir()
    path = folder / "r.yaml"
    path.write_text(yaml.safe_dump({**VALID, "data": {"images": "faces/*.png"}, "outputs": {"dir": "out"}}))
    monkeypatch.chdir(tmp_path)
    recipe = load_recipe(path, registry=toy_registry)
    assert recipe.data.images == folder / "faces/*.png"
    assert recipe.outputs.dir == folder / "out"
    assert recipe.base_dir == folder


def test_overrides_set_nested_values_with_yaml_types():
    data = apply_overrides(VALID, ["solver.params.lr=0.5", "seed=7", "losses.0.weight=2", "priors=[]", "outputs.gif=true"])
    assert data["solver"]["params"] == {"steps": 5, "lr": 0.5}
    assert data["seed"] == 7 and data["losses"][0]["weight"] == 2 and data["priors"] == []
    assert data["outputs"] == {"gif": True}
    assert VALID["solver"]["params"] == {"steps": 5}, "the input must not be modified"


def test_overrides_address_list_items_with_brackets_and_delete_with_tilde():
    data = apply_overrides(VALID, ["losses[0].type=l1", "~operator.params.sigma", "~generator"])
    assert data["losses"][0]["type"] == "l1"
    assert data["operator"]["params"] == {}
    assert "generator" not in data


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("~solver.params.nope", "cannot delete 'solver.params.nope': there is no such field in the recipe"),
        ("seed", "override 'seed' must look like 'a.b.c=value' or '~a.b'"),
        ("losses.5.weight=1", "override 'losses.5.weight=1': losses[5] is not in the recipe"),
        ("generator.type.x=1", "override 'generator.type.x=1': generator.type is a value, not a section"),
    ],
)
def test_bad_overrides_say_what_is_wrong(override, message):
    with pytest.raises(OverrideError) as raised:
        apply_overrides(VALID, [override])
    assert str(raised.value) == message


def test_override_errors_are_recipe_errors_when_loading(toy_registry):
    assert messages(VALID, toy_registry, ["~nothing"]) == [
        "<recipe>: cannot delete 'nothing': there is no such field in the recipe"
    ]
