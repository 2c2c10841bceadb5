"""invprob-plugin-cuda where there is no GPU: it installs, loads, changes nothing on the CPU,
says once what is missing on a CUDA device without the compiled part, and its sources compile."""

from __future__ import annotations

import types

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
