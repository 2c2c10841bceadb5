"""The core's custom ops: opcheck, autograd, and kernels registered by plugins being dispatched."""

from __future__ import annotations

import pytest
import torch

from invprob import hookimpl, ops
from invprob.registry import Registry

N, M = 30, 7


def _operands(random_rows: bool, dtype: torch.dtype = torch.float64):
    rng = torch.Generator().manual_seed(3)
    g = torch.randn(N, generator=rng, dtype=dtype) / M**0.5
    signs = torch.randint(0, 2, (N,), generator=rng).to(dtype) * 2 - 1
    rows = torch.randperm(N, generator=rng)[:M].sort().values if random_rows else None
    return ops.spectrum_of_first_row(g), signs, rows


def _dense(g_fft: torch.Tensor, signs: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    """S_m C_g D built entry by entry from C_g[i, j] = g[(j - i) mod n]."""
    g = torch.fft.irfft(torch.view_as_complex(g_fft), n=N)
    index = (torch.arange(N)[None, :] - torch.arange(N)[:, None]) % N
    full = g[index] * signs[None, :]
    return full[:M] if rows is None else full[rows]


def test_the_op_names_are_the_exported_constants():
    assert ops.OPS == (ops.CIRCULANT_SENSE, ops.CIRCULANT_SENSE_ADJOINT, ops.PROJECT_L1_BALL)
    assert ops.CIRCULANT_SENSE == "invprob::circulant_sense"
    assert ops.CIRCULANT_SENSE_ADJOINT == "invprob::circulant_sense_adjoint"
    assert torch.ops.invprob.circulant_sense.default.name() == ops.CIRCULANT_SENSE
    assert torch.ops.invprob.circulant_sense_adjoint.default.name() == ops.CIRCULANT_SENSE_ADJOINT
    assert torch.ops.invprob.project_l1_ball.default.name() == ops.PROJECT_L1_BALL


@pytest.mark.parametrize("random_rows", [False, True])
def test_ops_pass_opcheck(random_rows):
    g_fft, signs, rows = _operands(random_rows)
    x = torch.randn(3, N, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, M, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(torch.ops.invprob.circulant_sense.default, (x, g_fft, signs, rows, M))
    torch.library.opcheck(torch.ops.invprob.circulant_sense_adjoint.default, (y, g_fft, signs, rows))


@pytest.mark.parametrize("random_rows", [False, True])
def test_ops_are_the_partial_circulant_matrix_and_its_transpose(random_rows):
    g_fft, signs, rows = _operands(random_rows)
    dense = _dense(g_fft, signs, rows)
    x, y = torch.randn(4, N, dtype=torch.float64), torch.randn(4, M, dtype=torch.float64)
    torch.testing.assert_close(ops.circulant_sense(x, g_fft, signs, rows, M), x @ dense.T)
    torch.testing.assert_close(ops.circulant_sense_adjoint(y, g_fft, signs, rows), y @ dense)


def test_double_backward_goes_through_the_other_op():
    g_fft, signs, rows = _operands(random_rows=True)
    x = torch.randn(2, N, dtype=torch.float64, requires_grad=True)
    y = torch.randn(2, M, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: ops.circulant_sense(t, g_fft, signs, rows, M), (x,))
    assert torch.autograd.gradgradcheck(lambda t: ops.circulant_sense_adjoint(t, g_fft, signs, rows), (y,))


def test_more_measurements_than_entries_without_rows_is_refused():
    # the op used to return n columns while its fake kernel promised m
    g_fft, signs, _ = _operands(random_rows=False)
    with pytest.raises(ValueError, match=f"m = {N + 1} measurements of n = {N}"):
        ops.circulant_sense(torch.randn(2, N, dtype=torch.float64), g_fft, signs, None, N + 1)
    with pytest.raises(ValueError, match=f"m = {N + 1} measurements of n = {N}"):
        ops.circulant_sense_adjoint(torch.randn(2, N + 1, dtype=torch.float64), g_fft, signs, None)


def test_repeated_rows_are_refused_by_both_ops():
    # index_copy_ in the adjoint overwrote where S^T must add: a wrong adjoint, silently
    g_fft, signs, _ = _operands(random_rows=False)
    rows = torch.tensor([0, 5, 5, 9, 2, 3, 4])
    with pytest.raises(ValueError, match="repeated rows"):
        ops.circulant_sense(torch.randn(2, N, dtype=torch.float64), g_fft, signs, rows, M)
    with pytest.raises(ValueError, match="repeated rows"):
        ops.circulant_sense_adjoint(torch.randn(2, M, dtype=torch.float64), g_fft, signs, rows)


def test_rows_of_the_wrong_length_or_out_of_range_are_refused():
    g_fft, signs, _ = _operands(random_rows=False)
    x = torch.randn(2, N, dtype=torch.float64)
    with pytest.raises(ValueError, match="length m = 7"):
        ops.circulant_sense(x, g_fft, signs, torch.arange(6), M)
    with pytest.raises(ValueError, match=r"rows must lie in \[0, 30\)"):
        ops.circulant_sense(x, g_fft, signs, torch.tensor([0, 1, 2, 3, 4, 5, N]), M)


def test_ops_act_on_leading_batch_dimensions():
    g_fft, signs, _ = _operands(random_rows=False, dtype=torch.float32)
    y = ops.circulant_sense(torch.randn(2, 3, N), g_fft, signs, None, 9)
    assert y.shape == (2, 3, 9)
    assert ops.circulant_sense_adjoint(y, g_fft, signs, None).shape == (2, 3, N)


# -- kernels registered by plugins ---------------------------------------------------------


class CountingKernels:
    """A toy kernel plugin: CPU kernels that count their calls and delegate to the reference."""

    def __init__(self):
        self.calls = {name: 0 for name in ops.OPS}
        self.registrations: list[ops.KernelRegistration] = []

    def _counting(self, op_name: str):
        reference = ops.reference_kernel(op_name)

        def kernel(*args):
            self.calls[op_name] += 1
            return reference(*args)

        return kernel

    @hookimpl
    def invprob_setup_runtime(self, device: torch.device) -> None:
        if device.type == "cpu":
            for name in ops.OPS:
                self.registrations.append(ops.register_kernel(name, "cpu", self._counting(name)))

    def remove(self) -> None:
        for registration in reversed(self.registrations):
            registration.remove()


@pytest.fixture
def counting_kernels():
    plugin = CountingKernels()
    registry = Registry(strict=True)
    registry.register_plugin(plugin, distribution="invprob-test-kernels")
    try:
        yield registry, plugin
    finally:
        plugin.remove()


def _circulant_operator():
    from invprob_plugin_imaging.sensing import CirculantSensing

    return CirculantSensing.random((1, 5, 6), M, torch.Generator().manual_seed(0))


def test_a_kernel_registered_at_runtime_setup_is_dispatched(counting_kernels):
    registry, plugin = counting_kernels
    operator = _circulant_operator()
    x = torch.randn(2, 1, 5, 6)
    before = operator.A(x)
    assert plugin.calls[ops.CIRCULANT_SENSE] == 0

    registry.setup_runtime(torch.device("cpu"))
    y = operator.A(x)
    operator.A_adjoint(y)
    assert plugin.calls == {ops.CIRCULANT_SENSE: 1, ops.CIRCULANT_SENSE_ADJOINT: 1, ops.PROJECT_L1_BALL: 0}
    torch.testing.assert_close(y, before)


def test_a_removed_kernel_is_no_longer_dispatched(counting_kernels):
    registry, plugin = counting_kernels
    registry.setup_runtime(torch.device("cpu"))
    plugin.remove()
    operator = _circulant_operator()
    operator.A_adjoint(operator.A(torch.randn(1, 1, 5, 6)))
    assert plugin.calls == {ops.CIRCULANT_SENSE: 0, ops.CIRCULANT_SENSE_ADJOINT: 0, ops.PROJECT_L1_BALL: 0}


def test_removing_a_kernel_restores_the_one_registered_before():
    first, second = CountingKernels(), CountingKernels()
    g_fft, signs, rows = _operands(random_rows=False)
    x = torch.randn(1, N, dtype=torch.float64)
    with ops.register_kernel(ops.CIRCULANT_SENSE, "cpu", first._counting(ops.CIRCULANT_SENSE)):
        with ops.register_kernel(ops.CIRCULANT_SENSE, "cpu", second._counting(ops.CIRCULANT_SENSE)):
            ops.circulant_sense(x, g_fft, signs, rows, M)
        ops.circulant_sense(x, g_fft, signs, rows, M)
    ops.circulant_sense(x, g_fft, signs, rows, M)
    assert (first.calls[ops.CIRCULANT_SENSE], second.calls[ops.CIRCULANT_SENSE]) == (1, 1)


def test_a_misspelled_op_name_is_an_error_that_lists_the_ops():
    with pytest.raises(ValueError) as error:
        ops.register_kernel("invprob::circulant_sens", "cpu", lambda *args: None)
    message = str(error.value)
    assert "did you mean 'invprob::circulant_sense'?" in message
    assert ops.CIRCULANT_SENSE_ADJOINT in message
    with pytest.raises(ValueError, match="is not an op of invprob.ops"):
        ops.reference_kernel("mylib::sense")
