"""Running recipes end to end: what a run directory holds, never overwriting, interruption."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

import invprob
from invprob import hookimpl


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
    assert set(metrics["mean"]) == {"psnr", "ssim", "mse", "psnr_missing", "mse_missing", "measurement_loss"}  # toy-mask inpaints
    assert metrics["mean"]["psnr"] > 10
    images = sorted(p.name for p in (result.directory / "images").iterdir())
    assert "0000_sample0000_observed.png" in images and "0002_sample0002_ground_truth.png" in images
    latents = load_file(result.directory / "latents.safetensors")
    assert latents["z"].shape == (3, 8)
    environment = json.loads((result.directory / "environment.json").read_text())
    assert environment["distributions"]["invprob-toy-plugin"] == "1.2.3"
    assert environment["torch"] == torch.__version__ and environment["seeds"]["recipe"] == 0
    resolved = yaml.safe_load((result.directory / "recipe.resolved.yaml").read_text())
    assert resolved["solver"]["type"] == "toy-descent"  # with every default: tests/test_outputs.py
    assert resolved["solver"]["params"]["steps"] == 15 and resolved["solver"]["params"]["lr"] == 0.05
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


def strict_json(path: Path):
    """Parse ``path`` as strict JSON: NaN and infinities are refused, as strict parsers do."""

    def refuse(constant: str):
        raise ValueError(f"{path.name} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_a_loss_that_becomes_nan_is_reported_and_the_best_finite_iterate_kept(toy_registry, toy_recipe, tmp_path, capsys):
    result = invprob.run(
        toy_recipe, ["data.samples=2", "solver.params.diverge_at=6"], out=tmp_path, registry=toy_registry,
        show_progress=False,
    )
    assert "the loss became non-finite at step 6 of batch 0; the best finite iterate is kept" in capsys.readouterr().err
    assert torch.isfinite(result.reconstructions).all()
    metrics = strict_json(result.directory / "metrics.json")
    assert metrics["diverged"] == [
        {"batch": 0, "step": 6, "quantity": "loss", "images_without_finite_result": []}
    ]
    assert all(m["measurement_loss"] is not None for m in metrics["images"])
    history = strict_json(result.directory / "history.json")
    assert history[0]["loss"][5] is not None and history[0]["loss"][6] is None
    assert strict_json(result.directory / "status.json")["status"] == "diverged"


def test_a_result_without_any_finite_iterate_is_written_grey_with_null_metrics(toy_registry, toy_recipe, tmp_path):
    result = invprob.run(toy_recipe, ["data.samples=2", "solver.params.produce_nan=true"], out=tmp_path, registry=toy_registry, show_progress=False)
    metrics = strict_json(result.directory / "metrics.json")
    (event,) = metrics["diverged"]
    assert event["step"] is None and event["images_without_finite_result"] == ["sample0000", "sample0001"]
    assert metrics["images"][0]["measurement_loss"] is None and metrics["images"][0]["psnr"] is None
    assert (result.directory / "images" / "0000_sample0000_reconstruction.png").exists()


def test_divergence_is_said_on_the_terminal_and_exits_1(toy_env, toy_recipe, tmp_path, invprob_cli):
    args = ["run", str(toy_recipe), "--out", str(tmp_path), "--quiet", "data.samples=1", "solver.params.diverge_at=4"]
    finished = invprob_cli(args, toy_env)
    assert finished.returncode == 1, finished.stderr
    assert "diverged: the loss became non-finite at step 4 of batch 0" in finished.stderr
    assert finished.stdout.startswith("diverged: 1 image(s)") and "results in" in finished.stdout


def test_a_failed_run_is_marked_in_its_directory(toy_registry, toy_recipe, tmp_path):
    with pytest.raises(RuntimeError, match="fails on purpose") as raised:
        invprob.run(toy_recipe, ["solver.params.raise_error=true"], out=tmp_path, registry=toy_registry, show_progress=False)
    directory = raised.value.run_directory
    status = strict_json(directory / "status.json")
    assert status["status"] == "failed" and status["error"] == "RuntimeError: the toy solver fails on purpose"
    assert status["time"].endswith("+00:00")
    assert "Traceback" in (directory / "error.txt").read_text()
    assert not (directory / "metrics.json").exists()


def test_a_failed_run_names_its_directory_on_the_terminal(toy_env, toy_recipe, tmp_path, invprob_cli):
    finished = invprob_cli(["run", str(toy_recipe), "--out", str(tmp_path), "--quiet", "solver.params.raise_error=true"], toy_env)
    (directory,) = list(tmp_path.glob("2*"))
    assert finished.returncode == 1
    assert f"the run directory {directory}: it keeps " in finished.stderr and "status.json says failed" in finished.stderr


def test_a_complete_run_says_so_and_every_output_has_one_file_mode(toy_registry, toy_recipe, tmp_path):
    from invprob.liveness import this_process

    result = invprob.run(toy_recipe, ["data.samples=1"], out=tmp_path, registry=toy_registry, show_progress=False)
    status = strict_json(result.directory / "status.json")
    assert status["status"] == "complete" and status["started"] == strict_json(result.directory / "environment.json")["started"]
    assert {key: status[key] for key in this_process()} == this_process()
    modes = {p.name: p.stat().st_mode & 0o777 for p in result.directory.iterdir() if p.is_file()}
    assert len(set(modes.values())) == 1, modes
    assert not [p for p in result.directory.rglob(".*partial*")]


def _start_run(invprob_command, toy_env, toy_recipe, out: Path, *overrides: str) -> subprocess.Popen:
    command = invprob_command + [
        "run", str(toy_recipe), "--out", str(out), "--quiet",
        "solver.params.steps=100000", "solver.params.sleep_per_step=0.002", "data.samples=2", *overrides,
    ]  # fmt: skip
    process = subprocess.Popen(command, env=toy_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and not list(out.glob("*/environment.json")):
        time.sleep(0.1)
    time.sleep(1.5)  # let the solver take some steps
    return process


def _assert_best_result_on_disk(out: Path, status: str = "interrupted") -> dict:
    (directory,) = list(out.iterdir())
    metrics = strict_json(directory / "metrics.json")
    assert metrics["interrupted"] is True
    assert metrics["images_solved"] == 2
    assert all(m["measurement_loss"] < 1 for m in metrics["images"])
    assert (directory / "images" / "0000_sample0000_reconstruction.png").exists()
    assert strict_json(directory / "status.json")["status"] == status
    return metrics


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_cleanly_and_keeps_the_best_result(toy_env, toy_recipe, tmp_path, invprob_command, signum):
    name = signal.Signals(signum).name
    out = tmp_path / "runs"
    process = _start_run(invprob_command, toy_env, toy_recipe, out)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, stderr
    assert f"interrupted ({name}): finishing the current step" in stderr and "Traceback" not in stderr
    assert f"interrupted ({name}), best so far" in stdout
    assert _assert_best_result_on_disk(out)["signal"] == name


def test_a_second_ctrl_c_does_not_discard_the_best_result(toy_env, toy_recipe, tmp_path, invprob_command):
    out = tmp_path / "runs"
    process = _start_run(invprob_command, toy_env, toy_recipe, out, "outputs.gif_every=1")  # slow to write
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    _assert_best_result_on_disk(out)


def test_a_second_signal_while_solving_keeps_the_best_of_the_current_batch(toy_registry, toy_recipe, tmp_path):
    import invprob_toy_plugin

    invprob_toy_plugin._SOLVES[0] = 0
    result = invprob.run(
        toy_recipe, ["data.samples=3", "data.batch_size=1", "solver.params.signal_in_solve=2", "solver.params.signals=2"],
        out=tmp_path, registry=toy_registry, show_progress=False,
    )  # fmt: skip
    assert result.interrupted and result.names == ["sample0000", "sample0001"]
    assert "aborted" not in strict_json(result.directory / "metrics.json")


def test_a_third_signal_while_solving_keeps_the_batches_already_solved(toy_registry, toy_recipe, tmp_path):
    import invprob_toy_plugin

    invprob_toy_plugin._SOLVES[0] = 0
    result = invprob.run(
        toy_recipe, ["data.samples=3", "data.batch_size=1", "solver.params.signal_in_solve=2"],
        out=tmp_path, registry=toy_registry, show_progress=False,
    )  # fmt: skip
    assert result.interrupted and result.signal == signal.SIGINT
    assert result.names == ["sample0000"]
    metrics = strict_json(result.directory / "metrics.json")
    assert metrics["images_solved"] == 1 and "SIGINT a third time while solving" in metrics["aborted"]
    assert strict_json(result.directory / "status.json")["status"] == "interrupted"


def test_a_third_signal_in_the_first_batch_marks_the_run_aborted(toy_registry, toy_recipe, tmp_path):
    import invprob_toy_plugin

    from invprob.interrupts import Interrupted

    invprob_toy_plugin._SOLVES[0] = 0
    with pytest.raises(Interrupted) as raised:
        invprob.run(toy_recipe, ["solver.params.signal_in_solve=1"], out=tmp_path, registry=toy_registry,
                    show_progress=False)  # fmt: skip
    status = strict_json(raised.value.run_directory / "status.json")
    assert status["status"] == "aborted" and status["signal"] == "SIGINT"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_start_up_ends_the_command_without_a_traceback(toy_env, toy_recipe, misbehaving_site, tmp_path, invprob_command, signum):
    env = {**toy_env, "INVPROB_TEST_SLOW_IMPORT": "30", "INVPROB_LOAD_PLUGINS": "invprob-toy-plugin,invprob-slow-plugin"}
    env["PYTHONPATH"] = os.pathsep.join([str(misbehaving_site), env["PYTHONPATH"]])
    command = invprob_command + ["run", str(toy_recipe), "--out", str(tmp_path / "runs"), "--quiet"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said = []  # what the command wrote to stderr up to the slow plugin's sleep
    while (line := process.stderr.readline()) and line.strip() != "slow_plugin: sleeping at import":
        said.append(line)
    if not line:
        process.kill()
        pytest.fail(f"the command ended before importing the slow plugin: {''.join(said)}")
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    stderr = "".join(said) + stderr
    assert process.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr and f"interrupted ({signal.Signals(signum).name})" in stderr
    assert not (tmp_path / "runs").exists()


# -- per run, not per process --------------------------------------------------------------


class _WeightFilePlugin:
    """A prior that loads a weight file through invprob.weights (a zero penalty)."""

    @hookimpl
    def invprob_register_priors(self, registry):
        from invprob.params import Params, RecipePath

        class FileParams(Params):
            """Loads ``path``."""

            path: RecipePath

        def build_prior(params, context):
            from invprob.prior import Penalty
            from invprob.weights import load_state_dict

            load_state_dict(params.path)

            class Zero(Penalty):
                def forward(self, ctx):
                    return ctx.image.new_zeros(ctx.image.shape[0])

            return Zero()

        registry.add("loads-a-file", build_prior, params_model=FileParams)


def test_each_run_records_only_the_weight_files_it_loaded(toy_registry, toy_recipe, tmp_path):
    from safetensors.torch import save_file

    toy_registry.register_plugin(_WeightFilePlugin(), distribution="weights-test-plugin")
    for name in ("first", "second"):
        save_file({"w": torch.zeros(2)}, str(tmp_path / f"{name}.safetensors"))
    listed = []
    for name in ("first", "second"):
        overrides = ["data.samples=1", "solver.params.steps=2", f"priors=[{{type: loads-a-file, params: {{path: {tmp_path / name}.safetensors}}}}]"]
        result = invprob.run(toy_recipe, overrides, out=tmp_path / "runs", registry=toy_registry, show_progress=False)
        environment = json.loads((result.directory / "environment.json").read_text())
        listed.append([Path(w["path"]).name for w in environment["weights"]])
        assert environment == result.summary().environment
    assert listed == [["first.safetensors"], ["second.safetensors"]]


def test_weight_ledger_is_empty_outside_a_run_and_restored_after_one(tmp_path):
    from safetensors.torch import save_file

    from invprob import weights

    path = tmp_path / "w.safetensors"
    save_file({"w": torch.ones(1)}, str(path))
    weights.load_state_dict(path)
    assert weights.loaded_weights() == []
    with weights.recording() as outer:
        weights.load_state_dict(path)
        with weights.recording() as inner:
            assert weights.loaded_weights() == []
        assert [r.path for r in outer.records] == [str(path.resolve())]
        assert inner.records == []
    assert weights.loaded_weights() == []


def test_no_two_streams_of_a_seed_sweep_share_a_seed(toy_registry, toy_recipe, tmp_path):
    from invprob.app.components import STREAMS

    seen = {}
    for seed in range(5):
        result = invprob.run(
            toy_recipe, [f"seed={seed}", "data.samples=1", "solver.params.steps=1"],
            out=tmp_path, registry=toy_registry, show_progress=False,
        )
        seeds = result.summary().environment["seeds"]
        assert seeds["recipe"] == seed and set(STREAMS) <= set(seeds)
        for stream in STREAMS:
            assert seeds[stream] not in seen, f"seed {seed} {stream} = {seen.get(seeds[stream])}"
            seen[seeds[stream]] = (seed, stream)


def test_context_streams_are_cpu_generators_seeded_by_name():
    from invprob.context import BuildContext
    from invprob.seeding import stream_seed

    context = BuildContext(registry=None, device="meta", seed=3)  # type: ignore[arg-type]
    for name in ("operator", "samples", "noise", "solver"):
        rng = context.rng(name)
        assert rng.device.type == "cpu" and rng.initial_seed() == stream_seed(3, name)
    assert torch.equal(torch.randn(4, generator=context.rng("noise")), torch.randn(4, generator=context.rng("noise")))


def test_noise_does_not_depend_on_the_device_it_is_put_on():
    from invprob.operator import GaussianNoise
    from invprob.seeding import make_rng

    noise = GaussianNoise(0.5)
    on_cpu = noise(torch.zeros(2, 3, 4, 4), rng=make_rng(0, "noise"))
    on_meta = noise.to("meta")(torch.zeros(2, 3, 4, 4, device="meta"), rng=make_rng(0, "noise"))
    assert on_meta.device.type == "meta" and on_meta.shape == on_cpu.shape
    assert torch.equal(on_cpu, 0.5 * torch.randn(2, 3, 4, 4, generator=make_rng(0, "noise")))


@pytest.mark.gpu
def test_same_seed_gives_the_same_run_on_cpu_and_cuda(toy_registry, toy_recipe, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    overrides = ["data.samples=2", "operator.params.sigma=0.1"]
    runs = [
        invprob.run(toy_recipe, overrides, out=tmp_path, device=device, registry=toy_registry, show_progress=False)
        for device in ("cpu", "cuda")
    ]
    # same draws on both devices; what differs is float rounding (TF32 convolutions on CUDA);
    # 0.025 on the [0, 1] reconstructions is the 0.05 this bound was on [-1, 1]
    torch.testing.assert_close(runs[1].reconstructions.cpu(), runs[0].reconstructions, atol=0.025, rtol=0)
    assert abs(runs[1].metrics["mean"]["psnr"] - runs[0].metrics["mean"]["psnr"]) < 0.5


def test_run_summary_is_small_and_survives_pickling(toy_registry, toy_recipe, tmp_path):
    result = invprob.run(toy_recipe, ["data.samples=2"], out=tmp_path, registry=toy_registry, show_progress=False)
    summary = result.summary()
    again = pickle.loads(pickle.dumps(summary))
    assert again == summary
    assert again.directory == result.directory and again.names == ["sample0000", "sample0001"]
    assert again.metrics["mean"]["psnr"] == result.metrics["mean"]["psnr"]
    assert again.interrupted is False and again.environment["seeds"]["recipe"] == 0
    assert len(pickle.dumps(summary)) < 20_000


def test_a_named_run_creates_that_directory_and_never_overwrites_it(toy_registry, toy_recipe, tmp_path):
    result = invprob.run(toy_recipe, ["data.samples=1"], out=tmp_path, name="cell-0003", registry=toy_registry, show_progress=False)
    assert result.directory == tmp_path / "cell-0003"
    before = (result.directory / "metrics.json").read_bytes()
    with pytest.raises(FileExistsError, match="cell-0003 already exists"):
        invprob.run(toy_recipe, ["data.samples=1", "seed=5"], out=tmp_path, name="cell-0003", registry=toy_registry, show_progress=False)
    assert (result.directory / "metrics.json").read_bytes() == before
    with pytest.raises(ValueError, match="plain folder name"):
        invprob.run(toy_recipe, ["data.samples=1"], out=tmp_path, name="../elsewhere", registry=toy_registry, show_progress=False)


def test_a_recipe_object_without_overrides_is_not_validated_again(toy_registry, toy_recipe, tmp_path, monkeypatch):
    import invprob.recipe

    recipe = invprob.load_recipe(toy_recipe, ["data.samples=1"], registry=toy_registry)
    monkeypatch.setattr(invprob.recipe, "validate_recipe", lambda *a, **k: pytest.fail("validated twice"))
    result = invprob.run(recipe, out=tmp_path, registry=toy_registry, show_progress=False)
    assert result.metrics["images_solved"] == 1


# -- observations without ground truth ----------------------------------------------------

REAL_RECIPE = {
    "version": 1,
    "seed": 0,
    "device": "cpu",
    "generator": {"type": "dcgan64-faces"},
    "solver": {"type": "csgm", "params": {"steps": 3, "restarts": 1}},
    "metrics": ["psnr", "ssim"],
}
PHOTO = Path(__file__).resolve().parents[1] / "recipes" / "images" / "astronaut-face64.png"


@pytest.fixture
def real_registry(monkeypatch):
    from invprob.registry import new_registry

    monkeypatch.delenv("INVPROB_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("INVPROB_DISABLE_PLUGINS", raising=False)
    return new_registry(strict=False)


def _run_observed(registry, operator, observation, tmp_path):
    recipe = {**REAL_RECIPE, "operator": operator, "data": {"observation": str(observation)}}
    return invprob.run(recipe, out=tmp_path / "runs", registry=registry, show_progress=False)


def _assert_observed_run(result, tmp_path, name):
    metrics = json.loads((result.directory / "metrics.json").read_text())
    assert metrics["images_solved"] == 1 and [m["name"] for m in metrics["images"]] == [name]
    assert metrics["unavailable"] == {
        "psnr": "no ground truth: data.observation was given",
        "ssim": "no ground truth: data.observation was given",
    }
    assert set(metrics["mean"]) == {"measurement_loss"} and metrics["mean"]["measurement_loss"] >= 0
    images = sorted(p.name for p in (result.directory / "images").iterdir())
    assert images == [f"0000_{name}_observed.png", f"0000_{name}_reconstruction.png"]
    from PIL import Image

    with Image.open(result.directory / "grid.png") as grid:  # two labelled columns, one row
        assert grid.size[0] > grid.size[1] > 256


def test_a_real_low_resolution_photo_is_super_resolved_without_ground_truth(real_registry, tmp_path):
    from PIL import Image

    with Image.open(PHOTO) as photo:
        photo.convert("RGB").resize((32, 32), Image.Resampling.BICUBIC).save(tmp_path / "small.png")
    result = _run_observed(real_registry, {"type": "downsample", "params": {"factor": 2}}, tmp_path / "small.png", tmp_path)
    _assert_observed_run(result, tmp_path, "small")
    assert result.reconstructions.shape == (1, 3, 64, 64)


def test_metrics_say_which_solver_round_gave_each_best_iterate(real_registry, tmp_path):
    recipe = {**REAL_RECIPE, "operator": {"type": "inpaint-center"}, "data": {"images": str(PHOTO)}}
    result = invprob.run(recipe, out=tmp_path / "runs", registry=real_registry, show_progress=False)
    metrics = json.loads((result.directory / "metrics.json").read_text())
    assert [image["best_round"] for image in metrics["images"]] == [0]  # csgm runs one round


def test_an_observation_of_the_wrong_size_is_an_error_naming_both_shapes(real_registry, tmp_path):
    from invprob.building import InputError

    with pytest.raises(InputError, match=r"shape \[3, 64, 64\].*operator outputs \[3, 32, 32\]"):
        _run_observed(real_registry, {"type": "downsample", "params": {"factor": 2}}, PHOTO, tmp_path)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_damaged_photo_is_inpainted_with_its_mask_file(real_registry, tmp_path):
    import numpy as np
    from invprob_plugin_imaging.mask_file import mask_from_file
    from invprob_plugin_imaging.plugin import EXAMPLE_MASK
    from PIL import Image

    mask = mask_from_file(EXAMPLE_MASK, 64, 64)[0, 0].numpy().astype(bool)
    with Image.open(PHOTO) as photo:
        damaged = np.array(photo.convert("RGB"))
    damaged[~mask] = 127  # grey level 127 ~ 0 in [-1, 1], what the mask operator observes
    Image.fromarray(damaged).save(tmp_path / "damaged.png")
    operator = {"type": "inpaint-mask-file", "params": {"path": str(EXAMPLE_MASK)}}
    result = _run_observed(real_registry, operator, tmp_path / "damaged.png", tmp_path)
    _assert_observed_run(result, tmp_path, "damaged")


def test_measurements_are_solved_from_a_tensor_file(real_registry, tmp_path):
    import numpy as np

    operator = {"type": "cs-gaussian", "params": {"m": 200}}
    recipe = invprob.load_recipe({**REAL_RECIPE, "operator": operator, "data": {"samples": 1}}, registry=real_registry)
    components = invprob.build(recipe, registry=real_registry)
    with torch.no_grad():
        truth = components.generator(components.generator.sample_latent(1, torch.Generator().manual_seed(5)))
        measured = components.operator.A(truth)
    assert measured.shape == (1, 200)
    np.save(tmp_path / "measured.npy", measured.numpy())
    result = _run_observed(real_registry, operator, tmp_path / "measured.npy", tmp_path)
    _assert_observed_run(result, tmp_path, "measured")
    observed = json.loads((result.directory / "metrics.json").read_text())["images"][0]["measurement_loss"]
    zero = components.operator.A(torch.zeros_like(truth))
    assert observed < float((zero - measured).pow(2).mean())  # the solver used the measurements


def test_measurements_of_the_wrong_shape_are_an_error_naming_both(real_registry, tmp_path):
    import numpy as np

    from invprob.building import InputError

    np.save(tmp_path / "measured.npy", np.zeros((1, 150), np.float32))
    with pytest.raises(InputError, match=r"shape \[1, 150\].*operator outputs \[200\]"):
        _run_observed(real_registry, {"type": "cs-gaussian", "params": {"m": 200}}, tmp_path / "measured.npy", tmp_path)


def test_the_entry_points_stay_functions_after_their_modules_are_imported():
    import invprob.app.components
    import invprob.app.execute

    assert invprob.build is invprob.app.components.build and invprob.run is invprob.app.execute.run


@pytest.mark.parametrize("suffix", [".npy", ".pt", ".safetensors"])
def test_measurement_files_hold_one_or_many_observations(tmp_path, suffix):
    import numpy as np
    from safetensors.torch import save_file

    from invprob.app.data import load_observations

    values = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    path = tmp_path / f"y{suffix}"
    if suffix == ".npy":
        np.save(path, values.numpy())
    elif suffix == ".pt":
        torch.save(values, path)
    else:
        save_file({"observation": values, "other": torch.zeros(1)}, str(path))
    loaded, names = load_observations(path, (4,))
    assert torch.equal(loaded, values) and names == ["y0000", "y0001", "y0002"]
    loaded, names = load_observations(path, (4,), select="-1:")
    assert torch.equal(loaded, values[-1:]) and names == ["y0002"]
    torch.save(values[0], tmp_path / "one.pt")
    loaded, names = load_observations(tmp_path / "one.pt", (4,))
    assert loaded.shape == (1, 4) and names == ["one"]


def test_an_rgb_file_with_equal_channels_is_a_grey_observation(tmp_path):
    from PIL import Image

    from invprob.app.data import load_observations

    from invprob.images import DataError

    Image.new("RGB", (6, 4), (51, 51, 51)).save(tmp_path / "grey.png")
    loaded, _ = load_observations(tmp_path / "grey.png", (1, 4, 6))
    assert loaded.shape == (1, 1, 4, 6) and torch.allclose(loaded, torch.full_like(loaded, 51 / 127.5 - 1))
    Image.new("RGB", (6, 4), (51, 0, 51)).save(tmp_path / "colour.png")
    with pytest.raises(DataError, match=r"shape \[3, 4, 6\].*outputs \[1, 4, 6\]"):
        load_observations(tmp_path / "colour.png", (1, 4, 6))


# -- input errors ------------------------------------------------------------------------


def _faces_zip(path: Path, damaged: str | None = None) -> Path:
    import io
    import zipfile

    from PIL import Image

    with zipfile.ZipFile(path, "w") as archive:
        for i in range(2):
            buffer = io.BytesIO()
            Image.new("RGB", (16, 16), (40 * i, 100, 200)).save(buffer, format="PNG")
            name = f"faces/{i}.png"
            archive.writestr(name, b"not a png at all" if name == damaged else buffer.getvalue())
    return path


def test_a_damaged_zip_member_is_named(tmp_path):
    from invprob.images import DataError, load_images

    archive = _faces_zip(tmp_path / "faces.zip", damaged="faces/1.png")
    with pytest.raises(DataError, match=r"faces.zip: member 'faces/1.png' is not a readable image"):
        load_images(archive, (3, 16, 16))


def test_a_file_that_is_not_a_zip_is_an_input_error(tmp_path):
    from invprob.images import DataError, list_images

    (tmp_path / "faces.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError, match="is not a readable zip file"):
        list_images(tmp_path / "faces.zip")


def test_an_npz_with_fewer_ids_than_images_is_an_error(tmp_path):
    import numpy as np

    from invprob.images import DataError, list_images

    np.savez(tmp_path / "faces.npz", images=np.zeros((3, 8, 8, 3), np.uint8), ids=np.array([5, 7]))
    with pytest.raises(DataError, match="has 3 images but 2 ids"):
        list_images(tmp_path / "faces.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 nothing")
    with pytest.raises(DataError, match="is not a readable .npz"):
        list_images(tmp_path / "broken.npz")


def test_bad_input_files_exit_2_before_the_run_directory_is_made(toy_env, toy_recipe, tmp_path, invprob_cli):
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    damaged = _faces_zip(tmp_path / "damaged.zip", damaged="faces/0.png")
    for images, expected in (("broken.zip", "is not a readable zip file"), (damaged.name, "member 'faces/0.png'")):
        args = ["run", str(toy_recipe), "--out", str(tmp_path / "runs"), "--quiet", "~data.samples",
                f"data.images={tmp_path / images}"]  # fmt: skip
        finished = invprob_cli(args, toy_env)
        assert finished.returncode == 2, finished.stderr
        assert expected in finished.stderr and "Traceback" not in finished.stderr
    assert not list((tmp_path / "runs").glob("*/images"))


def test_an_unusable_output_folder_is_refused_before_anything_is_built(toy_registry, toy_recipe, tmp_path, monkeypatch):
    import invprob.app.execute
    from invprob.app.outputs import OutputError

    monkeypatch.setattr(invprob.app.execute, "build", lambda *a, **k: pytest.fail("built before the check"))
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="cannot use"):
        invprob.run(toy_recipe, out=tmp_path / "file" / "runs", registry=toy_registry, show_progress=False)


class _CallsSystem:
    def __reduce__(self):
        return os.system, ("true",)


def test_a_checkpoint_that_references_code_is_refused_without_loading_it(tmp_path):
    from invprob.weights import UnsafeCheckpointError, WeightsFileError, load_state_dict

    torch.save({"w": _CallsSystem()}, tmp_path / "evil.pt")
    with pytest.raises(UnsafeCheckpointError, match=r"references code \(posix.system\).*convert it to .safetensors") as raised:
        load_state_dict(tmp_path / "evil.pt")
    assert "weights_only" not in str(raised.value)
    (tmp_path / "damaged.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{bad json")
    with pytest.raises(WeightsFileError, match="is not a readable safetensors file"):
        load_state_dict(tmp_path / "damaged.safetensors")


def test_a_mask_file_that_is_not_an_image_is_an_input_error_naming_the_operator(real_registry, tmp_path):
    from invprob.building import InputError

    (tmp_path / "mask.png").write_bytes(b"not a png")
    operator = {"type": "inpaint-mask-file", "params": {"path": str(tmp_path / "mask.png")}}
    with pytest.raises(InputError, match=r"operator \(inpaint-mask-file\): cannot identify image file"):
        _run_observed(real_registry, operator, PHOTO, tmp_path)


@pytest.mark.slow  # a command-line subprocess
def test_a_run_says_running_with_its_process_so_that_a_killed_run_is_told_from_a_live_one(toy_env, toy_recipe, tmp_path, invprob_command):
    from invprob.liveness import is_alive

    command = [*invprob_command, "run", str(toy_recipe), "--out", str(tmp_path), "--name", "r", "--quiet",
               "solver.params.steps=2000", "solver.params.sleep_per_step=0.05"]  # fmt: skip
    process = subprocess.Popen(command, env=toy_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = tmp_path / "r" / "status.json"
    deadline = time.monotonic() + 120
    while not path.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    running = strict_json(path)
    assert running["status"] == "running" and running["pid"] == process.pid and running["started"]
    assert running["boot_id"] and running["process_start"] and is_alive(running)
    process.kill()  # SIGKILL: no handler runs
    process.wait()
    left = strict_json(path)
    assert left["status"] == "running" and left["pid"] == process.pid and not is_alive(left)
