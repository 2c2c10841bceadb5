"""Recipe validation: every class of error, reported all at once with the messages users see."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from invprob.recipe import RecipeError, apply_overrides, load_recipe, OverrideError
from invprob.recipe import Recipe, default_metric_names, dump_recipe
from invprob import hookimpl
from invprob.params import OddWindow, Params

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
    assert recipe.metrics is None, "omitted metrics = every installed metric, chosen by the pipeline"
    assert recipe.device == "auto" and recipe.seed == 0


def test_every_error_is_reported_at_once_with_its_path(toy_registry):
    data = {
        **VALID,
        "devcie": "cpu",
        "seed": "zero",
        "operator": {"type": "toy-msk"},
        "losses": [{"type": "mse", "wieght": 2}, {"type": "l1", "params": {"scale": 3}}],
        "solver": {"type": "toy-descent", "params": {"stpes": 5, "lr": -1}},
        "metrics": ["toy-sharpness", "toy-sharpnes"],
    }
    toy_registry.register_plugin(ExtrasPlugin(), distribution="invprob-extras-test")
    assert messages(data, toy_registry) == [
        "seed: Input should be a valid integer, unable to parse string as an integer (got: 'zero')",
        "losses[0].wieght: unknown field 'wieght'; did you mean 'weight'?",
        "devcie: unknown field 'devcie'; did you mean 'device'?",
        "operator.type: unknown operator 'toy-msk'; did you mean 'toy-mask'?",
        "losses[1].params.scale: unknown field 'scale'",
        "solver.params.lr: Input should be greater than 0 (got: -1)",
        "solver.params.stpes: unknown field 'stpes'; did you mean 'steps'?",
        "metrics[1]: unknown metric 'toy-sharpnes'; did you mean 'toy-sharpness'?",
    ]


def test_missing_sections_and_wrong_version(toy_registry):
    assert messages({"version": 2, "generator": {"type": "toy-generator"}}, toy_registry) == [
        "version: Input should be 1 (got: 2)",
        "operator: required field is missing",
        "solver: required field is missing",
        "data: required field is missing",
    ]


def test_a_component_no_installed_plugin_provides_lists_the_installed_ones(toy_registry):
    data = {**VALID, "generator": {"type": "biggan"}}
    (message,) = messages(data, toy_registry)
    assert message.startswith("generator.type: unknown generator 'biggan'; installed generators: ")
    assert "toy-generator" in message


def test_an_unknown_name_with_no_close_match_lists_installed_ones(toy_registry):
    data = {**VALID, "solver": {"type": "qqqq"}}
    (message,) = messages(data, toy_registry)
    assert message.startswith("solver.type: unknown solver 'qqqq'; installed solvers: ")
    assert "toy-descent" in message


def test_invalid_choice_suggests_the_closest_value(toy_registry):
    assert messages({**VALID, "device": "cdua"}, toy_registry) == [
        "device: Input should be 'auto', 'cpu' or 'cuda'; did you mean 'cuda'? (got: 'cdua')"
    ]


@pytest.mark.parametrize("data", [{}, {"samples": 2, "observation": "y.npy"}, {"images": "x", "observation": "y"}])
def test_data_needs_exactly_one_source(toy_registry, data):
    (message,) = messages({**VALID, "data": data}, toy_registry)
    assert message.startswith(
        "data: give exactly one of 'images' (ground-truth image files), 'samples' (draws from the "
        "generator) or 'observation' (measurements without ground truth)"
    )


def test_an_observation_is_a_path_relative_to_the_recipe(tmp_path, toy_registry):
    recipe = load_recipe({**VALID, "data": {"observation": "photos/*.png"}}, registry=toy_registry, base_dir=tmp_path)
    assert recipe.data.observation == tmp_path / "photos/*.png"
    assert recipe.data.images is None and recipe.data.samples is None


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


# -- solver defaults, nested components, metrics ------------------------------------------


class ToyContextParams(Params):
    """A stand-in for a solver's own loss."""

    window: OddWindow = 7


class ToyAccuracyParams(Params):
    """A metric that cannot be named without params."""

    reference: str


