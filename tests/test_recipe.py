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
    data = {**VALID, "requires": ["invprob-core>=99", "invprob-toy-plugin>=1.0,<2", "not-a-real-dist>=1", "bad req!"]}
    assert messages(data, toy_registry) == [
        "requires[0]: invprob-core 0.1.0 is installed but the recipe needs >=99: pip install 'invprob-core>=99'",
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
    other = load_recipe(recipe, ["solver.type=toy-descent"], registry=extras)
    assert [s.type for s in other.losses] == ["mse"] and other.priors == []
    assert other.base_dir == tmp_path
    assert load_recipe(recipe, [], registry=extras) is recipe


def test_an_override_inside_an_omitted_section_starts_from_the_solvers_defaults(extras):
    recipe = load_recipe(YEH, ["priors.0.params.weight=0.01", "~losses.0.params.window"], registry=extras)
    assert [(s.type, s.params) for s in recipe.priors] == [("toy-norm", {"weight": 0.01})]
    assert [(s.type, s.params) for s in recipe.losses] == [("toy-context", {})]
    assert recipe.from_solver_defaults == ()
    assert recipe.raw["priors"] == [{"type": "toy-norm", "params": {"weight": 0.01}}]


def test_overrides_on_a_loaded_recipe_are_validated_once(extras, monkeypatch):
    import invprob.recipe.loading

    recipe = load_recipe(VALID, registry=extras)
    calls = []
    original = invprob.recipe.loading.validate_recipe
    monkeypatch.setattr(invprob.recipe.loading, "validate_recipe", lambda *a, **k: calls.append(1) or original(*a, **k))
    changed = load_recipe(recipe, ["seed=3", "solver.params.steps=7"], registry=extras)
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


def test_validate_prints_the_components_it_will_use_and_where_they_came_from(
    extras, tmp_path, monkeypatch, capsys, swap_default_registry
):
    from invprob.app.cli import main

    swap_default_registry(extras)
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


# -- hostile input: one RecipeError with one line per problem, quickly (issue 9) ------------

REPO = Path(__file__).resolve().parents[1]
ALIAS_BOMB = "\n".join(
    ["a0: &a0 [x]", *(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9))]
)  # 9**8 = 43 million strings from a 460-byte file


def problems_of(source, registry, overrides=(), **kwargs) -> list[str]:
    """The problems a hostile recipe gives, checked to be one short line each and quick."""
    import time

    started = time.perf_counter()
    with pytest.raises(RecipeError) as raised:
        load_recipe(source, overrides, registry=registry, **kwargs)
    assert time.perf_counter() - started < 2, "validation must be instant whatever the input"
    lines = [str(problem) for problem in raised.value.problems]
    assert all("\n" not in line and len(line) < 700 for line in lines), lines
    return lines


def recipe_file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_a_yaml_alias_bomb_is_refused_before_anything_expands_it(tmp_path, toy_registry):
    text = yaml.safe_dump(VALID) + ALIAS_BOMB
    assert len(ALIAS_BOMB) < 500
    assert problems_of(recipe_file(tmp_path, text), toy_registry) == [
        "a5: holds more than 100000 values once YAML aliases are expanded; a recipe is small"
    ]


def test_an_alias_bomb_in_an_override_is_refused(toy_registry):
    bomb = "{" + ", ".join(line.replace(": ", ": ", 1) for line in ALIAS_BOMB.splitlines()) + "}"
    (line,) = problems_of(VALID, toy_registry, [f"solver.params={bomb}"])
    assert "more than 100000 values" in line


