"""Conformance of operators: the checks, and the suite that runs them on a plugin's operators.

For a linear ``A`` the adjoint must satisfy ``<A x, y> = <x, A* y>`` for all ``x, y``; the
checks measure the relative defect ``|<Ax,y> - <x,A*y>| / (||Ax|| ||y||)``, compare ``A*``
with the vector-Jacobian product autograd computes (for a linear map, ``vjp(y) = A^T y``),
and at small sizes build the dense matrix ``M`` of ``A`` column by column (``M e_i = A e_i``)
to check ``A x = M x`` and ``A* y = M^T y`` exactly. Every operator, linear or not, must act on
each batch element independently, draw noise only from the ``rng`` it is given (a CPU
``torch.Generator``; draws made on the CPU and moved, so one seed gives the same observation on
every device), survive moves to float64 and CUDA, and round-trip its state through safetensors.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from invprob.operator import Operator
from invprob.testing.numerics import (
    assert_close,
    assert_finite,
    global_rng_scrambled,
    inner,
    moved,
    norm,
    random_images,
    random_like,
    seeded,
)
from invprob.testing.suite import ComponentCase, ConformanceSuite

ImageShape = tuple[int, int, int]

ADJOINT_TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}
DENSE_MATRIX_MAX_SIZE = 1024


def check_adjointness(
    op: Operator, image_shape: ImageShape, *, dtype: torch.dtype = torch.float32, batch: int = 2, seed: int = 0,
    tol: float | None = None,
) -> float:
    """``|<Ax,y> - <x,A*y>| / (||Ax|| ||y||) <= tol`` for random ``x`` and ``y`` in ``dtype``.

    The default tolerance is 1e-5 in float32 and 1e-10 in float64. The operator is copied and
    moved to ``dtype``; returns the measured defect.
    """
    tol = ADJOINT_TOLERANCE.get(dtype, 1e-5) if tol is None else tol
    op = moved(op, dtype=dtype)
    x = random_images(batch, image_shape, seed=seed, dtype=dtype)
    with torch.no_grad():
        ax = op.A(x)
        y = random_like(ax, seed=seed + 1)
        aty = op.A_adjoint(y)
    if tuple(aty.shape) != tuple(x.shape):
        raise AssertionError(
            f"A_adjoint maps measurements {tuple(y.shape)} to shape {tuple(aty.shape)}, "
            f"not back to the image shape {tuple(x.shape)}"
        )
    scale = norm(ax) * norm(y)
    defect = abs(inner(ax, y) - inner(x, aty)) / scale if scale > 0 else norm(aty) / max(norm(y), 1e-300)
    if not defect <= tol:
        raise AssertionError(
            f"A_adjoint is not the adjoint of A in {dtype}: |<Ax,y> - <x,A*y>| / (||Ax|| ||y||) = "
            f"{defect:.3g} exceeds {tol:g}"
        )
    return defect


def check_adjoint_matches_autograd(
    op: Operator, image_shape: ImageShape, *, batch: int = 2, seed: int = 0, tol: float = 1e-5
) -> None:
    """``A_adjoint(y)`` equals the vector-Jacobian product of ``A`` with ``y`` (float32)."""
    x = random_images(batch, image_shape, seed=seed).requires_grad_(True)
    ax = op.A(x)
    y = random_like(ax.detach(), seed=seed + 1)
    (vjp,) = torch.autograd.grad(ax, x, y, allow_unused=True)
    if vjp is None:
        vjp = torch.zeros_like(x)
    with torch.no_grad():
        aty = op.A_adjoint(y)
    assert_close(aty, vjp, tol, "A_adjoint(y) against autograd's vector-Jacobian product of A")


def dense_matrix(op: Operator, image_shape: ImageShape, *, chunk: int = 256) -> torch.Tensor:
    """The matrix ``M`` (``m x n``, float64) of a linear operator: column ``i`` is ``A(e_i)``."""
    n = math.prod(image_shape)
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *image_shape)
    with torch.no_grad():
        columns = [op.A(basis[start : start + chunk]).reshape(min(chunk, n - start), -1) for start in range(0, n, chunk)]
    return torch.cat(columns).T


def check_dense_matrix(op: Operator, image_shape: ImageShape, *, batch: int = 2, seed: int = 0, tol: float = 1e-8) -> None:
    """In float64 and for ``n = C*H*W <= 1024``: ``A(x) == M x`` and ``A_adjoint(y) == M^T y``."""
    n = math.prod(image_shape)
    if n > DENSE_MATRIX_MAX_SIZE:
        raise ValueError(f"the dense-matrix check needs C*H*W <= {DENSE_MATRIX_MAX_SIZE}, got {n} for {image_shape}")
    op = moved(op, dtype=torch.float64)
    matrix = dense_matrix(op, image_shape)
    x = random_images(batch, image_shape, seed=seed, dtype=torch.float64)
    with torch.no_grad():
        ax = op.A(x)
        assert_close(ax.reshape(batch, -1), x.reshape(batch, -1).to(matrix.dtype) @ matrix.T, tol, "A(x) against M x")
        y = random_like(ax, seed=seed + 1)
        expected = y.reshape(batch, -1) @ matrix.conj()
        if not x.is_complex():
            expected = expected.real
        assert_close(op.A_adjoint(y).reshape(batch, -1), expected, tol, "A_adjoint(y) against M^T y")


def check_batch_consistency(op: Operator, image_shape: ImageShape, *, batch: int = 3, seed: int = 0, tol: float = 1e-5) -> None:
    """``A`` (and ``A_adjoint`` when linear) on a batch equals ``A`` on each element alone."""
    x = random_images(batch, image_shape, seed=seed)
    with torch.no_grad():
        whole = op.A(x)
        for index in range(batch):
            assert_close(whole[index : index + 1], op.A(x[index : index + 1]), tol, f"A on batch element {index}")
        if op.linear:
            y = random_like(whole, seed=seed + 1)
            whole_adjoint = op.A_adjoint(y)
            for index in range(batch):
                alone = op.A_adjoint(y[index : index + 1])
                assert_close(whole_adjoint[index : index + 1], alone, tol, f"A_adjoint on batch element {index}")


def check_noise_is_seeded(op: Operator, image_shape: ImageShape, *, batch: int = 2, seed: int = 0) -> None:
    """``forward(x, rng)`` depends only on the seed of ``rng`` (not on torch's global RNG);
    when it draws from ``rng``, two seeds give different measurements."""
    x = random_images(batch, image_shape, seed=seed)
    with torch.no_grad():
        with global_rng_scrambled(1):
            first = op(x, rng=seeded(seed))
        with global_rng_scrambled(2):
            again = op(x, rng=seeded(seed))
        if not torch.equal(first, again):
            raise AssertionError(
                "forward(x, rng) gave different measurements for the same seed: the noise must be "
                "drawn only from the rng (torch.Generator) passed in, never from torch's global RNG"
            )
        assert_finite(first, "forward(x, rng)")
        if _draws_from(op, x, seed) and torch.equal(first, op(x, rng=seeded(seed + 1))):
            raise AssertionError(
                "forward(x, rng) draws noise from the rng, but two different seeds gave "
                "identical measurements"
            )


def check_dtype_move(op: Operator, image_shape: ImageShape, *, batch: int = 2, seed: int = 0, tol: float = 1e-4) -> None:
    """After ``.to(torch.float64)``, ``A`` (and ``A_adjoint``) compute in float64 and agree with float32."""
    op64 = moved(op, dtype=torch.float64)
    x = random_images(batch, image_shape, seed=seed)
    with torch.no_grad():
        ax, ax64 = op.A(x), op64.A(x.double())
        _check_double(ax64, "A(x) after .to(torch.float64)")
        assert_close(ax64, ax, tol, "A(x) in float64 against float32")
        if op.linear:
            y = random_like(ax, seed=seed + 1)
            aty64 = op64.A_adjoint(y.to(ax64.dtype))
            _check_double(aty64, "A_adjoint(y) after .to(torch.float64)")
            assert_close(aty64, op.A_adjoint(y), tol, "A_adjoint(y) in float64 against float32")


def check_device_move(
    op: Operator, image_shape: ImageShape, *, device: str = "cuda", batch: int = 2, seed: int = 0, tol: float = 1e-3
) -> None:
    """After ``.to(device)`` the operator computes on ``device`` and agrees with the CPU, noise
    included: ``forward(x, rng)`` with a CPU ``rng`` gives the CPU's measurement for one seed.

    The tolerance allows for TF32 convolutions and matrix products on CUDA.
    """
    moved_op = moved(op, device=device)
    x = random_images(batch, image_shape, seed=seed)
    with torch.no_grad():
        ax = op.A(x)
        on_device = moved_op.A(x.to(device))
        if on_device.device.type != torch.device(device).type:
            raise AssertionError(f"A(x) for x on {device} returned a tensor on {on_device.device}")
        assert_close(on_device.cpu(), ax, tol, f"A(x) on {device} against the CPU")
        if op.linear:
            y = random_like(ax, seed=seed + 1)
            assert_close(moved_op.A_adjoint(y.to(device)).cpu(), op.A_adjoint(y), tol, f"A_adjoint(y) on {device}")
        observed = moved_op(x.to(device), rng=seeded(seed))
        assert_finite(observed, f"forward(x, rng) on {device}")
        assert_close(
            observed.cpu(), op(x, rng=seeded(seed)), tol,
            f"forward(x, rng) on {device} against the CPU with one seed (draw noise on the rng's device, "
            "the CPU, then move it: invprob.seeding.randn)",
        )


def check_state_round_trip(
    op: Operator, rebuild: Callable[[], Operator], image_shape: ImageShape, *, batch: int = 2, seed: int = 0,
    tol: float = 1e-6,
) -> None:
    """``state_dict`` saved with safetensors and loaded into ``rebuild()`` reproduces ``A``.

    ``rebuild`` should build the operator from the same params but a different seed, so that
    anything random the operator keeps outside its buffers is caught.
    """
    from safetensors.torch import load_file, save_file

    state = op.state_dict()
    not_tensors = sorted(key for key, value in state.items() if not isinstance(value, torch.Tensor))
    if not_tensors:
        raise AssertionError(f"state_dict entries {not_tensors} are not tensors and cannot be saved as safetensors")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "operator.safetensors"
        save_file({key: value.detach().cpu().contiguous().clone() for key, value in state.items()}, str(path))
        loaded = load_file(str(path))
    fresh = rebuild()
    try:
        fresh.load_state_dict(loaded, strict=True)
    except RuntimeError as exc:
        raise AssertionError(f"the saved state does not load into a freshly built operator: {exc}") from exc
    x = random_images(batch, image_shape, seed=seed)
    with torch.no_grad():
        assert_close(
            fresh.A(x), op.A(x), tol,
            "A(x) of a rebuilt operator (different seed) after load_state_dict, against the original; "
            "keep everything A depends on in buffers",
        )


def _draws_from(op: Operator, x: torch.Tensor, seed: int) -> bool:
    """Whether ``forward`` consumes random numbers from the ``rng`` it is given (a noise model
    that is deterministic, like real JPEG compression, does not)."""
    rng = seeded(seed)
    before = rng.get_state()
    op(x, rng=rng)
    return not torch.equal(rng.get_state(), before)


def _gpu_mark() -> Callable:
    """``pytest.mark.gpu``, without the unknown-mark warning when this module is imported
    before the plugin registers the marker (and a no-op under ``--strict-markers`` then)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
        try:
            return pytest.mark.gpu
        except pytest.fail.Exception:
            return lambda function: function


class OperatorConformance(ConformanceSuite):
    """The operator suite: subclass it and set ``distribution`` (see :mod:`invprob.testing.suite`).

    Linear operators (``linear = True``) get the adjoint checks; differentiable ones
    (``differentiable = True``) the autograd check.
    """

    kind = "operators"
    expected_type = Operator

    def _linear(self, case: ComponentCase) -> Operator:
        op = self.build(case)
        if not op.linear:
            pytest.skip(f"{case.name} is not linear: it has no adjoint")
        return op

    def test_adjointness_float32(self, case: ComponentCase) -> None:
        check_adjointness(self._linear(case), case.image_shape, dtype=torch.float32, batch=self.batch_size)

    def test_adjointness_float64(self, case: ComponentCase) -> None:
        check_adjointness(self._linear(case), case.image_shape, dtype=torch.float64, batch=self.batch_size)

    def test_adjoint_matches_autograd(self, case: ComponentCase) -> None:
        op = self._linear(case)
        if not op.differentiable:
            pytest.skip(f"{case.name} is not differentiable")
        check_adjoint_matches_autograd(op, case.image_shape, batch=self.batch_size)

    def test_dense_matrix(self, case: ComponentCase) -> None:
        op = self._linear(case)
        if math.prod(case.image_shape) > DENSE_MATRIX_MAX_SIZE:
            pytest.skip(f"image shape {case.image_shape} is too large for the dense-matrix check")
        check_dense_matrix(op, case.image_shape, batch=self.batch_size)

    def test_batch_consistency(self, case: ComponentCase) -> None:
        check_batch_consistency(self.build(case), case.image_shape)

    def test_noise_is_seeded(self, case: ComponentCase) -> None:
        check_noise_is_seeded(self.build(case), case.image_shape, batch=self.batch_size)

    def test_dtype_move_to_float64(self, case: ComponentCase) -> None:
        check_dtype_move(self.build(case), case.image_shape, batch=self.batch_size)

    @_gpu_mark()
    def test_device_move_to_cuda(self, case: ComponentCase) -> None:
        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA device")
        check_device_move(self.build(case), case.image_shape, batch=self.batch_size)

    def test_state_round_trip_through_safetensors(self, case: ComponentCase) -> None:
        op = self.build(case, seed=0)
        check_state_round_trip(op, lambda: self.build(case, seed=1), case.image_shape, batch=self.batch_size)


def _check_double(value: torch.Tensor, what: str) -> None:
    if value.dtype not in (torch.float64, torch.complex128):
        raise AssertionError(f"{what} has dtype {value.dtype}, not float64: the operator ignores its dtype")


__all__ = [
    "OperatorConformance",
    "check_adjointness",
    "check_adjoint_matches_autograd",
    "check_batch_consistency",
    "check_dense_matrix",
    "check_device_move",
    "check_dtype_move",
    "check_noise_is_seeded",
    "check_state_round_trip",
    "dense_matrix",
]