def _unused_factory(params, context):
    raise AssertionError("validation never builds components")


class ExtrasPlugin:
    """Solvers with recipe-level defaults, a loss of their own, and metrics."""

    @staticmethod
    @hookimpl
    def invprob_register_solvers(registry):
        registry.add(
            "toy-yeh",
            _unused_factory,
            defaults={
                "losses": [{"type": "toy-context", "params": {"window": 7}}],
                "priors": [{"type": "toy-norm", "params": {"weight": 0.003}}],
            },
        )
        registry.add(
            "toy-broken-defaults",
            _unused_factory,
            defaults={
                "priors": [
                    {"type": "toy-discriminator", "params": {"lam": 0.003}},
                    {"type": "toy-norm", "params": {"wieght": 1}},
                ]
            },
        )

    @staticmethod
    @hookimpl
    def invprob_register_losses(registry):
        registry.add("toy-context", _unused_factory, params_model=ToyContextParams)

    @staticmethod
    @hookimpl
    def invprob_register_metrics(registry):
        registry.add("toy-sharpness", _unused_factory)
        registry.add("toy-accuracy", _unused_factory, params_model=ToyAccuracyParams)


@pytest.fixture
def extras(toy_registry):
    toy_registry.register_plugin(ExtrasPlugin(), distribution="invprob-extras-test")
    return toy_registry


YEH = {key: value for key, value in VALID.items() if key != "losses"} | {"solver": {"type": "toy-yeh"}}


def test_omitted_losses_and_priors_are_the_solvers_defaults(extras):
    recipe = load_recipe(YEH, registry=extras)
    assert [(s.type, s.params, s.weight) for s in recipe.losses] == [("toy-context", {"window": 7}, 1.0)]
    assert [(s.type, s.params) for s in recipe.priors] == [("toy-norm", {"weight": 0.003})]
    assert recipe.from_solver_defaults == ("losses", "priors")
    assert "losses" not in recipe.raw and "priors" not in recipe.raw, "raw keeps what the user wrote"


def test_written_sections_are_used_exactly_as_written_even_when_empty(extras):
    recipe = load_recipe({**YEH, "priors": [], "losses": [{"type": "l1"}]}, registry=extras)
    assert recipe.priors == []
    assert [s.type for s in recipe.losses] == ["l1"]
    assert recipe.from_solver_defaults == ()


def test_a_solver_without_defaults_gets_mse_and_no_priors(extras):
    recipe = load_recipe({k: v for k, v in VALID.items() if k != "losses"}, registry=extras)
    assert [(s.type, s.params, s.weight) for s in recipe.losses] == [("mse", {}, 1.0)]
    assert recipe.priors == []
    assert recipe.from_solver_defaults == ()


def test_defaults_are_validated_like_written_components_with_their_origin_in_the_path(extras):
    data = {**YEH, "solver": {"type": "toy-broken-defaults"}}
    problems = messages(data, extras)
    origin = "priors (default of solver 'toy-broken-defaults')"
    assert problems[0].startswith(f"{origin}[0].type: unknown prior 'toy-discriminator'; ")
    assert problems[1:] == [f"{origin}[1].params.wieght: unknown field 'wieght'; did you mean 'weight'?"]


def test_dump_recipe_writes_the_components_the_solver_supplied(extras):
    dumped = yaml.safe_load(dump_recipe(load_recipe(YEH, registry=extras)))
    assert dumped["losses"] == [{"type": "toy-context", "params": {"window": 7}, "weight": 1.0}]
    assert dumped["priors"] == [{"type": "toy-norm", "params": {"weight": 0.003}}]


def test_overriding_the_solver_changes_what_omitted_sections_mean(extras, tmp_path):
    recipe = load_recipe(YEH, registry=extras, base_dir=tmp_path)
    other = recipe.with_overrides(["solver.type=toy-descent"], extras)
    assert [s.type for s in other.losses] == ["mse"] and other.priors == []
    assert other.base_dir == tmp_path
    assert recipe.with_overrides([], extras) is recipe


