"""Run outputs that explain themselves: the optimisation frames, the resolved recipe a run
reproduces from, the environment record, metrics.json, and what a full disk keeps (the grid
and the GIF themselves: plugins/tools/figures/tests)."""

from __future__ import annotations

import errno
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

import invprob
from invprob import hookimpl
from invprob.app.run_metrics import RECORD_FIELDS
from invprob.app.run_record import git_commit
from invprob.default_plugins.image_quality import mse_in_region, psnr, psnr_in_region
from invprob.metrics import Metric, MetricUnavailable
from invprob.params import Params


def _run(recipe, overrides=(), **kwargs):
    return invprob.run(recipe, list(overrides), show_progress=False, **kwargs)


def _images(count: int, size: int = 8) -> torch.Tensor:
    return torch.linspace(-1, 1, count * 3 * size * size).reshape(count, 3, size, size)


def _toy_problem(batch: int = 2):
    from invprob.losses import MSELoss
    from invprob.problem import InverseProblem, WeightedLoss
    from invprob.testing.toys import MaskOperator, TinyGenerator

    torch.manual_seed(0)
    generator = TinyGenerator(latent_dim=8, channels=3).eval().requires_grad_(False)
    operator = MaskOperator((3, 16, 16))
    with torch.no_grad():
        truth = generator(torch.randn(batch, 8))
    return InverseProblem(
        operator=operator, observation=operator(truth), image_shape=(3, 16, 16), generator=generator,
        losses=[WeightedLoss(1.0, MSELoss())],
    )


def test_optimisation_frames_show_the_best_restart_so_far_not_restart_zero():
    from invprob.optimisation import OptimiserSettings, initial_latents, optimise
    from invprob.progress import Monitor

    problem = _toy_problem()
    restarts, batch = 4, problem.batch_size
    latents = initial_latents(problem, restarts, torch.Generator().manual_seed(3), solver="test")
    with torch.no_grad():
        initial = problem.measurement_loss(problem.generator(latents["z"])).reshape(restarts, batch)
    assert (initial.argmin(dim=0) != 0).any(), "the test needs an image whose best start is not restart 0"
    monitor = Monitor(show_progress=False, frame_every=1)
    result = optimise(latents, problem.generator, problem, OptimiserSettings(steps=6, lr=0.05), monitor=monitor)
    assert len(result.frames) == 6 and result.frames[0].shape == (batch, 3, 16, 16)
    with torch.no_grad():
        losses = torch.stack([problem.measurement_loss(frame) for frame in result.frames])
    torch.testing.assert_close(losses[0], initial.min(dim=0).values.float(), rtol=1e-5, atol=1e-7)
    assert (losses[1:] <= losses[:-1] + 1e-7).all(), "the reported iterate never gets worse"


def test_yeh_frames_are_blended_like_the_image_it_reports():
    from invprob.progress import Monitor
    from invprob_plugin_yeh.solver import YehSolver

    problem = _toy_problem()
    monitor = Monitor(show_progress=False, frame_every=2)
    result = YehSolver(steps=4, restarts=2).solve(problem, rng=torch.Generator().manual_seed(0), monitor=monitor)
    observed = problem.operator.observed_mask().bool().expand(problem.batch_size, 3, 16, 16)
    assert len(result.frames) == 2
    for frame in [*result.frames, result.best_image]:
        torch.testing.assert_close(frame[observed], problem.observation[observed])  # Poisson blending keeps y there


