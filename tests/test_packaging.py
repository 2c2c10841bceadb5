"""What a user gets from PyPI: wheel metadata, the examples and templates shipped as package data
(the commands that use them are tested beside their distributions: plugins/tools/*/tests)."""

from __future__ import annotations

import email
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = sorted(p.parent for p in [REPO / "pyproject.toml", *REPO.glob("plugins/**/pyproject.toml"),
                                            *REPO.glob("examples/*/pyproject.toml")])  # fmt: skip


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every distribution of the repository built once as a wheel, by name, for every metadata
    check (offline: setuptools from the venv). The builds are independent: one ``pip wheel`` per
    CPU builds its share of the distributions."""
    out = tmp_path_factory.mktemp("wheels")
    for source in DISTRIBUTIONS:  # pip builds in the source folder: what an earlier build left there would ship
        shutil.rmtree(source / "build", ignore_errors=True)
    workers = max(1, min(len(DISTRIBUTIONS), os.cpu_count() or 1))
    building = [
        subprocess.Popen([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                          str(out), *map(str, DISTRIBUTIONS[first::workers])],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for first in range(workers)
    ]  # fmt: skip
    for process in building:
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output[-3000:]
    built = {}
    for wheel in out.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            built[email.message_from_bytes(archive.read(metadata))["Name"]] = wheel
    return built


def metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


def names_in(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@pytest.mark.slow
def test_every_distribution_builds_a_wheel_that_requires_invprob_core_with_bounds(wheels):
    assert len(wheels) == len(DISTRIBUTIONS)
    assert "invprob-core" in wheels and "invprob" not in wheels  # PyPI's `invprob` is another project
    ours = set(wheels)
    for name, wheel in wheels.items():
        meta = metadata(wheel)
        assert meta["License-Expression"] == "MIT", name
        assert meta["Version"], name
        if name == "invprob-core":
            continue
        requirements = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
        on_ours = [r for r in requirements if r.marker is None and (r.name in ours or r.name.startswith("invprob"))]
        assert any(r.name == "invprob-core" for r in on_ours), f"{name} does not require invprob-core"
        for requirement in on_ours:
            operators = {spec.operator for spec in requirement.specifier}
            assert {">=", "<"} <= operators, f"{name} requires {requirement} without a lower and an upper bound"
            assert requirement.name in ours, f"{name} requires {requirement.name}, which this repository does not build"


@pytest.mark.slow
def test_the_all_extra_of_the_core_installs_every_first_party_plugin(wheels):
    assert _plugin_names() <= set(wheels)
    extra = [Requirement(r) for r in metadata(wheels["invprob-core"]).get_all("Requires-Dist") or []]
    in_all = {r.name: r for r in extra if r.marker is not None and r.marker.evaluate({"extra": "all"})
              and not r.marker.evaluate({"extra": ""})}  # fmt: skip
    assert set(in_all) == _plugin_names(), "pip install 'invprob-core[all]' must install every plugin under plugins/"
    for requirement in in_all.values():
        assert {">=", "<"} <= {spec.operator for spec in requirement.specifier}, requirement


def _pyproject(folder: Path) -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    return tomllib.loads((folder / "pyproject.toml").read_text())


def test_every_plugin_has_a_test_extra_lists_each_dependency_once_and_finds_its_package_one_way():
    for folder in (d for d in DISTRIBUTIONS if d != REPO):  # plugins/ and examples/
        data = _pyproject(folder)
        project, where = data["project"], folder.relative_to(REPO)
        extras = project.get("optional-dependencies", {})
        assert "pytest" in {Requirement(r).name for r in extras.get("test", [])}, f"{where}: no test extra with pytest"
        listed = [canonicalize_name(Requirement(r).name) for group in (project["dependencies"], *extras.values())
                  for r in group]  # fmt: skip
        assert sorted(set(listed)) == sorted(listed), f"{where}: a dependency listed twice: {sorted(listed)}"
        found = data.get("tool", {}).get("setuptools", {}).get("packages")  # the one discovery style: find
        include = found.get("find", {}).get("include", []) if isinstance(found, dict) else []
        assert len(include) == 1 and (folder / include[0].removesuffix("*")).is_dir(), (
            f'{where}: write [tool.setuptools.packages.find] include = ["<its package>*"] (has packages = {found})')


def test_a_plugin_folder_is_named_after_its_distribution():
    for pyproject in REPO.glob("plugins/*/*/pyproject.toml"):
        name = _pyproject(pyproject.parent)["project"]["name"]
        assert name == f"invprob-plugin-{pyproject.parent.name}", f"{pyproject.parent.relative_to(REPO)} holds {name}"


def _plugin_names() -> set[str]:
    """The distributions under ``plugins/``: every first-party plugin."""
    return {re.search(r'^name\s*=\s*"([^"]+)"', p.read_text(), re.M).group(1) for p in REPO.glob("plugins/**/pyproject.toml")}


@pytest.mark.slow
def test_the_examples_wheel_ships_the_demo_and_the_scaffold_wheel_the_plugin_templates(wheels):
    files = names_in(wheels["invprob-plugin-examples"])
    assert "invprob_plugin_examples/demo/demo.yaml" in files
    assert "invprob_plugin_examples/demo/images/astronaut-face64.png" in files
    templates = names_in(wheels["invprob-plugin-scaffold"])
    for kind in ("operator", "generator", "prior", "solver"):
        assert any(f.startswith(f"invprob_plugin_scaffold/templates/{kind}/") for f in templates), kind
    core = names_in(wheels["invprob-core"])
    entry_points = next(n for n in core if n.endswith("entry_points.txt"))
    with zipfile.ZipFile(wheels["invprob-core"]) as archive:
        assert "invprob.app.hookspecs" in archive.read(entry_points).decode()  # the figures hook, declared


@pytest.mark.slow
def test_the_core_wheel_ships_the_modules_of_the_source_and_no_other(wheels):
    """None missing, and none that an earlier build left in ``build/`` after the module moved."""
    source = {p.relative_to(REPO / "core").as_posix() for p in (REPO / "core/invprob").rglob("*.py") if "__pycache__" not in p.parts}
    shipped = {name for name in names_in(wheels["invprob-core"]) if name.endswith(".py")}
    assert shipped == source, f"missing {sorted(source - shipped)}, not in the source {sorted(shipped - source)}"


@pytest.mark.slow
def test_the_default_model_wheel_says_its_weights_come_from_celeba(wheels):
    meta = metadata(wheels["invprob-plugin-dcgan"])
    description = meta.get_payload()
    assert "CelebA" in description and "non-commercial" in description
    assert any(n.endswith(".safetensors") for n in names_in(wheels["invprob-plugin-dcgan"]))


def test_a_solver_whose_defaults_name_another_plugins_component_depends_on_it():
    yeh = (REPO / "plugins/solvers/yeh/pyproject.toml").read_text()
    assert "invprob-plugin-gan-priors>=" in yeh  # its default priors: discriminator, box


def test_validate_names_a_default_component_that_is_not_installed(invprob_cli):
    env = {**os.environ, "INVPROB_DISABLE_PLUGINS": "invprob-plugin-gan-priors"}
    result = invprob_cli(["validate", str(REPO / "recipes/demo.yaml")], env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "priors" in result.stderr and "discriminator" in result.stderr


def test_the_guide_shows_the_example_plugins_pyproject_as_it_is():
    guide = (REPO / "docs/third-party-plugin.md").read_text()
    block = re.search(r"```toml\n(.*?)```", guide, re.S).group(1)
    example = (REPO / "examples/invprob-plugin-example-blur/pyproject.toml").read_text()
    assert block.strip() == example.strip()