def test_an_override_inside_an_omitted_section_starts_from_the_solvers_defaults(extras):
    recipe = load_recipe(YEH, ["priors.0.params.weight=0.01", "~losses.0.params.window"], registry=extras)
    assert [(s.type, s.params) for s in recipe.priors] == [("toy-norm", {"weight": 0.01})]
    assert [(s.type, s.params) for s in recipe.losses] == [("toy-context", {})]
    assert recipe.from_solver_defaults == ()
    assert recipe.raw["priors"] == [{"type": "toy-norm", "params": {"weight": 0.01}}]


def test_overrides_on_a_loaded_recipe_are_validated_once(extras, monkeypatch):
    import invprob.recipe

    recipe = load_recipe(VALID, registry=extras)
    calls = []
    original = invprob.recipe.validate_recipe
    monkeypatch.setattr(invprob.recipe, "validate_recipe", lambda *a, **k: calls.append(1) or original(*a, **k))
    changed = recipe.with_overrides(["seed=3", "solver.params.steps=7"], extras)
    assert (changed.seed, changed.solver.params["steps"], recipe.seed) == (3, 7, 0)
    assert len(calls) == 1


def test_omitted_sections_are_optional_in_the_json_schema():
    required = Recipe.model_json_schema()["required"]
    assert "losses" not in required and "priors" not in required and "solver" in required


def test_nested_components_are_validated_with_their_full_path_all_at_once(toy_registry):
    pytest.importorskip("invprob_plugin_imaging")
    operators = [
        {"type": "downsampel", "params": {"factor": 2}},
        {"type": "denoise", "params": {"sigma": -1}},
        {"type": "compose", "params": {"operators": [{"type": "identity", "parms": {}}, {"type": "colorise"}]}},
    ]
    data = {**VALID, "operator": {"type": "compose", "params": {"operators": operators}}}
    assert messages(data, toy_registry) == [
        "operator.params.operators[0].type: unknown operator 'downsampel'; did you mean 'downsample'?",
        "operator.params.operators[1].params.sigma: Input should be greater than or equal to 0 (got: -1)",
        "operator.params.operators[2].params.operators[0].parms: unknown field 'parms'; did you mean 'params'?",
        "operator.params.operators[2].params.operators[1].type: unknown operator 'colorise'; "
        "did you mean 'colorize' or 'compose'?",
    ]


def test_metrics_are_names_of_registered_metrics_that_need_no_params(extras):
    assert messages({**VALID, "metrics": ["toy-sharpness", "toy-sharpnes", "toy-accuracy"]}, extras) == [
        "metrics[1]: unknown metric 'toy-sharpnes'; did you mean 'toy-sharpness'?",
        "metrics[2]: metric 'toy-accuracy' needs params (reference), which a name in 'metrics' cannot give",
    ]
    assert load_recipe({**VALID, "metrics": ["toy-sharpness"]}, registry=extras).metrics == ["toy-sharpness"]


def test_omitted_metrics_stand_for_every_metric_whose_params_all_default(extras):
    names = default_metric_names(extras)
    assert "toy-sharpness" in names and "toy-accuracy" not in names


def test_validate_prints_the_components_it_will_use_and_where_they_came_from(extras, tmp_path, monkeypatch, capsys):
    import invprob.registry
    from invprob.cli import main

    monkeypatch.setattr(invprob.registry, "_DEFAULT", extras)
    path = tmp_path / "yeh.yaml"
    path.write_text(yaml.safe_dump({**YEH, "losses": [{"type": "l1", "weight": 2}]}))
    assert main(["validate", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{path}: valid (toy-yeh on toy-mask)"
    assert lines[1:6] == [
        "  generator: toy-generator",
        "  operator:  toy-mask {sigma: 0.1}",
        "  priors:    toy-norm {weight: 0.003}  [default of solver 'toy-yeh']",
        "  losses:    l1 (weight 2)",
        "  solver:    toy-yeh",
    ]
    assert lines[6].startswith("  metrics:   ") and "toy-sharpness" in lines[6] and "toy-accuracy" not in lines[6]
    assert lines[6].endswith("[every installed metric with default params]")
