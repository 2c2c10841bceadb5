"""Partial circulant sensing with random signs, ``y = S_m C_g D x`` (ILO, section 3.4).

The maths of the ``cs-circulant`` operator lives here and only here, as two
``torch.library`` custom ops with a plain-torch kernel for every device:

- ``invprob::circulant_sense(x, g_fft, signs, rows, m)``: ``[..., n] -> [..., m]``
- ``invprob::circulant_sense_adjoint(y, g_fft, signs, rows)``: ``[..., m] -> [..., n]``

A CUDA plugin overrides them with ``torch.library.register_kernel("invprob::circulant_sense",
"cuda", ...)``; every caller (the operator, hence every solver) speeds up with no change.
Autograd (each op's backward is the other op) and fake/meta kernels are registered, so the
ops work under ``torch.compile``; ``torch.library.opcheck`` checks them in the tests.

Convention. ``g`` is the **first row** of the ``n x n`` circulant matrix ``C_g``:

    C_g[i, j] = g[(j - i) mod n]          (C_g = scipy.linalg.circulant(g).T)

so ``(C_g v)[i] = sum_j g[(j - i) mod n] v[j]`` is the circular cross-correlation of ``v``
with ``g``; in Fourier, with ``G = rfft(g)`` computed once,

    C_g v   = irfft(conj(G) * rfft(v), n)
    C_g^T w = irfft(G * rfft(w), n)       (C_g^T = scipy.linalg.circulant(g): convolution)

``D = diag(signs)`` with ``signs`` in {-1, +1}^n and ``S_m`` keeps the entries ``rows`` (an
int64 index tensor of length m) or, when ``rows`` is None, the first ``m``. The adjoint is
``D C_g^T S_m^T``, where ``S_m^T`` scatters ``y`` into zeros of length ``n``.

``g_fft`` is ``torch.view_as_real(rfft(g))``, shape ``[n // 2 + 1, 2]``: a real tensor, so
that ``Module.to(dtype)`` converts it like every other buffer. Memory is O(n): the input,
its half spectrum and the output. All leading dimensions are batch dimensions.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def spectrum_of_first_row(g: Tensor) -> Tensor:
    """``view_as_real(rfft(g))``: the stored form of ``C_g`` for the ops below."""
    return torch.view_as_real(torch.fft.rfft(g)).clone()


def _spectrum(g_fft: Tensor, dtype: torch.dtype) -> Tensor:
    return torch.view_as_complex(g_fft.to(dtype).contiguous())


@torch.library.custom_op("invprob::circulant_sense", mutates_args=())
def circulant_sense(x: Tensor, g_fft: Tensor, signs: Tensor, rows: Optional[Tensor], m: int) -> Tensor:
    """``S_m C_g D x`` over the last dimension of ``x`` (length ``n = signs.numel()``)."""
    n = signs.shape[-1]
    spectrum = torch.fft.rfft(x * signs.to(x.dtype), n=n)
    # conj_physical, not the lazy .conj(): the lazy conjugate bit is dropped when the kernel
    # runs under AOTAutograd (torch.compile), which silently turns correlation into convolution.
    full = torch.fft.irfft(spectrum * torch.conj_physical(_spectrum(g_fft, x.dtype)), n=n)
    kept = full[..., :m] if rows is None else full.index_select(-1, rows)
    return kept.contiguous()


@circulant_sense.register_fake
def _circulant_sense_fake(x: Tensor, g_fft: Tensor, signs: Tensor, rows: Optional[Tensor], m: int) -> Tensor:
    return x.new_empty((*x.shape[:-1], m))


@torch.library.custom_op("invprob::circulant_sense_adjoint", mutates_args=())
def circulant_sense_adjoint(y: Tensor, g_fft: Tensor, signs: Tensor, rows: Optional[Tensor]) -> Tensor:
    """``D C_g^T S_m^T y``: the adjoint of :func:`circulant_sense`, ``[..., m] -> [..., n]``."""
    n = signs.shape[-1]
    m = y.shape[-1]
    padded = y.new_zeros((*y.shape[:-1], n))
    if rows is None:
        padded[..., :m] = y
    else:
        padded.index_copy_(-1, rows, y)
    spectrum = torch.fft.rfft(padded, n=n)
    return torch.fft.irfft(spectrum * _spectrum(g_fft, y.dtype), n=n) * signs.to(y.dtype)


@circulant_sense_adjoint.register_fake
def _circulant_sense_adjoint_fake(y: Tensor, g_fft: Tensor, signs: Tensor, rows: Optional[Tensor]) -> Tensor:
    return y.new_empty((*y.shape[:-1], signs.shape[-1]))


def _save_operator(ctx, inputs, output) -> None:
    _, g_fft, signs, rows = inputs[:4]
    ctx.save_for_backward(g_fft, signs, rows)


def _sense_backward(ctx, grad: Tensor):
    g_fft, signs, rows = ctx.saved_tensors
    return circulant_sense_adjoint(grad, g_fft, signs, rows), None, None, None, None


def _adjoint_backward(ctx, grad: Tensor):
    g_fft, signs, rows = ctx.saved_tensors
    return circulant_sense(grad, g_fft, signs, rows, ctx.m), None, None, None


def _save_operator_and_m(ctx, inputs, output) -> None:
    _save_operator(ctx, inputs, output)
    ctx.m = inputs[0].shape[-1]


circulant_sense.register_autograd(_sense_backward, setup_context=_save_operator)
circulant_sense_adjoint.register_autograd(_adjoint_backward, setup_context=_save_operator_and_m)
