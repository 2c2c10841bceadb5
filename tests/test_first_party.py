"""First-party component names and their distributions: the committed table is what the plugins
under plugins/ register; a missing one is named with its pip command; the shipped recipes declare
the distributions they need under ``requires:``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from invprob.first_party import FIRST_PARTY, PLUGIN_DISTRIBUTIONS
from invprob.hints import unknown_component_message
from invprob.recipe import component_distributions, read_recipe_file
from invprob.registry import CORE_DISTRIBUTION, canonical_distribution_name, new_registry

REPO = Path(__file__).resolve().parents[1]
SHIPPED_RECIPES = sorted((REPO / "recipes").glob("*.yaml"))  # demo.yaml is the example `invprob example demo` copies


def _script():
    spec = importlib.util.spec_from_file_location("first_party_components", REPO / "scripts/first_party_components.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def first_party_registry():
    """The core and the plugins under plugins/, nothing else (no test or example plugin)."""
    return new_registry(strict=True, only=set(PLUGIN_DISTRIBUTIONS))


def test_the_committed_table_is_what_the_plugins_under_plugins_register():
    script = _script()
    assert list(PLUGIN_DISTRIBUTIONS) == script.plugin_distributions(), "run python scripts/first_party_components.py"
    assert FIRST_PARTY == script.first_party_table(), "a component was added or renamed: run python scripts/first_party_components.py"
    committed = script.generated_part((REPO / "core/invprob/first_party.py").read_text())
    assert committed == script.render(FIRST_PARTY, list(PLUGIN_DISTRIBUTIONS)), "the table is generated: do not edit it"


def test_every_plugin_under_plugins_registers_through_the_invprob_entry_point_group():
    for pyproject in REPO.glob("plugins/**/pyproject.toml"):
        assert "[project.entry-points.invprob]" in pyproject.read_text(), pyproject


def test_a_missing_first_party_component_names_its_distribution_and_the_pip_command():
    registry = new_registry(strict=False, entry_points=False)  # the core alone, as after pip install invprob-core
    message = unknown_component_message(registry, "generators", "dcgan64-faces")
    assert message == (
        "unknown generator 'dcgan64-faces': it comes with invprob-plugin-dcgan, which is not installed: "
        "pip install invprob-plugin-dcgan"
    )
    assert "pip install invprob-plugin-imaging" in unknown_component_message(registry, "operators", "inpaint-center")
    assert "pip install" not in unknown_component_message(registry, "operators", "my-own-operator")


def test_a_switched_off_first_party_plugin_is_named_as_such():
    registry = new_registry(strict=False, disable={"invprob-plugin-dcgan"})
    message = unknown_component_message(registry, "generators", "dcgan64-faces")
    assert "it comes with invprob-plugin-dcgan, which is installed but not loaded" in message


def test_validate_names_the_distribution_of_a_missing_generator_and_every_other_problem(tmp_path, invprob_cli):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text((REPO / "recipes/ilo-inpaint-dcgan64.yaml").read_text())
    env_args = ["requires=[invprob-plugin-dcgan, invprob-plugin-nowhere>=1]", "solver.params.stepz=3",
                f"data.images={REPO / 'recipes/images/astronaut-face64.png'}"]  # fmt: skip
    result = invprob_cli(["validate", str(recipe), *env_args], {**_env(), "INVPROB_DISABLE_PLUGINS": "invprob-plugin-dcgan"})
    assert result.returncode == 2, result.stderr
    assert "generator.type: unknown generator 'dcgan64-faces': it comes with invprob-plugin-dcgan" in result.stderr
    assert "requires[1]: invprob-plugin-nowhere is not installed: pip install 'invprob-plugin-nowhere>=1'" in result.stderr
    assert "solver.params.stepz: unknown field" in result.stderr


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("INVPROB_")}


@pytest.mark.parametrize("path", SHIPPED_RECIPES, ids=[p.stem for p in SHIPPED_RECIPES])
def test_a_shipped_recipe_requires_exactly_the_distributions_its_components_come_from(path, first_party_registry):
    raw = read_recipe_file(path)
    core = canonical_distribution_name(CORE_DISTRIBUTION)
    needed = {canonical_distribution_name(d) for d in component_distributions(raw, first_party_registry)} - {core}
    declared = {canonical_distribution_name(Requirement(r).name) for r in raw.get("requires", [])} - {core}
    assert declared == needed, f"{path.name}: write requires: [{', '.join(sorted(needed))}]"
    assert declared <= set(PLUGIN_DISTRIBUTIONS)


def test_a_first_party_command_that_is_not_loaded_says_which_distribution_to_install(
    monkeypatch, capsys, swap_default_registry
):
    from invprob.app import cli
    from invprob import registry as registry_module

    swap_default_registry(new_registry(strict=False, entry_points=False))  # the core alone
    assert cli.main(["study", "run", "study.yaml", "--engine", "ray"]) == 2
    assert capsys.readouterr().err == (
        "error: unknown command 'invprob study run': it comes with invprob-studies, which is not installed: "
        "pip install invprob-studies\n"
    )
    assert cli.main(["train", "lcm", "--epochs", "1"]) == 2
    assert "unknown command 'invprob train lcm': it comes with invprob-plugin-lcm" in capsys.readouterr().err
    assert cli.main(["train"]) == 2
    err = capsys.readouterr().err
    assert "'invprob train dcgan' comes with invprob-plugin-dcgan, which is not installed" in err
    assert "'invprob train lcm' comes with invprob-plugin-lcm" in err

    swap_default_registry(new_registry(strict=False, disable={"invprob-studies"}))
    assert cli.main(["study", "plan", "study.yaml"]) == 2
    assert "invprob-studies, which is installed but not loaded" in capsys.readouterr().err
    assert cli.missing_command_message(registry_module.default_registry(), ["stduy"]) is None  # argparse's "invalid choice"
    assert cli.missing_command_message(registry_module.default_registry(), ["train", "dcgan"]) is None  # installed
