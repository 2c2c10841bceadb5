"""The compiled kernels behind the core's op signatures (``invprob.ops``).

Each function takes exactly the arguments of its op and returns what the op's plain-torch
kernel returns; float32 inputs go to the compiled kernel, anything else (float64 for
gradcheck, half precision) to the plain-torch kernel, so registering these never narrows what
the op accepts. The device of the input is made current and torch's current stream is passed
on, so the kernels order with everything else on that stream.

Before any launch the sensing wrappers check what the kernels trust (:func:`check_sensing`):
``g_fft``'s length, ``m``, and that ``rows`` are in range and distinct (the core op refuses
repeated rows too). Checking ``rows`` reads them back to the host once per rows tensor: the
result is remembered for that tensor object until it is modified, so the calls of an
optimisation loop, which reuse one rows buffer, stay free of host synchronisation.
"""

from __future__ import annotations

import weakref
from types import ModuleType
from typing import Optional

import torch
from torch import Tensor

from invprob import ops


def _stream(device: torch.device) -> int:
    return torch.cuda.current_stream(device).cuda_stream


_checked_rows: dict[int, tuple[weakref.ref, int, int]] = {}


def _check_rows(rows: Tensor, n: int, m: int) -> None:
    """``rows``: m distinct int64 indices in [0, n) (the messages are the core op's, with details)."""
    if rows.dim() != 1 or rows.numel() != m or rows.dtype != torch.int64:
        raise ValueError(
            f"circulant_sense: rows must be a 1-d int64 index tensor of length m = {m}, got shape "
            f"{tuple(rows.shape)}, dtype {rows.dtype}"
        )
    seen = _checked_rows.get(id(rows))
    if seen is not None and seen[0]() is rows and seen[1:] == (rows._version, n):
        return
    if m:
        low, high = int(rows.min()), int(rows.max())
        if low < 0 or high >= n:
            raise ValueError(f"circulant_sense: rows must lie in [0, {n}), got {low}..{high}")
        distinct = torch.unique(rows).numel()
        if distinct != m:
            counts = torch.bincount(rows, minlength=n)
            repeated = int(torch.argmax(counts))
            raise ValueError(
                "circulant_sense: repeated rows are not supported (each measured entry must be distinct): "
                f"index {repeated} appears {int(counts[repeated])} times, {m - distinct} repeats in all; "
                "pass m distinct indices, e.g. torch.randperm(n)[:m]"
            )
    key = id(rows)
    _checked_rows[key] = (weakref.ref(rows, lambda _ref, key=key: _checked_rows.pop(key, None)), rows._version, n)


def check_sensing(n: int, g_fft: Tensor, rows: Optional[Tensor], m: int) -> None:
    """Refuse, before any launch, what the sensing kernels would read or write out of bounds or
    race on: a ``g_fft`` that is not ``[n // 2 + 1, 2]``, ``m`` outside [0, n], ``rows`` out of
    range, of the wrong length or with repeats (as the core op does). One-line ``ValueError``."""
    half = n // 2 + 1
    if tuple(g_fft.shape) != (half, 2):
        raise ValueError(
            f"circulant_sense: g_fft must be view_as_real(rfft(g)) of shape [n // 2 + 1, 2] = [{half}, 2] for "
            f"n = {n}, got {tuple(g_fft.shape)} (make it with invprob.ops.spectrum_of_first_row(g))"
        )
    if rows is None:
        if not 0 <= m <= n:
            raise ValueError(f"circulant_sense: m = {m} measurements of n = {n} entries without rows; need 0 <= m <= n")
        return
    _check_rows(rows, n, m)


def make_kernels(extension: ModuleType) -> dict[str, object]:
    """``{op name: kernel}`` for :func:`invprob.ops.register_kernel`, calling ``extension``."""
    sense_reference = ops.reference_kernel(ops.CIRCULANT_SENSE)
    adjoint_reference = ops.reference_kernel(ops.CIRCULANT_SENSE_ADJOINT)
    project_reference = ops.reference_kernel(ops.PROJECT_L1_BALL)

    def circulant_sense(x: Tensor, g_fft: Tensor, signs: Tensor, rows: Optional[Tensor], m: int) -> Tensor:
        if x.dtype != torch.float32:
            return sense_reference(x, g_fft, signs, rows, m)
        check_sensing(signs.shape[-1], g_fft, rows, m)
        with torch.cuda.device(x.device):
            return extension.circulant_sense(x.contiguous(), g_fft.float().contiguous(), signs.float().contiguous(),
                                             None if rows is None else rows.contiguous(), m, _stream(x.device))  # fmt: skip

    def circulant_sense_adjoint(y: Tensor, g_fft: Tensor, signs: Tensor, rows: Optional[Tensor]) -> Tensor:
        if y.dtype != torch.float32:
            return adjoint_reference(y, g_fft, signs, rows)
        check_sensing(signs.shape[-1], g_fft, rows, y.shape[-1])
        with torch.cuda.device(y.device):
            return extension.circulant_sense_adjoint(y.contiguous(), g_fft.float().contiguous(),
                                                     signs.float().contiguous(),
                                                     None if rows is None else rows.contiguous(), _stream(y.device))  # fmt: skip

    def project_l1_ball(v: Tensor, centre: Tensor, radius: float) -> Tensor:
        if v.dtype != torch.float32 or centre.dtype != torch.float32 or v.dim() == 0 or radius < 0:
            return project_reference(v, centre, radius)  # the reference also raises the clear errors
        with torch.cuda.device(v.device):
            return extension.project_l1_ball(v.contiguous(), centre.contiguous(), float(radius), _stream(v.device))

    return {
        ops.CIRCULANT_SENSE: circulant_sense,
        ops.CIRCULANT_SENSE_ADJOINT: circulant_sense_adjoint,
        ops.PROJECT_L1_BALL: project_l1_ball,
    }
