"""ILO and PULSE run end to end on the embedded default 64x64 DCGAN (no ../shared needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import invprob


@pytest.fixture(autouse=True)
def real_plugins(installed_registry):
    """These tests use the installed first-party plugins, whatever the test fixtures did."""


def _recipe(solver: dict, operator: dict, priors: list | None = None) -> dict:
    recipe = {
        "version": 1,
        "name": "test",
        "seed": 0,
        "generator": {"type": "dcgan64-faces"},
        "operator": operator,
        "losses": [{"type": "mse"}],
        "solver": solver,
        "data": {"samples": 2, "batch_size": 2},
        "metrics": ["psnr"],
        "outputs": {"gif": False},
    }
    if priors is not None:
        recipe["priors"] = priors
    return recipe


def test_ilo_on_the_default_dcgan_saves_each_rounds_best_image(tmp_path: Path):
    solver = {"type": "ilo", "params": {"steps": [6, 4, 4, 4], "radius_features": [1000, 2000, 4000], "project_to_range": True,
                                        "range_steps": 5}}
    result = invprob.run(
        _recipe(solver, {"type": "inpaint-random", "params": {"observed": 0.2}}), out=tmp_path, show_progress=False
    )
    names = {p.name for p in (result.directory / "images").iterdir()}
    for index, name in enumerate(result.names):
        for k in range(4):
            assert f"{index:04d}_{name}_round{k}.png" in names
    solved = result.results[0]
    assert set(solved.timings) == {"round0", "round1", "range1", "round2", "range2", "round3"}
    assert solved.best_round.shape == (2,)
    assert result.metrics["mean"]["psnr"] > 5
    rounds = json.loads((result.directory / "metrics.json").read_text())["rounds"]
    assert [(r["round"], r["steps"], r["lr"]) for r in rounds] == [(0, 6, 0.1), (1, 4, 0.1), (2, 4, 0.1), (3, 4, 0.1)]
    assert rounds[0]["variables"] == [{"name": "z", "shape": [100], "radius": 300.0}]  # appendix 6.3's latent radius, round 0
    assert [v["radius"] for r in rounds[1:] for v in r["variables"]] == [1000.0, 2000.0, 4000.0]
    assert all(r["constraints"] == ["l1-ball"] for r in rounds)  # a DCGAN has no w+ or noise maps on a sphere


def test_ilo_splits_the_default_dcgan_at_its_layer_blocks():
    from invprob.context import BuildContext
    from invprob.registry import default_registry

    registry = default_registry()
    context = BuildContext(registry=registry)
    generator = registry.build("generators", "dcgan64-faces", {}, context)
    context.generator = generator
    with pytest.raises(Exception, match="use at most 6 rounds"):
        registry.build("solvers", "ilo", {"steps": [3] * 7, "radius_features": 1.0}, context)


def test_pulse_reports_an_unreached_target_in_metrics(tmp_path: Path):
    solver = {"type": "pulse", "params": {"steps": 3, "eps": 1e-9}}
    with pytest.warns(UserWarning, match="did not reach the target loss"):
        result = invprob.run(
            _recipe(solver, {"type": "downsample", "params": {"factor": 4}}), out=tmp_path, show_progress=False
        )
    metrics = json.loads((result.directory / "metrics.json").read_text())
    assert len(metrics["notes"]) == 1 and "eps=1e-09" in metrics["notes"][0]
    recorded = (result.directory / "recipe.resolved.yaml").read_text()
    assert "sphere" in recorded or result.results[0].best_image.shape == (2, 3, 64, 64)
