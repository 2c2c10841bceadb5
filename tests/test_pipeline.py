"""Running recipes end to end: what a run directory holds, never overwriting, interruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

import invprob
from invprob.execute import RunFailure


EXPECTED_FILES = {
    "recipe.resolved.yaml",
    "environment.json",
    "metrics.json",
    "grid.png",
    "history.json",
    "loss.png",
    "latents.safetensors",
    "optimisation.gif",
    "images",
}


def test_run_writes_every_output(toy_registry, toy_recipe, tmp_path):
    result = invprob.run(toy_recipe, out=tmp_path / "runs", registry=toy_registry, show_progress=False)
    assert EXPECTED_FILES <= {p.name for p in result.directory.iterdir()}
    metrics = json.loads((result.directory / "metrics.json").read_text())
    assert metrics["images_solved"] == 3 and metrics["interrupted"] is False
    assert [m["name"] for m in metrics["images"]] == ["sample0000", "sample0001", "sample0002"]
    assert set(metrics["mean"]) == {"psnr", "ssim", "mse", "measurement_loss"}
    assert metrics["mean"]["psnr"] > 10
    images = sorted(p.name for p in (result.directory / "images").iterdir())
    assert "0000_sample0000_observed.png" in images and "0002_sample0002_ground_truth.png" in images
    latents = load_file(result.directory / "latents.safetensors")
    assert latents["z"].shape == (3, 8)
    environment = json.loads((result.directory / "environment.json").read_text())
    assert environment["distributions"]["invprob-toy-plugin"] == "1.2.3"
    assert environment["torch"] == torch.__version__ and environment["seeds"]["recipe"] == 0
    resolved = yaml.safe_load((result.directory / "recipe.resolved.yaml").read_text())
    assert resolved["solver"] == {"type": "toy-descent", "params": {"steps": 15, "restarts": 2}}
    assert resolved["losses"] == [{"type": "mse", "params": {}, "weight": 1.0}]


def test_runs_never_overwrite_each_other(toy_registry, toy_recipe, tmp_path):
    first = invprob.run(toy_recipe, ["data.samples=1"], out=tmp_path, registry=toy_registry, show_progress=False)
    second = invprob.run(toy_recipe, ["data.samples=1"], out=tmp_path, registry=toy_registry, show_progress=False)
    assert first.directory != second.directory
    assert (first.directory / "metrics.json").exists() and (second.directory / "metrics.json").exists()


def test_same_seed_gives_the_same_result(toy_registry, toy_recipe, tmp_path):
    runs = [
        invprob.run(toy_recipe, ["data.samples=2", "operator.params.sigma=0.1"], out=tmp_path, registry=toy_registry, show_progress=False)
        for _ in range(2)
    ]
    assert torch.equal(runs[0].reconstructions, runs[1].reconstructions)


def test_python_api_accepts_a_dict_recipe(toy_registry, toy_recipe, tmp_path):
    data = yaml.safe_load(toy_recipe.read_text())
    data["outputs"] = {"latents": False}
    result = invprob.run(data, ["data.samples=1"], out=tmp_path, registry=toy_registry, show_progress=False)
    assert not (result.directory / "latents.safetensors").exists()
    assert not (result.directory / "optimisation.gif").exists()
    assert result.reconstructions.shape == (1, 3, 16, 16)


def test_images_from_a_folder_resolve_against_the_recipe(toy_registry, toy_recipe, tmp_path):
    from PIL import Image

    folder = toy_recipe.parent / "faces"
    folder.mkdir()
    for i in range(2):
        Image.new("RGB", (20, 24), (40 * i, 100, 200)).save(folder / f"{i}.png")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    result = invprob.run(toy_recipe, ["~data.samples", "data.images=faces"], out=tmp_path / "r", registry=toy_registry, show_progress=False)
    assert result.names == ["0", "1"]
    assert result.reconstructions.shape == (2, 3, 16, 16)


def test_non_finite_result_fails_with_a_one_line_cause(toy_registry, toy_recipe, tmp_path):
    with pytest.raises(RunFailure, match="produced non-finite values"):
        invprob.run(toy_recipe, ["solver.params.produce_nan=true"], out=tmp_path, registry=toy_registry, show_progress=False)


def test_ctrl_c_stops_cleanly_and_keeps_the_best_result(toy_env, toy_recipe, tmp_path, invprob_command):
    out = tmp_path / "runs"
    command = invprob_command + [
        "run", str(toy_recipe), "--out", str(out), "--quiet",
        "solver.params.steps=100000", "solver.params.sleep_per_step=0.002", "data.samples=2",
    ]
    process = subprocess.Popen(command, env=toy_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and not list(out.glob("*/environment.json")):
        time.sleep(0.1)
    time.sleep(1.5)  # let the solver take some steps
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "interrupted, best so far" in stdout
    (directory,) = list(out.iterdir())
    metrics = json.loads((directory / "metrics.json").read_text())
    assert metrics["interrupted"] is True
    assert metrics["images_solved"] == 2
    assert all(m["measurement_loss"] < 1 for m in metrics["images"])
    assert (directory / "images" / "0000_sample0000_reconstruction.png").exists()