# -- a full disk ---------------------------------------------------------------------------


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_loses_pictures_never_the_numbers(toy_registry, toy_recipe, tmp_path, monkeypatch, capfd):
    import invprob.app.outputs as outputs
    from invprob_plugin_figures import pictures

    monkeypatch.setattr(outputs, "save_png", _no_space)
    for writer in ("save_gif", "save_grid", "plot_history"):
        monkeypatch.setattr(pictures, writer, _no_space)
    result = _run(toy_recipe, out=tmp_path, name="full", registry=toy_registry)
    metrics = json.loads((tmp_path / "full" / "metrics.json").read_text())
    assert [entry["name"] for entry in metrics["images"]] == result.names and metrics["mean"]["psnr"] > 0
    assert [f["output"] for f in metrics["failed_outputs"]] == ["images/", "grid.png", "loss.png", "optimisation.gif"]
    assert all("No space left on device" in f["error"] for f in metrics["failed_outputs"])
    assert (tmp_path / "full" / "latents.safetensors").is_file() and (tmp_path / "full" / "history.json").is_file()
    status = json.loads((tmp_path / "full" / "status.json").read_text())
    assert status["status"] == "complete" and status["failed_outputs"] == metrics["failed_outputs"]
    assert "warning: optimisation.gif could not be written" in capfd.readouterr().err


