"""invprob-plugin-cuda where there is no GPU: it installs, loads, changes nothing on the CPU,
says once what is missing on a CUDA device without the compiled part, and its sources compile."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import torch

from invprob import ops
from invprob.registry import new_registry
from invprob_plugin_cuda import build, kernels, plugin


@pytest.fixture
def fresh_state(monkeypatch):
    monkeypatch.setattr(plugin, "_state", {"registered": False, "notice": None})


def test_the_plugin_loads_as_a_distribution_with_no_component_of_its_own():
    registry = new_registry(strict=True, only={"invprob-plugin-cuda"})
    assert "invprob-plugin-cuda" in registry.distributions
    assert all(not registry.names(kind) for kind in ("operators", "generators", "priors", "solvers"))


def test_on_the_cpu_the_hook_registers_nothing(fresh_state, capsys):
    plugin.invprob_setup_runtime(torch.device("cpu"))
    assert plugin._state == {"registered": False, "notice": None}
    assert capsys.readouterr().err == ""


def test_without_the_compiled_part_a_cuda_device_keeps_the_plain_kernels_with_one_notice(fresh_state, monkeypatch, capsys):
    monkeypatch.delenv("INVPROB_CUDA_JIT", raising=False)
    monkeypatch.setattr(ops, "register_kernel", lambda *args: pytest.fail("nothing may be registered"))
    assert plugin.enable_kernels() is False
    assert plugin.enable_kernels() is False
    err = capsys.readouterr().err
    assert err.count("invprob-plugin-cuda: using the plain-torch kernels") == 1
    assert "INVPROB_CUDA_BUILD=1" in err and "INVPROB_CUDA_JIT=1" in err


def test_with_the_compiled_part_every_core_op_gets_a_cuda_kernel(fresh_state, monkeypatch):
    registered = {}
    monkeypatch.setattr(build, "load_extension", lambda: types.SimpleNamespace())
    monkeypatch.setattr(ops, "register_kernel", lambda name, device, fn: registered.setdefault((name, device), fn))
    assert plugin.enable_kernels() is True
    assert set(registered) == {(name, "cuda") for name in ops.OPS}


def test_dtypes_the_kernels_do_not_handle_go_to_the_plain_torch_kernels():
    untouchable = types.SimpleNamespace()  # any call into the "extension" would fail
    wrapped = kernels.make_kernels(untouchable)
    n, m = 16, 5
    x = torch.randn(2, n, dtype=torch.float64)
    g_fft = ops.spectrum_of_first_row(torch.randn(n, dtype=torch.float64))
    signs = torch.ones(n, dtype=torch.float64)
    expected = ops.reference_kernel(ops.CIRCULANT_SENSE)(x, g_fft, signs, None, m)
    assert torch.equal(wrapped[ops.CIRCULANT_SENSE](x, g_fft, signs, None, m), expected)
    v, centre = torch.randn(3, 10, dtype=torch.float64), torch.zeros(3, 10, dtype=torch.float64)
    projected = wrapped[ops.PROJECT_L1_BALL](v, centre, 1.0)
    assert torch.equal(projected, ops.reference_kernel(ops.PROJECT_L1_BALL)(v, centre, 1.0))
    with pytest.raises(ValueError, match="radius >= 0"):
        wrapped[ops.PROJECT_L1_BALL](v.float(), centre.float(), -1.0)


@pytest.mark.slow
def test_the_cuda_sources_compile(tmp_path):
    if build.find_nvcc() is None:
        pytest.skip("nvcc not found: set CUDA_HOME or put nvcc on the PATH to compile-check the CUDA sources")
    commands = build.compile_check(tmp_path)
    assert len(commands) == len(build.CUDA_SOURCES) + len(build.CXX_SOURCES)
    assert all((tmp_path / f"{name}.o").is_file() for name in build.CUDA_SOURCES)


# -- the wrappers' checks before any launch ---------------------------------------------------


def sensing_args(n: int = 12, m: int = 5):
    g_fft = ops.spectrum_of_first_row(torch.randn(n))
    return torch.randn(2, n), g_fft, torch.ones(n), torch.randperm(n)[:m], m


@pytest.fixture
def untouchable():
    """The wrappers around an "extension" that fails the test if anything reaches it."""
    fail = lambda *args: pytest.fail("a bad input reached the kernel")  # noqa: E731
    return kernels.make_kernels(types.SimpleNamespace(circulant_sense=fail, circulant_sense_adjoint=fail,
                                                      project_l1_ball=fail))  # fmt: skip


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda a: {"rows": torch.tensor([0, 3, 12, 1, 2])}, r"^circulant_sense: rows must lie in \[0, 12\), got 0..12$"),
        (lambda a: {"rows": torch.tensor([0, 3, -1, 1, 2])}, r"rows must lie in \[0, 12\), got -1..3"),
        (lambda a: {"rows": torch.tensor([4, 3, 4, 1, 4])},
         r"^circulant_sense: repeated rows are not supported .*index 4 appears 3 times, 2 repeats in all"),
        (lambda a: {"rows": torch.tensor([0, 1, 2])}, r"rows must be a 1-d int64 index tensor of length m = 5, got shape \(3,\)"),
        (lambda a: {"rows": torch.tensor([0, 1, 2, 3, 4], dtype=torch.int32)}, r"1-d int64 .* dtype torch.int32"),
        (lambda a: {"g_fft": a[1][:-1]}, r"g_fft must be view_as_real\(rfft\(g\)\) of shape \[n // 2 \+ 1, 2\] = \[7, 2\]"),
        (lambda a: {"rows": None, "m": 13}, r"m = 13 measurements of n = 12 entries without rows; need 0 <= m <= n"),
    ],
)
def test_sensing_inputs_the_kernels_would_misuse_are_refused_before_launch(untouchable, change, message):
    x, g_fft, signs, rows, m = sensing_args()
    values = {"rows": rows, "g_fft": g_fft, "m": m, **change((x, g_fft, signs, rows, m))}
    with pytest.raises(ValueError, match=message):
        untouchable[ops.CIRCULANT_SENSE](x, values["g_fft"], signs, values["rows"], values["m"])
    y = torch.randn(2, values["m"])
    with pytest.raises(ValueError, match=message):
        untouchable[ops.CIRCULANT_SENSE_ADJOINT](y, values["g_fft"], signs, values["rows"])


def test_rows_are_checked_once_per_tensor_until_modified(monkeypatch):
    n, m = 12, 5
    rows = torch.randperm(n)[:m]
    reads = []
    real_unique = torch.unique
    monkeypatch.setattr(torch, "unique", lambda t, *a, **k: reads.append(1) or real_unique(t, *a, **k))
    kernels.check_sensing(n, ops.spectrum_of_first_row(torch.randn(n)), rows, m)
    kernels.check_sensing(n, ops.spectrum_of_first_row(torch.randn(n)), rows, m)
    assert len(reads) == 1  # remembered: an optimisation loop's calls read nothing back
    rows[0] = rows[1]  # modified in place: checked again, and refused
    with pytest.raises(ValueError, match="repeated rows"):
        kernels.check_sensing(n, ops.spectrum_of_first_row(torch.randn(n)), rows, m)
    assert len(reads) == 2
    assert kernels._checked_rows.get(id(rows)) is None or kernels._checked_rows[id(rows)][1] != rows._version


def test_the_core_op_and_the_cuda_wrapper_agree_on_repeated_rows(untouchable):
    """Both refuse them with the same message (the core op since its fidelity fix; the wrapper's
    adds which index repeats), and both refuse the same out-of-range rows."""
    x, g_fft, signs, _, m = sensing_args()
    for rows, same in ((torch.tensor([1, 1, 2, 3, 4]), "circulant_sense: repeated rows are not supported"),
                       (torch.tensor([1, 12, 2, 3, 4]), "circulant_sense: rows must lie in [0, 12), got 1..12")):  # fmt: skip
        with pytest.raises(ValueError) as from_wrapper:
            untouchable[ops.CIRCULANT_SENSE](x, g_fft, signs, rows, m)
        try:
            ops.circulant_sense(x, g_fft, signs, rows, m)
        except ValueError as exc:
            assert str(exc).startswith(same) and str(from_wrapper.value).startswith(same)
        else:
            pytest.skip("this core's circulant op does not check rows yet (the fidelity fix of invprob.ops)")


# -- benchmarks/gpu_check.sh on a machine without a GPU -----------------------------------------


GPU_CHECK = Path(__file__).resolve().parents[4] / "benchmarks" / "gpu_check.sh"
needs_the_script = pytest.mark.skipif(not GPU_CHECK.is_file(), reason="benchmarks/ is not in this checkout (an installed plugin)")
nested = pytest.mark.skipif(bool(os.environ.get("INVPROB_GPU_CHECK_NESTED")), reason="inside gpu_check itself")


def import_gpu_check(monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", GPU_CHECK.with_suffix(".py"))
    gpu_check = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_check", gpu_check)  # dataclasses look their module up
    spec.loader.exec_module(gpu_check)
    return gpu_check


def load_gpu_check(monkeypatch, has_gpu: bool):
    """benchmarks/gpu_check.py with its steps recorded instead of run, on a pretended machine."""
    gpu_check = import_gpu_check(monkeypatch)
    ran = []

    def record(step, log_dir, deadline):
        ran.append(step)
        step.status, step.output = "passed", "3 passed"
        return step

    machine = "NVIDIA H100 80GB HBM3 (sm_90), torch 2.x, CUDA 12.4" if has_gpu else "torch 2.x sees no CUDA device"
    monkeypatch.setattr(gpu_check, "run_step", record)
    monkeypatch.setattr(gpu_check, "device_line", lambda python: (has_gpu, machine))
    return gpu_check, ran


@needs_the_script
def test_gpu_check_without_a_gpu_runs_the_cpu_steps_only(tmp_path, monkeypatch, capsys):
    gpu_check, ran = load_gpu_check(monkeypatch, has_gpu=False)
    assert gpu_check.main(["--short", "--out", str(tmp_path / "check")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("gpu_check: no CUDA GPU here") and "GPU steps skipped" in first
    assert len(ran) == 1 and ran[0].command[1:6] == ["-m", "pytest", "-q", "-m", "not gpu"]
    summary = (tmp_path / "check" / "summary.md").read_text()
    assert "No CUDA GPU" in summary and "| CUDA plugin CPU tests (kernel models) | passed |" in summary
    assert gpu_check.main(["--short", "--out", str(tmp_path / "check")]) == 2  # never overwrites a check


@needs_the_script
def test_gpu_check_on_an_h100_runs_every_gpu_step(tmp_path, monkeypatch):
    gpu_check, ran = load_gpu_check(monkeypatch, has_gpu=True)
    assert gpu_check.main(["--out", str(tmp_path / "check")]) == 0
    build_step = ran[0]
    assert build_step.command[1:] == ["setup.py", "-q", "build_ext", "--inplace"] and build_step.cwd == gpu_check.PLUGIN
    assert build_step.env["INVPROB_CUDA_BUILD"] == "1" and build_step.env["TORCH_CUDA_ARCH_LIST"] == "9.0"
    commands = [" ".join(step.command[1:]) for step in ran[1:]]
    assert commands[0].startswith("-m pytest -q -m gpu")
    assert any(c.startswith("benchmarks/bench_cuda_ops.py") for c in commands)
    assert any("bench_optimise_step.py --batch 256 --device cuda" in c for c in commands)
    assert any("bench_ilo_stylegan2.py --size 1024 --device cuda --steps 300 200 200 100" in c for c in commands)
    for recipe in gpu_check.RECIPES:
        assert sum(f"recipes/{recipe}.yaml" in c for c in commands) == 2  # on CPU and on CUDA, same seed
    summary = (tmp_path / "check" / "summary.md").read_text()
    assert "## CPU vs CUDA, same seed" in summary and "NVIDIA H100" in summary


@needs_the_script
def test_gpu_check_cuts_a_step_at_the_deadline(tmp_path, monkeypatch):
    gpu_check = import_gpu_check(monkeypatch)
    step = gpu_check.Step("sleeps", [sys.executable, "-c", "import time; time.sleep(30)"], 60)
    gpu_check.run_step(step, tmp_path, time.monotonic() + 1)
    assert step.status == "timed out after 1 s" and step.seconds < 20


@pytest.mark.slow
@needs_the_script
@nested
def test_gpu_check_script_without_a_gpu_says_so_and_exits_0(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: run benchmarks/gpu_check.sh itself")
    out = tmp_path / "check"
    done = subprocess.run(["bash", str(GPU_CHECK), "--short", "--out", str(out)], capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable}, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("gpu_check: no CUDA GPU here") and "GPU steps skipped" in first
    summary = (out / "summary.md").read_text()
    assert "No CUDA GPU" in summary and "| CUDA plugin CPU tests (kernel models) | passed |" in summary