def test_nested_yaml_merges_do_not_double_at_every_level(tmp_path, toy_registry):
    merges = ["m0: &m0 {a: 1, b: 2}", *(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}" for i in range(1, 40))]
    lines = problems_of(recipe_file(tmp_path, yaml.safe_dump(VALID) + "\n".join(merges)), toy_registry)
    assert lines[0] == "m0: unknown field 'm0'; allowed fields: " + lines[0].split("allowed fields: ")[1]


def test_a_value_that_contains_itself_is_refused(tmp_path, toy_registry):
    assert problems_of(recipe_file(tmp_path, yaml.safe_dump(VALID) + "x: &r [*r]\n"), toy_registry) == [
        "x[0]: a value contains itself (a YAML alias inside its own anchor)"
    ]
    cycle: list = []
    cycle.append(cycle)
    assert problems_of({**VALID, "name": cycle}, toy_registry) == [
        "name[0]: a value contains itself (a YAML alias inside its own anchor)"
    ]


def test_a_file_that_is_not_utf8_text_is_named_as_such(toy_registry):
    png = REPO / "recipes" / "images" / "astronaut-face64.png"
    (line,) = problems_of(png, toy_registry)
    assert line == (
        "<recipe>: not UTF-8 text (byte 0x89 at offset 0); a recipe is a YAML text file, saved as UTF-8"
    )


def test_a_huge_file_is_not_read_whole(tmp_path, toy_registry):
    (line,) = problems_of(recipe_file(tmp_path, b"a: 1\n" * 300_000), toy_registry)
    assert line == "<recipe>: the file is larger than 64 KiB; a recipe is a small YAML text file"


def test_thousands_of_problems_are_counted_not_listed(toy_registry):
    lines = problems_of({**VALID, **{f"k{i}": 1 for i in range(20_000)}}, toy_registry)
    assert len(lines) == 101 and lines[-1] == "<recipe>: and 19900 more problems"


@pytest.mark.parametrize("depth", [60, 1000])
def test_nesting_1000_deep_in_a_file_is_refused(tmp_path, toy_registry, depth):
    text = yaml.safe_dump(VALID) + "deep: " + "[" * depth + "]" * depth + "\n"
    (line,) = problems_of(recipe_file(tmp_path, text), toy_registry)
    assert line.startswith("<recipe>: not valid YAML: line 16, column ") and "nest more than 50 levels" in line


def test_nesting_1000_deep_in_an_override_is_refused(toy_registry):
    (value,) = problems_of(VALID, toy_registry, ["solver.params.steps=" + "[" * 1000 + "]" * 1000])
    assert "is not valid YAML" in value and "nest more than 50 levels" in value
    (path,) = problems_of(VALID, toy_registry, ["a." * 1000 + "b=1"])
    assert "is 1001 fields deep; a recipe nests at most 50" in path


def test_dicts_nested_800_deep_through_the_python_api_are_refused(toy_registry):
    deep: dict = {"leaf": 1}
    for _ in range(800):
        deep = {"a": deep}
    (line,) = problems_of({**VALID, "solver": {"type": "toy-descent", "params": deep}}, toy_registry)
    assert line.startswith("solver.params.a.a.a") and line.endswith("values nest more than 50 levels deep")


def test_a_home_folder_of_no_such_user_is_a_recipe_error(toy_registry):
    data = {**VALID, "data": {"images": "~nosuchuser/x.png"}}
    assert problems_of(data, toy_registry) == [
        "data.images: cannot expand '~nosuchuser': no such user's home directory (got: '~nosuchuser/x.png')"
    ]
    assert problems_of(VALID, toy_registry, ["data.images=~nosuchuser/x.png", "~data.samples"]) == [
        "data.images: cannot expand '~nosuchuser': no such user's home directory (got: '~nosuchuser/x.png')"
    ]


@pytest.mark.parametrize(
    "tagged, reason",
    [
        ("!!float abc", "cannot read 'abc' as !!float: could not convert string to float: 'abc'"),
        ("!!timestamp nope", "cannot read 'nope' as !!timestamp: not a valid value"),
        ("!!int 0b102", "cannot read '0b102' as !!int: invalid literal for int() with base 2: '102'"),
        ("!!bool maybe", "cannot read 'maybe' as !!bool: not a valid value"),
    ],
)
def test_yaml_tags_that_pyyaml_cannot_read_are_named_in_one_line(tmp_path, toy_registry, tagged, reason):
    assert problems_of(VALID, toy_registry, [f"seed={tagged}"]) == [
        f"<recipe>: value of override 'seed' is not valid YAML: line 1, column 1: {reason}"
    ]
    text = yaml.safe_dump(VALID) + f"seed: {tagged}\n"
    assert problems_of(recipe_file(tmp_path, text), toy_registry) == [
        f"<recipe>: not valid YAML: line 16, column 7: {reason}"
    ]


def test_integers_of_more_than_4300_digits_are_errors_not_tracebacks(tmp_path, toy_registry):
    digits = "9" * 5000
    (in_file,) = problems_of(recipe_file(tmp_path, yaml.safe_dump(VALID) + f"seed: {digits}\n"), toy_registry)
    assert "cannot read '99999" in in_file and "as !!int: Exceeds the limit (4300 digits)" in in_file
    (override,) = problems_of(VALID, toy_registry, [f"seed={digits}"])
    assert override.startswith("<recipe>: value of override 'seed' is not valid YAML")
    (index,) = problems_of(VALID, toy_registry, [f"losses.{digits}.weight=1"])
    assert "list index '9999" in index and index.endswith("is too large")
    assert problems_of({**VALID, "seed": 10**5000}, toy_registry) == [
        "seed: a seed must be in [-2**63, 2**64), the range torch.manual_seed accepts "
        "(got: <an integer of about 5001 digits>)"
    ]


def test_every_value_in_a_message_is_shortened(toy_registry):
    class HugeRepr:
        def __repr__(self):
            return "x" * 10_000_000

    data = {**VALID, "k" * 100_000: 1, "name": HugeRepr(), "device": ["cpu"] * 1000}
    lines = problems_of(data, toy_registry)
    assert len(lines) == 3 and max(len(line) for line in lines) < 300


def test_a_plugin_params_check_that_raises_is_a_problem_naming_the_plugin(toy_registry):
    from pydantic import field_validator

    class Fragile(Params):
        size: int = 1

        @field_validator("size")
        @classmethod
        def _crash(cls, value):
            raise TypeError("a bug in the plugin")

    class FragilePlugin:
        @staticmethod
        @hookimpl
        def invprob_register_priors(registry):
            registry.add("fragile", _unused_factory, params_model=Fragile)

    toy_registry.register_plugin(FragilePlugin(), distribution="invprob-fragile-test")
    assert problems_of({**VALID, "priors": [{"type": "fragile", "params": {"size": 2}}]}, toy_registry) == [
        "priors[0].params: the params check of prior 'fragile' (invprob-fragile-test) failed on these params "
        "with TypeError: a bug in the plugin; please report it to its authors"
    ]


# -- what the recipe alone decides is checked by validate (issue 9, item 4) -------------------


@pytest.mark.parametrize("seed", [-(2**63), 0, 2**64 - 1])
def test_seeds_in_torchs_range_are_valid(toy_registry, seed):
    assert load_recipe({**VALID, "seed": seed}, registry=toy_registry).seed == seed


@pytest.mark.parametrize("seed", [-(2**63) - 1, 2**64, 10**30])
def test_seeds_outside_torchs_range_are_refused(toy_registry, seed):
    (line,) = problems_of({**VALID, "seed": seed}, toy_registry)
    assert line.startswith("seed: a seed must be in [-2**63, 2**64), the range torch.manual_seed accepts")


def test_a_seed_is_not_true_or_false(toy_registry):
    assert problems_of({**VALID, "seed": True}, toy_registry) == ["seed: a seed is an integer, not true/false (got: True)"]


@pytest.mark.parametrize("select, kept", [("", ""), ("  ", ""), ("3", "3"), ("-8:", "-8:"), (" 0 : 64 ", "0 : 64"), (":", ":")])
def test_data_select_is_an_index_or_a_slice(toy_registry, select, kept):
    data = {**VALID, "data": {"images": "x.png", "select": select}}
    assert load_recipe(data, registry=toy_registry).data.select == kept


@pytest.mark.parametrize("select", ["-", "-:", "::2", "1:2:3", "a:b", "1.5", "9" * 5000, "+1"])
def test_data_select_syntax_is_checked_before_the_data_is_read(toy_registry, select):
    data = {**VALID, "data": {"images": "x.png", "select": select}}
    (line,) = problems_of(data, toy_registry)
    assert line.startswith("data.select: select must be one index or a Python slice start:stop of integers")


def test_non_finite_numbers_are_refused_anywhere(toy_registry):
    data = {
        **VALID,
        "operator": {"type": "toy-mask", "params": {"sigma": float("inf")}},
        "losses": [{"type": "mse", "weight": float("nan")}],
        "solver": {"type": "toy-descent", "params": {"lr": "inf"}},
        "name": [float("-inf")],
    }
    finite = "must be a finite number (.inf and .nan are not allowed in a recipe)"
    assert problems_of(data, toy_registry) == [
        "name: Input should be a valid string (got: [-inf])",
        f"losses[0].weight: {finite} (got: nan)",
        f"operator.params.sigma: {finite} (got: inf)",
        f"solver.params.lr: {finite} (got: 'inf')",
        f"name[0]: {finite} (got: -inf)",
    ]


def test_non_finite_yaml_numbers_in_a_file_and_in_overrides(tmp_path, toy_registry):
    text = yaml.safe_dump(VALID).replace("sigma: 0.1", "sigma: .inf")
    assert problems_of(recipe_file(tmp_path, text), toy_registry, ["solver.params.lr=.nan"]) == [
        "operator.params.sigma: must be a finite number (.inf and .nan are not allowed in a recipe) (got: inf)",
        "solver.params.lr: must be a finite number (.inf and .nan are not allowed in a recipe) (got: nan)",
    ]


def test_numbers_that_overflow_float32_are_refused_naming_their_field(tmp_path, toy_registry):
    overflow = "overflows float32, the dtype runs compute in (at most 3.40282e+38 in magnitude); give a smaller number"
    assert problems_of(recipe_file(tmp_path, yaml.safe_dump(VALID)), toy_registry, ["solver.params.lr=1e39"]) == [
        f"solver.params.lr: 1e+39 {overflow} (got: '1e39')",  # YAML reads 1e39 as a string
    ]
    data = {**VALID, "losses": [{"type": "mse", "weight": -3.5e38}, {"type": "l1", "weight": 10**39}]}
    assert problems_of(data, toy_registry) == [
        f"losses[0].weight: -3.5e+38 {overflow} (got: -3.5e+38)",
        f"losses[1].weight: 1e+39 {overflow} (got: {10**39})",  # an integer given to a float field
    ]
    assert load_recipe({**VALID, "losses": [{"type": "mse", "weight": 3.4e38}]}, registry=toy_registry)  # float32 holds it


class LatentParams(Params):
    """A solver on the generator's latent."""

    needs_generator = True


class LatentPlugin:
    @staticmethod
    @hookimpl
    def invprob_register_solvers(registry):
        registry.add("toy-latent", _unused_factory, params_model=LatentParams)


def test_a_solver_that_needs_a_generator_without_one_is_invalid(toy_registry):
    toy_registry.register_plugin(LatentPlugin(), distribution="invprob-latent-test")
    data = {key: value for key, value in VALID.items() if key != "generator"}
    data |= {"solver": {"type": "toy-latent"}, "data": {"images": "x.png"}}
    assert problems_of(data, toy_registry) == [
        "solver.type: solver 'toy-latent' works on a generator's latent, and the recipe has no 'generator' "
        "section: add one"
    ]
    assert load_recipe({**data, "generator": {"type": "toy-generator"}}, registry=toy_registry)
    assert load_recipe({**data, "solver": {"type": "toy-descent"}}, registry=toy_registry), "declared, not guessed"


def test_samples_and_observations_need_a_generator(toy_registry):
    data = {key: value for key, value in VALID.items() if key != "generator"}
    assert problems_of(data, toy_registry) == [
        "data.samples: data.samples needs a generator (it sets the size of the images to recover): add a "
        "'generator' section or use data.images"
    ]


# -- the command line: exit 2 and the one-line reason ------------------------------------------


@pytest.fixture
def real_registry(installed_registry):
    """The installed plugins as the process default."""


@pytest.mark.parametrize(
    "target, overrides, expected",
    [
        ("recipes/images/astronaut-face64.png", [], "not UTF-8 text"),
        ("recipes/demo.yaml", ["seed=!!float abc"], "cannot read 'abc' as !!float"),
        ("recipes/demo.yaml", ["seed=!!timestamp nope"], "cannot read 'nope' as !!timestamp"),
        ("recipes/demo.yaml", ["seed=!!int 0b102"], "cannot read '0b102' as !!int"),
        ("recipes/demo.yaml", ["data.images=~nosuchuser/x.png"], "cannot expand '~nosuchuser'"),
        ("recipes/demo.yaml", ["seed=" + "[" * 1000 + "]" * 1000], "nest more than 50 levels"),
        ("recipes/demo.yaml", ["seed=" + "9" * 5000], "Exceeds the limit (4300 digits)"),
        ("recipes/demo.yaml", ["seed=18446744073709551616"], "a seed must be in [-2**63, 2**64)"),
        ("recipes/demo.yaml", ["solver.params.lr=.inf"], "solver.params.lr: must be a finite number"),
        ("recipes/demo.yaml", ["data.select='-:'"], "data.select: select must be one index or a Python slice"),
    ],
)
def test_invprob_validate_exits_2_with_one_line_per_problem(real_registry, capsys, target, overrides, expected):
    from invprob.app.cli import main

    assert main(["validate", str(REPO / target), *overrides]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning: ")]
    assert len(err) == 2 and err[0].endswith("invalid recipe, 1 error:") and expected in err[1], err


def test_a_negative_index_in_an_override_counts_from_the_end():
    data = {"losses": [{"type": "mse"}, {"type": "l1", "weight": 1}]}
    assert apply_overrides(data, ["losses.-1.weight=2"])["losses"][1]["weight"] == 2
    assert apply_overrides(data, ["losses[0].type=l1", "~losses.-1"])["losses"] == [{"type": "l1"}]
    with pytest.raises(OverrideError, match=r"override 'losses.-3.weight=2': losses.-3 is not in the recipe"):
        apply_overrides(data, ["losses.-3.weight=2"])