def test_a_run_whose_gif_fails_exits_1_and_keeps_its_results(
    toy_registry, toy_recipe, tmp_path, monkeypatch, capsys, swap_default_registry
):
    from invprob.app.cli import main
    from invprob_plugin_figures import pictures

    swap_default_registry(toy_registry)
    monkeypatch.setattr(pictures, "save_gif", _no_space)
    assert main(["run", str(toy_recipe), "--out", str(tmp_path), "--name", "gif", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "optimisation.gif could not be written (see failed_outputs in metrics.json); the numbers are kept" in err
    assert {"metrics.json", "grid.png", "images"} <= {p.name for p in (tmp_path / "gif").iterdir()}


def test_with_no_space_at_all_the_error_says_that_nothing_was_kept(toy_registry, toy_recipe, tmp_path, monkeypatch):
    import invprob.app.outputs as outputs

    monkeypatch.setattr(outputs, "atomic_path", _no_space)
    with pytest.raises(OSError, match="No space left") as raised:
        _run(toy_recipe, out=tmp_path, name="empty", registry=toy_registry)
    assert raised.value.run_directory == tmp_path / "empty" and not list((tmp_path / "empty").iterdir())
    assert raised.value.__notes__ == [f"the run directory {tmp_path / 'empty'}: nothing was kept in it (it is empty: is the disk full?)"]


def test_when_metrics_json_cannot_be_written_the_error_says_what_was_kept(toy_registry, toy_recipe, tmp_path, monkeypatch):
    import invprob.app.outputs as outputs

    write_json = outputs.write_json

    def no_metrics(path, data):
        if path.name == "metrics.json":
            _no_space()
        write_json(path, data)

    monkeypatch.setattr(outputs, "write_json", no_metrics)
    with pytest.raises(OSError) as raised:
        _run(toy_recipe, out=tmp_path, name="kept", registry=toy_registry)
    (note,) = raised.value.__notes__
    assert note == (
        f"the run directory {tmp_path / 'kept'}: it keeps environment.json, error.txt, recipe.resolved.yaml, "
        "status.json; status.json says failed"
    )


# -- recipe.resolved.yaml --------------------------------------------------------------------


def test_the_resolved_recipe_holds_every_default_and_the_overrides_and_a_run_reproduces_from_it(toy_registry, toy_recipe, tmp_path):
    first = _run(toy_recipe, ["data.samples=2", "solver.params.lr=0.04"], out=tmp_path, registry=toy_registry)
    path = first.directory / "recipe.resolved.yaml"
    text = path.read_text()
    assert text.startswith(f"# The recipe of this run, every default written out. Rerun it with\n#   invprob run {path}\n")
    resolved = yaml.safe_load(text)
    assert resolved["solver"]["params"] == {
        "steps": 15, "lr": 0.04, "restarts": 2, "sleep_per_step": 0.0, "produce_nan": False, "diverge_at": None,
        "raise_error": False, "signal_in_solve": None, "signals": 3,
    }  # fmt: skip
    assert resolved["generator"] == {"type": "toy-generator", "params": {"latent_dim": 8, "channels": 3}}
    assert resolved["operator"]["params"] == {"sigma": 0.0}
    assert resolved["description"] == "[overrides: data.samples=2 solver.params.lr=0.04]"
    assert resolved["data"]["samples"] == 2 and resolved["outputs"]["gif_every"] == 5

    second = _run(path, out=tmp_path, registry=toy_registry)  # from the run's directory alone
    assert [m["psnr"] for m in second.metrics["images"]] == [m["psnr"] for m in first.metrics["images"]]
    assert second.metrics["images"] == first.metrics["images"]
    again = yaml.safe_load((second.directory / "recipe.resolved.yaml").read_text())
    assert again == resolved  # resolving is idempotent: the description keeps the first run's overrides


def test_a_description_is_followed_by_the_overrides_of_the_run(toy_registry, toy_recipe, tmp_path):
    result = _run(toy_recipe, ["description=masked toy", "data.samples=1", "seed=4"], out=tmp_path, registry=toy_registry)
    resolved = yaml.safe_load((result.directory / "recipe.resolved.yaml").read_text())
    assert resolved["description"] == "masked toy [overrides: data.samples=1 seed=4]"
    assert result.metrics["recipe"]["description"] == resolved["description"]


def test_omitted_metrics_are_resolved_to_their_names(toy_registry, toy_recipe, tmp_path):
    result = _run(toy_recipe, ["data.samples=1", "~metrics"], out=tmp_path, registry=toy_registry)
    resolved = yaml.safe_load((result.directory / "recipe.resolved.yaml").read_text())
    from invprob.recipe import default_metric_names

    assert resolved["metrics"] == default_metric_names(toy_registry) and "psnr" in resolved["metrics"]


@pytest.fixture
def real_registry(monkeypatch):
    from invprob.registry import new_registry

    monkeypatch.delenv("INVPROB_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("INVPROB_DISABLE_PLUGINS", raising=False)
    return new_registry(strict=False)


def test_nested_components_and_solver_defaults_are_resolved_with_their_defaults(real_registry, tmp_path):
    pytest.importorskip("invprob_plugin_yeh")
    recipe = {
        "version": 1, "device": "cpu", "generator": {"type": "dcgan64-faces"},
        "operator": {"type": "compose", "params": {"operators": [{"type": "inpaint-center"}, {"type": "denoise", "params": {"sigma": 2}}]}},
        "solver": {"type": "yeh", "params": {"steps": 2, "restarts": 1}},
        "data": {"samples": 1}, "metrics": ["psnr"], "outputs": {"gif": False},
    }  # fmt: skip
    result = _run(recipe, out=tmp_path, registry=real_registry)
    resolved = yaml.safe_load((result.directory / "recipe.resolved.yaml").read_text())
    inner = resolved["operator"]["params"]["operators"]
    assert inner[0]["type"] == "inpaint-center" and "fraction" in inner[0]["params"]
    assert inner[1]["params"]["sigma"] == 2 and len(inner[1]["params"]) > 1  # the noise model's other defaults
    assert [p["type"] for p in resolved["priors"]] and all(p["params"] for p in resolved["priors"] + resolved["losses"])
    solver = real_registry.get("solvers", "yeh").params_model
    assert set(resolved["solver"]["params"]) == set(solver.model_fields)
    assert invprob.load_recipe(result.directory / "recipe.resolved.yaml", registry=real_registry)


REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_shipped_recipe_resolves_to_a_recipe_that_resolves_to_itself(path, real_registry, tmp_path):
    from invprob.app.run_record import resolved_recipe
    from invprob.recipe import read_recipe_file

    raw = read_recipe_file(path)
    if "shared" in json.dumps(raw) and not SHARED.is_dir():
        pytest.skip(f"{path.name} reads ../shared, which is absent")
    overrides = []
    if raw.get("generator", {}).get("type") == "stylegan2":  # a field the user fills: the fixture stands in
        checkpoint = SHARED / "fixtures" / "stylegan2" / "checkpoint.pt"
        if not checkpoint.is_file():
            pytest.skip("the StyleGAN2 fixture checkpoint is absent from ../shared")
        overrides.append(f"generator.params.checkpoint={checkpoint}")
    text = resolved_recipe(invprob.load_recipe(path, overrides, registry=real_registry), real_registry)
    (tmp_path / "elsewhere").mkdir()
    copy = tmp_path / "elsewhere" / "recipe.resolved.yaml"  # paths are absolute: it runs from any folder
    copy.write_text(text)
    resolved = yaml.safe_load(text)
    assert yaml.safe_load(resolved_recipe(invprob.load_recipe(copy, registry=real_registry), real_registry)) == resolved
    assert isinstance(resolved["metrics"], list) and resolved["solver"]["params"]


# -- environment.json ----------------------------------------------------------------------


def test_environment_records_versions_machine_command_and_times(toy_registry, toy_recipe, tmp_path):
    import numpy

    result = _run(toy_recipe, ["data.samples=1"], out=tmp_path, registry=toy_registry)
    environment = json.loads((result.directory / "environment.json").read_text())
    packages = environment["packages"]
    assert packages["numpy"] == numpy.__version__ and packages["pydantic"] and packages["Pillow"]
    assert set(packages) >= {"numpy", "scipy", "scikit-image", "Pillow", "pydantic", "lpips"}
    assert environment["cpu"]["torch_threads"] == torch.get_num_threads() and environment["cpu"]["logical_cores"] >= 1
    assert "model" in environment["cpu"] and environment["cuda"] == torch.version.cuda and "cudnn" in environment
    assert environment["command"] == sys.argv and environment["overrides"] == ["data.samples=1"]
    assert environment["recipe_file"] == str(toy_recipe.resolve())
    assert environment["git"]["recipe"] is None  # the recipe lives in a temporary folder
    try:  # invprob imported from a checkout (an editable install): its HEAD
        head = subprocess.run(["git", "-C", str(Path(invprob.__file__).parent), "rev-parse", "HEAD"],
                              capture_output=True, text=True, check=False, timeout=30)  # fmt: skip
        expected = head.stdout.strip() if head.returncode == 0 else None
    except OSError:
        expected = None
    assert (environment["git"]["invprob"] or {}).get("commit") == expected
    assert environment["started"] <= environment["ended"]
    assert result.environment == environment


def test_git_commit_is_the_checkouts_head_and_none_elsewhere(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    try:
        for args in (["init", "-q"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x"]):
            subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("git is not usable here")
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=False, capture_output=True, text=True).stdout.strip()
    (repo / "sub").mkdir()
    assert git_commit(repo / "sub") == {"commit": head, "dirty": False}
    assert git_commit(tmp_path / "elsewhere") is None
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # no git at all: None, not an error
    assert git_commit(repo) is None


# -- metrics.json --------------------------------------------------------------------------


def test_metrics_name_what_ran_and_read_into_one_table(toy_registry, toy_recipe, tmp_path):
    result = _run(toy_recipe, ["data.samples=2", "seed=7"], out=tmp_path, registry=toy_registry)
    text = (result.directory / "metrics.json").read_text()
    metrics = json.loads(text)
    assert metrics["recipe"]["file"] == str(toy_recipe.resolve()) and metrics["recipe"]["overrides"] == ["data.samples=2", "seed=7"]
    assert (metrics["solver"], metrics["operator"], metrics["generator"], metrics["seed"]) == ("toy-descent", "toy-mask", "toy-generator", 7)
    records = metrics["records"]
    assert all(list(record) == list(RECORD_FIELDS) for record in records)
    by_key = {(r["image"], r["metric"]): r["value"] for r in records}
    for image in metrics["images"]:
        for metric in ("psnr", "ssim", "mse", "psnr_missing", "mse_missing", "measurement_loss"):
            assert by_key[(image["name"], metric)] == image[metric]
    assert len(records) == 2 * 6
    pandas = pytest.importorskip("pandas")
    with open(result.directory / "metrics.json") as f:
        table = pandas.DataFrame(json.load(f)["records"])
    wide = table.pivot(index="image", columns="metric", values="value")
    assert wide.loc["sample0001", "psnr"] == metrics["images"][1]["psnr"]


def test_inpainting_runs_report_psnr_over_the_missing_pixels(toy_registry, toy_recipe, tmp_path):
    result = _run(toy_recipe, ["data.samples=2"], out=tmp_path, registry=toy_registry)
    from invprob.app.execute import load_inputs

    components = invprob.build(invprob.load_recipe(toy_recipe, ["data.samples=2"], registry=toy_registry), registry=toy_registry)
    truth = load_inputs(components).truth
    missing = 1 - components.operator.observed_mask()
    reconstruction = torch.cat([r.best_image for r in result.results])  # the solver's own, on [-1, 1]
    expected = psnr_in_region(reconstruction, truth, missing)
    got = [m["psnr_missing"] for m in result.metrics["images"]]
    assert got == pytest.approx(expected.tolist(), rel=1e-9)
    assert all(m["psnr_missing"] < m["psnr"] for m in result.metrics["images"])  # observed pixels flatter the PSNR
    assert result.metrics["mean"]["psnr_missing"] == pytest.approx(sum(got) / 2)
    hole_mse = [m["mse_missing"] for m in result.metrics["images"]]  # LCM's Table 1 number
    assert hole_mse == pytest.approx(mse_in_region(reconstruction, truth, missing).tolist(), rel=1e-9)
    assert got == pytest.approx([-10 * math.log10(v) for v in hole_mse], rel=1e-12)


def test_psnr_in_a_region_is_psnr_for_the_whole_image_and_undefined_for_none():
    x, y = _images(2), _images(2).flip(-1)
    torch.testing.assert_close(psnr_in_region(x, y, torch.ones(1, 1, 8, 8)), psnr(x, y))
    left = torch.zeros(1, 1, 8, 8)
    left[..., :4] = 1
    diff = ((x - y) / 2)[..., :4]
    torch.testing.assert_close(psnr_in_region(x, y, left), -10 * torch.log10(diff.double().pow(2).mean(dim=(1, 2, 3))))
    assert psnr_in_region(x, y, torch.zeros(1, 1, 8, 8)).isnan().all()


class _NeedsWeights(Params):
    """A metric whose backbone is missing here."""


class _UnavailableMetric:
    @hookimpl
    def invprob_register_metrics(self, registry) -> None:
        registry.add("needs-weights", _unavailable, params_model=_NeedsWeights)


def _unavailable(params, context):
    raise MetricUnavailable("backbone toy.pth is missing:\nput it in ~/toy")


def test_an_unavailable_metric_is_said_on_the_terminal_in_one_line(toy_registry, toy_recipe, tmp_path, capfd):
    toy_registry.register_plugin(_UnavailableMetric(), distribution="invprob-toy-metrics")
    result = _run(toy_recipe, ["data.samples=1", "metrics=[psnr, needs-weights]"], out=tmp_path, registry=toy_registry)
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "needs-weights" in line]
    assert lines == ["warning: metric needs-weights is unavailable: backbone toy.pth is missing: put it in ~/toy"]
    assert result.metrics["unavailable"] == {"needs-weights": "backbone toy.pth is missing:\nput it in ~/toy"}


def test_metrics_json_stays_strict_when_a_value_is_not_finite(toy_registry, toy_recipe, tmp_path):
    result = _run(toy_recipe, ["data.samples=1", "solver.params.produce_nan=true"], out=tmp_path, registry=toy_registry)
    text = (result.directory / "metrics.json").read_text()
    metrics = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert any(r["value"] is None for r in metrics["records"])
    assert not math.isnan(json.loads((result.directory / "environment.json").read_text())["seeds"]["recipe"])


def test_a_metric_the_recipe_does_not_name_is_listed_quietly_when_unavailable(toy_registry, toy_recipe, tmp_path, capfd):
    """A missing LPIPS backbone must not warn on every run that never asked for LPIPS."""
    toy_registry.register_plugin(_UnavailableMetric(), distribution="invprob-toy-metrics")
    result = _run(toy_recipe, ["data.samples=1", "~metrics"], out=tmp_path, registry=toy_registry)
    err = capfd.readouterr().err
    assert "needs-weights" not in err and "unavailable" not in err
    assert result.metrics["unavailable"]["needs-weights"] == "backbone toy.pth is missing:\nput it in ~/toy"
    assert "psnr" in result.metrics["mean"]  # the available defaults were computed


def test_records_are_sorted_and_identical_whatever_the_hash_seed(toy_env, toy_recipe, tmp_path):
    """Metric names went through a set: their order changed with PYTHONHASHSEED."""
    script = (
        "import json, sys, invprob; r = invprob.run(sys.argv[1], ['data.samples=2'], out=sys.argv[2], show_progress=False);"
        "print(json.dumps([[k for k in e] for e in r.metrics['images']] + [[(x['index'], x['metric']) for x in r.metrics['records']]]))"
    )
    outputs = set()
    for seed in ("1", "2", "3"):
        done = subprocess.run([sys.executable, "-c", script, str(toy_recipe), str(tmp_path / seed)], env={**toy_env, "PYTHONHASHSEED": seed},
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.add(done.stdout.strip().splitlines()[-1])
    assert len(outputs) == 1
    records = json.loads(outputs.pop())[-1]
    assert records == sorted(records) and len(records) == 2 * 6


def test_metrics_json_says_which_way_each_value_is_better_and_which_the_solver_made_trivial(toy_registry, toy_recipe, tmp_path):
    result = _run(toy_recipe, ["data.samples=2"], out=tmp_path, registry=toy_registry)
    assert result.metrics["higher_is_better"] == {
        "mse": False, "psnr": True, "psnr_missing": True, "mse_missing": False, "ssim": True, "measurement_loss": False}
    assert "trivial" not in result.metrics
    pytest.importorskip("invprob_plugin_yeh")
    blended = _run(toy_recipe, ["data.samples=2", "solver={type: yeh, params: {steps: 2}}", "operator={type: inpaint-center}",
                                "outputs.gif=false"],
                   out=tmp_path, registry=toy_registry)  # fmt: skip
    assert set(blended.metrics["trivial"]) == {"measurement_loss"}
    assert all(entry["measurement_loss"] == pytest.approx(0, abs=1e-12) for entry in blended.metrics["images"])


# -- 16-bit images ---------------------------------------------------------------------------


def test_png16_round_trips_through_pillow_grey_exactly_and_rgb_by_its_high_bytes(tmp_path):
    import numpy as np

    from invprob.images import png16

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 65536, size=(5, 7), dtype=np.uint16)
    (tmp_path / "g.png").write_bytes(png16(grey))
    with Image.open(tmp_path / "g.png") as image:
        assert image.mode == "I;16" and np.array_equal(np.asarray(image), grey)
    rgb = rng.integers(0, 65536, size=(5, 7, 3), dtype=np.uint16)
    (tmp_path / "c.png").write_bytes(png16(rgb))
    with Image.open(tmp_path / "c.png") as image:
        assert image.tile[0][3] == "RGB;16B"  # 16 bits per sample in the file
        assert np.array_equal(np.asarray(image), (rgb >> 8).astype(np.uint8))  # Pillow decodes it at 8 bits
    with pytest.raises(ValueError, match="uint16"):
        png16(grey.astype(np.uint8))


def test_a_16_bit_input_is_written_back_as_16_bit_pngs(toy_registry, toy_recipe, tmp_path):
    """A 16-bit grey PNG lost its low 8 bits in images/: now every image of it keeps 16."""
    import numpy as np

    levels = (np.arange(16 * 16, dtype=np.uint32).reshape(16, 16) * 257 + 3).astype(np.uint16)  # not multiples of 257
    Image.fromarray(levels).save(tmp_path / "deep.png")  # uint16: mode I;16, a 16-bit grey PNG
    Image.fromarray((levels >> 8).astype(np.uint8)).save(tmp_path / "flat.png")
    result = _run(toy_recipe, [f"data.images={tmp_path}", "~data.samples", "generator.params.channels=1"],
                  out=tmp_path / "runs", registry=toy_registry)  # fmt: skip
    images = result.directory / "images"
    for kind in ("ground_truth", "reconstruction", "observed"):
        with Image.open(images / f"0000_deep_{kind}.png") as image:
            assert image.mode == "I;16", kind
        with Image.open(images / f"0001_flat_{kind}.png") as image:
            assert image.mode == "L", kind  # an 8-bit input stays 8-bit
    with Image.open(images / "0000_deep_ground_truth.png") as image:
        assert np.array_equal(np.asarray(image), levels)  # the truth round-trips exactly


class _Undirected(Params):
    """A third-party metric that says nothing about which way is better."""


class _UndirectedMetric(Metric):
    def forward(self, reconstruction, target):
        return (reconstruction - target).abs().flatten(1).amax(dim=1)


class _UndirectedPlugin:
    @hookimpl
    def invprob_register_metrics(self, registry) -> None:
        registry.add("max-error", lambda params, context: _UndirectedMetric(), params_model=_Undirected)


def test_a_metric_that_declares_no_direction_is_recorded_undirected(toy_registry, toy_recipe, tmp_path):
    toy_registry.register_plugin(_UndirectedPlugin(), distribution="invprob-toy-undirected")
    result = _run(toy_recipe, ["data.samples=1", "metrics=[psnr, max-error]"], out=tmp_path, registry=toy_registry)
    assert result.metrics["higher_is_better"]["max-error"] is None and result.metrics["higher_is_better"]["psnr"] is True
    assert result.metrics["mean"]["max-error"] > 0


def test_without_the_figures_plugin_a_run_keeps_its_numbers_and_says_who_draws_the_gif(toy_path, toy_recipe, tmp_path, capfd):
    from invprob.registry import new_registry

    full = _run(toy_recipe, out=tmp_path, name="full", registry=new_registry(strict=False))
    bare = _run(toy_recipe, out=tmp_path, name="bare", registry=new_registry(strict=False, disable={"invprob-plugin-figures"}))
    figures = {"grid.png", "loss.png", "optimisation.gif"}
    assert figures <= {p.name for p in full.directory.iterdir()}
    assert not figures & {p.name for p in bare.directory.iterdir()} and (bare.directory / "images").is_dir()
    assert bare.metrics["images"] == full.metrics["images"] and "failed_outputs" not in bare.metrics
    err = capfd.readouterr().err
    assert "warning: outputs.gif: no installed plugin draws optimisation.gif; invprob-plugin-figures does: " \
           "pip install invprob-plugin-figures" in err  # fmt: skip


class _FailingFigures:
    """A plugin whose figures hook breaks (not a full disk: a bug)."""

    @hookimpl
    def invprob_write_run_figures(self, run):
        raise RuntimeError("the figures plugin breaks")


def test_a_figures_plugin_that_breaks_is_said_and_the_run_keeps_its_results(toy_registry, toy_recipe, tmp_path, capfd):
    toy_registry.register_plugin(_FailingFigures(), distribution="invprob-failing-figures")
    result = _run(toy_recipe, out=tmp_path, name="broken", registry=toy_registry)
    assert result.metrics["mean"]["psnr"] > 0 and "failed_outputs" not in result.metrics
    assert (result.directory / "grid.png").is_file(), "the other plugins' figures are drawn"
    err = capfd.readouterr().err
    assert ("warning: invprob-failing-figures could not draw the run's figures: RuntimeError: the figures plugin "
            "breaks") in err and "no installed plugin draws" not in err  # fmt: skip
    assert [f.distribution for f in toy_registry.failures].count("invprob-failing-figures") == 1  # recorded as its failure
