"""Each component's params are validated once per run: recipe validation keeps the validated
params model with each component spec, and building, nested components and the resolved recipe
use it as it is (issue 22, item 6)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

import invprob
from invprob.params import Params
from invprob.registry import default_registry

PHOTO = Path(__file__).resolve().parents[1] / "recipes" / "images" / "astronaut-face64.png"
INPAINT = {"type": "inpaint-random", "params": {"observed": 0.2}}
COMPOSE = {"type": "compose", "params": {"operators": [INPAINT, {"type": "denoise", "params": {"sigma": 5}}]}}


def csgm_recipe(operator: dict) -> dict:
    """A 2-step CSGM run on one photo with the embedded face DCGAN."""
    return {
        "version": 1,
        "seed": 0,
        "device": "cpu",
        "generator": {"type": "dcgan64-faces"},
        "operator": operator,
        "losses": [{"type": "mse"}],
        "solver": {"type": "csgm", "params": {"steps": 2, "restarts": 1}},
        "data": {"images": str(PHOTO)},
        "metrics": ["psnr", "ssim"],
        "outputs": {"latents": False},
    }


def components_of(operator: dict) -> list[tuple[str, str]]:
    """``(kind, name)`` of every component the run validates params for, nested ones included."""
    operators = [operator, *operator.get("params", {}).get("operators", [])]
    return [("generators", "dcgan64-faces"), *(("operators", o["type"]) for o in operators), ("losses", "mse"),
            ("solvers", "csgm"), ("metrics", "psnr"), ("metrics", "ssim")]  # fmt: skip


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """How many times each params model validates, counted at pydantic's entry point that every
    params validation goes through (``Component.validate_params`` and any direct call)."""
    counts: Counter = Counter()
    validate = Params.model_validate.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Params], *args, **kwargs):
        counts[cls] += 1
        return validate(cls, *args, **kwargs)

    monkeypatch.setattr(Params, "model_validate", classmethod(counting))
    return counts


def assert_validated_once(counts: Counter, operator: dict) -> None:
    registry = default_registry()
    expected = Counter(registry.get(kind, name).params_model for kind, name in components_of(operator))
    models = {component.params_model for kind in registry.components.values() for component in kind.values()}
    name = lambda model: f"{model.__module__}.{model.__qualname__}"  # noqa: E731
    assert {name(model): n for model, n in counts.items() if model in models} == {
        name(model): n for model, n in expected.items()
    }


@pytest.mark.parametrize("operator", [INPAINT, COMPOSE], ids=["inpaint", "compose"])
def test_a_python_run_validates_each_components_params_once(operator, validations, tmp_path):
    pytest.importorskip("invprob_plugin_csgm")
    result = invprob.run(csgm_recipe(operator), out=tmp_path, show_progress=False)
    assert_validated_once(validations, operator)
    resolved = yaml.safe_load((result.directory / "recipe.resolved.yaml").read_text())
    assert resolved["solver"]["params"]["steps"] == 2 and resolved["solver"]["params"]["lr"] > 0  # defaults written


def test_a_command_line_run_with_overrides_validates_each_components_params_once(validations, tmp_path):
    pytest.importorskip("invprob_plugin_csgm")
    from invprob.app.cli import main

    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({**csgm_recipe(INPAINT), "solver": {"type": "csgm"}}))
    overrides = ["solver.params.steps=2", "solver.params.restarts=1", "operator.params.observed=0.3"]
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "runs"), *overrides]) == 0
    assert_validated_once(validations, INPAINT)
    (directory,) = (tmp_path / "runs").iterdir()
    resolved = yaml.safe_load((directory / "recipe.resolved.yaml").read_text())
    assert resolved["operator"]["params"]["observed"] == 0.3 and resolved["solver"]["params"]["steps"] == 2
