"""The CUDA kernels against the plain-torch ones, on a GPU (marked ``gpu``; skipped without CUDA).

Run on a GPU machine with the compiled part built ahead of time or just in time:
``INVPROB_CUDA_JIT=1 pytest -m gpu plugins/operators/cuda``.
"""

from __future__ import annotations

import functools
import os
import threading

import numpy as np
import pytest
import torch

from invprob import ops
from invprob_plugin_cuda import build, emulation, kernels

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cuda_kernels():
    """The compiled kernels registered for "cuda" for this module's tests, removed after."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    os.environ.setdefault("INVPROB_CUDA_JIT", "1")
    wrapped = kernels.make_kernels(build.load_extension())  # a build failure fails the tests
    registrations = [ops.register_kernel(name, "cuda", fn) for name, fn in wrapped.items()]
    yield wrapped
    for registration in registrations:
        registration.remove()


def sensing_inputs(batch: int, n: int, m: int, with_rows: bool, seed: int = 0):
    rng = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n, generator=rng)
    g = torch.randn(n, generator=rng) / n**0.5
    signs = torch.randint(0, 2, (n,), generator=rng).float() * 2 - 1
    rows = torch.randperm(n, generator=rng)[:m] if with_rows else None
    tensors = (x, ops.spectrum_of_first_row(g), signs, rows)
    return tuple(t.cuda() if t is not None else None for t in tensors)


def assert_relative(actual: torch.Tensor, expected: torch.Tensor, tolerance: float = 1e-5) -> None:
    error = (actual - expected).norm() / expected.norm().clamp(min=1e-30)
    assert error <= tolerance, f"relative error {error.item():.2e} > {tolerance}"


@pytest.mark.parametrize("batch,n,m", [(1, 3 * 16 * 16, 77), (4, 3 * 64 * 64, 1229), (3, 1001, 500), (2, 4096, 4096),
                                       (2, 1, 1), (3, 2, 1), (2, 7, 7)])  # fmt: skip
@pytest.mark.parametrize("with_rows", [False, True])
def test_sensing_agrees_with_the_plain_torch_kernel(cuda_kernels, batch, n, m, with_rows):
    x, g_fft, signs, rows = sensing_inputs(batch, n, m, with_rows)
    y = ops.circulant_sense(x, g_fft, signs, rows, m)
    assert_relative(y, ops.reference_kernel(ops.CIRCULANT_SENSE)(x, g_fft, signs, rows, m))
    back = ops.circulant_sense_adjoint(y, g_fft, signs, rows)
    assert_relative(back, ops.reference_kernel(ops.CIRCULANT_SENSE_ADJOINT)(y, g_fft, signs, rows))


def test_sensing_keeps_leading_dimensions_and_is_adjoint(cuda_kernels):
    x, g_fft, signs, rows = sensing_inputs(6, 768, 200, True)
    x = x.reshape(2, 3, 768)
    y = ops.circulant_sense(x, g_fft, signs, rows, 200)
    assert y.shape == (2, 3, 200)
    w = torch.randn_like(y)
    lhs = (y * w).sum()
    rhs = (x * ops.circulant_sense_adjoint(w, g_fft, signs, rows)).sum()
    assert abs(lhs - rhs) / (y.norm() * w.norm()) < 1e-5


def reference_projection(v, centre, radius):
    return ops.reference_kernel(ops.PROJECT_L1_BALL)(v, centre, radius)


@pytest.mark.parametrize("rows,length", [(1, 8192), (16, 8192), (4, 1 << 20), (1, 3 * 1024 * 1024)])
def test_projection_agrees_with_the_sort_based_kernel(cuda_kernels, rows, length):
    generator = torch.Generator(device="cuda").manual_seed(rows + length)
    v = torch.randn(rows, length, device="cuda", generator=generator)
    centre = torch.randn(rows, length, device="cuda", generator=generator) * 0.1
    radius = 0.05 * length  # outside for every row
    result = ops.project_l1_ball(v, centre, radius)
    assert_relative(result - centre, reference_projection(v, centre, radius) - centre, 1e-5)
    assert ((result - centre).abs().sum(dim=1) <= radius * (1 + 1e-5)).all()


def test_projection_rows_of_different_norms_radius_zero_and_huge(cuda_kernels):
    v = torch.randn(5, 3, 32, 32, device="cuda") * torch.tensor([1e-4, 0.1, 1.0, 10.0, 1e3], device="cuda").view(5, 1, 1, 1)
    centre = torch.zeros_like(v)
    result = ops.project_l1_ball(v, centre, 50.0)
    assert torch.equal(result[0], v[0])  # inside: exactly v, and a new tensor
    assert result.data_ptr() != v.data_ptr()
    assert_relative(result, reference_projection(v, centre, 50.0))
    assert torch.allclose(ops.project_l1_ball(v, centre, 0.0), centre, atol=1e-6)
    assert torch.equal(ops.project_l1_ball(v, centre, 1e12), v)


def test_opcheck_on_cuda(cuda_kernels):
    x, g_fft, signs, rows = sensing_inputs(2, 512, 100, True)
    torch.library.opcheck(ops.circulant_sense, (x, g_fft, signs, rows, 100))
    torch.library.opcheck(ops.circulant_sense_adjoint, (torch.randn(2, 100, device="cuda"), g_fft, signs, rows))
    v = torch.randn(3, 1000, device="cuda", requires_grad=True)
    torch.library.opcheck(ops.project_l1_ball, (v, torch.zeros(3, 1000, device="cuda"), 5.0))


def test_no_host_synchronisation(cuda_kernels):
    x, g_fft, signs, rows = sensing_inputs(4, 3 * 64 * 64, 1000, True)
    v = torch.randn(4, 1 << 16, device="cuda")
    ops.circulant_sense(x, g_fft, signs, rows, 1000)  # plans are made (and cached) before the check
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        y = ops.circulant_sense(x, g_fft, signs, rows, 1000)
        ops.circulant_sense_adjoint(y, g_fft, signs, rows)
        ops.project_l1_ball(v, torch.zeros_like(v), 10.0)
    finally:
        torch.cuda.set_sync_debug_mode("default")


# -- issue 23: exactness on adversarial inputs, many rows, determinism, the plan cache, checks ---


@functools.lru_cache(maxsize=1)
def adversarial_cases():
    return emulation.l1_adversarial_cases(tail=1_000_000)  # issue 23's size


@pytest.mark.parametrize("index", range(len(emulation.l1_adversarial_cases(tail=10))),
                         ids=[case[0] for case in emulation.l1_adversarial_cases(tail=10)])  # fmt: skip
def test_projection_is_exact_on_adversarial_inputs(cuda_kernels, index):
    name, v, centre, radius = adversarial_cases()[index]
    out = ops.project_l1_ball(torch.from_numpy(v)[None].cuda(), torch.from_numpy(centre)[None].cuda(), radius)
    report = emulation.check_projection(v, centre, radius, out[0].cpu().numpy())
    assert not report.problems, f"{name}: {report.problems}"


def test_projection_matches_the_numpy_model_bit_for_bit(cuda_kernels):
    """The model (checked on the CPU in CI) is the kernel: same sums in the same order."""
    for name, v, centre, radius in emulation.l1_adversarial_cases(tail=100_000):
        out = ops.project_l1_ball(torch.from_numpy(v)[None].cuda(), torch.from_numpy(centre)[None].cuda(), radius)
        model, _ = emulation.project_l1_ball(v[None], centre[None], radius)
        np.testing.assert_array_equal(out.cpu().numpy(), model, err_msg=name)


def test_projection_is_deterministic(cuda_kernels):
    v = torch.randn(16, 1 << 20, device="cuda")
    centre = torch.zeros_like(v)
    first = ops.project_l1_ball(v, centre, 1000.0)
    for _ in range(3):
        assert torch.equal(ops.project_l1_ball(v, centre, 1000.0), first)


def test_projection_of_more_than_65535_rows(cuda_kernels):
    v = torch.randn(70_000, 24, device="cuda")
    centre = torch.zeros_like(v)
    result = ops.project_l1_ball(v, centre, 3.0)
    assert_relative(result, reference_projection(v, centre, 3.0))


def test_two_threads_sharing_a_plan_shape_on_their_own_streams(cuda_kernels):
    x, g_fft, signs, rows = sensing_inputs(8, 3 * 64 * 64, 1000, True)
    expected = ops.reference_kernel(ops.CIRCULANT_SENSE)(x, g_fft, signs, rows, 1000)
    errors: list[str] = []

    def work(seed: int) -> None:
        stream = torch.cuda.Stream()
        with torch.cuda.stream(stream):
            for step in range(200):
                y = ops.circulant_sense(x, g_fft, signs, rows, 1000)
                back = ops.circulant_sense_adjoint(y, g_fft, signs, rows)
                if step % 20 == 0:
                    stream.synchronize()
                    error = ((y - expected).norm() / expected.norm()).item()
                    if error > 1e-5 or not torch.isfinite(back).all():
                        errors.append(f"thread {seed}, step {step}: relative error {error:.2e}")
            stream.synchronize()

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_more_plan_shapes_than_the_cache_holds(cuda_kernels):
    """Past 16 (device, stream, n, batch) plans the least recently used are destroyed (with their
    cuFFT work areas): the cache stays at 16 and results stay right, also for a plan evicted
    and made again."""
    extension = build.load_extension()
    assert extension.max_cached_plans() == 16
    x, g_fft, signs, rows = sensing_inputs(40, 3 * 64 * 64, 300, True)
    reference = ops.reference_kernel(ops.CIRCULANT_SENSE)
    for batch in [*range(1, 41), 1, 2]:
        assert_relative(ops.circulant_sense(x[:batch], g_fft, signs, rows, 300),
                        reference(x[:batch], g_fft, signs, rows, 300))  # fmt: skip
        assert extension.cached_plans() <= 16
    assert extension.cached_plans() == 16


def test_sensing_refuses_repeated_or_out_of_range_rows_on_cuda(cuda_kernels):
    x, g_fft, signs, rows = sensing_inputs(2, 64, 5, True)
    with pytest.raises(ValueError, match="repeated rows"):
        ops.circulant_sense(x, g_fft, signs, torch.tensor([1, 1, 2, 3, 4], device="cuda"), 5)
    with pytest.raises(ValueError, match=r"rows must lie in \[0, 64\)"):
        ops.circulant_sense(x, g_fft, signs, torch.tensor([1, 64, 2, 3, 4], device="cuda"), 5)
    with pytest.raises(ValueError, match="g_fft must be"):
        ops.circulant_sense(x, g_fft[:-1], signs, rows, 5)
