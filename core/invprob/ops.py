"""The core's ``torch.library`` custom ops: the contract between components and kernel plugins.

Each op here has a plain-torch kernel that runs on every device, a fake kernel (shapes only,
for ``torch.compile`` and meta tensors) and autograd. Components call the ops; a kernel plugin
replaces the kernel for one device type from its ``invprob_setup_runtime(device)`` hook with
:func:`register_kernel`, and every caller speeds up with no change. Op names are exported as
constants, so a plugin never spells them by hand::

    from invprob import hookimpl, ops

    @hookimpl
    def invprob_setup_runtime(device):
        if device.type == "cuda":
            ops.register_kernel(ops.CIRCULANT_SENSE, "cuda", fused_circulant_sense)

Partial circulant sensing with random signs, ``y = S_m C_g D x`` (ILO, section 3.4):

- ``invprob::circulant_sense(x, g_fft, signs, rows, m)``: ``[..., n] -> [..., m]``
- ``invprob::circulant_sense_adjoint(y, g_fft, signs, rows)``: ``[..., m] -> [..., n]``

Autograd: each op's backward is the other op, so double backward works too.

Euclidean projection onto an l1 ball around a centre (ILO, line 4 of Algorithm 1; Duchi et al.,
ICML 2008, the sort-based exact method):

- ``invprob::project_l1_ball(v, centre, radius)``: ``[B, ...] -> [B, ...]``, row ``b`` (all of
  ``v[b]``, flattened) projected onto ``{u : ||u - centre[b]||_1 <= radius}``.

See :func:`_project_l1_ball_reference` for the maths; its autograd is the Jacobian of the
projection (identity inside the ball, the active-set formula outside).

Convention. ``g`` is the **first row** of the ``n x n`` circulant matrix ``C_g``:

    C_g[i, j] = g[(j - i) mod n]          (C_g = scipy.linalg.circulant(g).T)

so ``(C_g v)[i] = sum_j g[(j - i) mod n] v[j]`` is the circular cross-correlation of ``v``
with ``g``; in Fourier, with ``G = rfft(g)`` computed once,

    C_g v   = irfft(conj(G) * rfft(v), n)
    C_g^T w = irfft(G * rfft(w), n)       (C_g^T = scipy.linalg.circulant(g): convolution)

``D = diag(signs)`` with ``signs`` in {-1, +1}^n and ``S_m`` keeps the entries ``rows`` (an
int64 index tensor of length m) or, when ``rows`` is None, the first ``m``. The adjoint is
``D C_g^T S_m^T``, where ``S_m^T`` scatters ``y`` into zeros of length ``n``. Both ops refuse
(``ValueError``) ``m > n`` without ``rows``, ``rows`` whose length is not ``m`` or that index
outside ``[0, n)``, and **repeated rows** (their ``S_m^T`` would have to add, and an operator
that measures one entry twice is a mistake here, not a design).

``g_fft`` is ``torch.view_as_real(rfft(g))``, shape ``[n // 2 + 1, 2]``: a real tensor, so
that ``Module.to(dtype)`` converts it like every other buffer. Memory is O(n): the input,
its half spectrum and the output. All leading dimensions are batch dimensions.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Optional

import torch
from torch import Tensor

CIRCULANT_SENSE = "invprob::circulant_sense"
CIRCULANT_SENSE_ADJOINT = "invprob::circulant_sense_adjoint"
PROJECT_L1_BALL = "invprob::project_l1_ball"


def spectrum_of_first_row(g: Tensor) -> Tensor:
    """``view_as_real(rfft(g))``: the stored form of ``C_g`` for the circulant ops."""
    return torch.view_as_real(torch.fft.rfft(g)).clone()


def _spectrum(g_fft: Tensor, dtype: torch.dtype) -> Tensor:
    return torch.view_as_complex(g_fft.to(dtype).contiguous())


def check_sensed_rows(rows: Optional[Tensor], m: int, n: int) -> None:
    """A ``ValueError`` unless ``S_m`` is a selection of ``m`` distinct entries of ``n``."""
    if rows is None:
        if not 0 <= m <= n:
            raise ValueError(f"circulant_sense: m = {m} measurements of n = {n} entries without rows; need 0 <= m <= n")
        return
    if rows.dim() != 1 or rows.numel() != m:
        raise ValueError(f"circulant_sense: rows must be a 1-d index tensor of length m = {m}, got shape {tuple(rows.shape)}")
    if m == 0:
        return
    if int(rows.min()) < 0 or int(rows.max()) >= n:
        raise ValueError(f"circulant_sense: rows must lie in [0, {n}), got {int(rows.min())}..{int(rows.max())}")
    if torch.unique(rows).numel() != m:
        raise ValueError("circulant_sense: repeated rows are not supported (each measured entry must be distinct)")


def _circulant_sense_reference(x: Tensor, g_fft: Tensor, signs: Tensor, rows: Optional[Tensor], m: int) -> Tensor:
    """``S_m C_g D x`` over the last dimension of ``x`` (length ``n = signs.numel()``)."""
    n = signs.shape[-1]
    check_sensed_rows(rows, m, n)
    spectrum = torch.fft.rfft(x * signs.to(x.dtype), n=n)
    # conj_physical, not the lazy .conj(): the lazy conjugate bit is dropped when the kernel
    # runs under AOTAutograd (torch.compile), which silently turns correlation into convolution.
    full = torch.fft.irfft(spectrum * torch.conj_physical(_spectrum(g_fft, x.dtype)), n=n)
    kept = full[..., :m] if rows is None else full.index_select(-1, rows)
    return kept.contiguous()


circulant_sense = torch.library.custom_op(CIRCULANT_SENSE, _circulant_sense_reference, mutates_args=())


@circulant_sense.register_fake
def _circulant_sense_fake(x: Tensor, g_fft: Tensor, signs: Tensor, rows: Optional[Tensor], m: int) -> Tensor:
    return x.new_empty((*x.shape[:-1], m))


def _circulant_sense_adjoint_reference(y: Tensor, g_fft: Tensor, signs: Tensor, rows: Optional[Tensor]) -> Tensor:
    """``D C_g^T S_m^T y``: the adjoint of ``circulant_sense``, ``[..., m] -> [..., n]``."""
    n = signs.shape[-1]
    m = y.shape[-1]
    check_sensed_rows(rows, m, n)
    padded = y.new_zeros((*y.shape[:-1], n))
    if rows is None:
        padded[..., :m] = y
    else:
        padded.index_copy_(-1, rows, y)
    spectrum = torch.fft.rfft(padded, n=n)
    return torch.fft.irfft(spectrum * _spectrum(g_fft, y.dtype), n=n) * signs.to(y.dtype)


circulant_sense_adjoint = torch.library.custom_op(
    CIRCULANT_SENSE_ADJOINT, _circulant_sense_adjoint_reference, mutates_args=()
)


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


# -- projection onto an l1 ball --------------------------------------------------------


def _project_l1_ball_reference(v: Tensor, centre: Tensor, radius: float) -> Tensor:
    """Row by row, the point of ``{u : ||u - centre||_1 <= radius}`` nearest to ``v`` (l2).

    The first dimension indexes the rows (one ball each); the others are flattened into the
    row. With ``d = v - centre`` and ``a = |d|`` sorted in decreasing order (``mu``), the
    projection (Duchi et al. 2008, fig. 1) is

        rho   = max{ j : mu_j - (sum_{i<=j} mu_i - radius) / j > 0 }
        theta = (sum_{i<=rho} mu_i - radius) / rho
        P(v)  = centre + sign(d) * max(a - theta, 0)

    for the rows outside the ball; a row inside it (``||d||_1 <= radius``) is returned
    unchanged (exactly ``v``). ``radius = 0`` gives ``centre``. Every row is handled at once
    (a sort, a cumulative sum, a gather and ``torch.where``): no data-dependent branch, no
    read back to the host. The result is a new tensor.
    """
    if radius < 0:
        raise ValueError(f"the l1 ball needs radius >= 0, got {radius}")
    if v.dim() == 0:
        raise ValueError("project_l1_ball projects rows: v needs a leading (row) dimension")
    if centre.shape != v.shape:
        raise ValueError(f"the centre must have the shape of v, {tuple(v.shape)}; got {tuple(centre.shape)}")
    rows = v.shape[0]
    difference = (v - centre).reshape(rows, -1)
    if difference.shape[1] == 0:
        return v.clone()
    magnitude = difference.abs()
    inside = magnitude.sum(dim=1, keepdim=True) <= radius
    sorted_magnitude = magnitude.sort(dim=1, descending=True).values
    cumulative = sorted_magnitude.cumsum(dim=1)
    count = torch.arange(1, difference.shape[1] + 1, device=v.device, dtype=v.dtype)
    active = sorted_magnitude * count > cumulative - radius  # mu_j - (S_j - r) / j > 0, without a division
    rho = active.sum(dim=1, keepdim=True).clamp(min=1)  # the condition holds on a prefix
    theta = (cumulative.gather(1, rho - 1) - radius) / rho.to(v.dtype)
    projected = centre.reshape(rows, -1) + difference.sign() * (magnitude - theta).clamp(min=0)
    return torch.where(inside, v.reshape(rows, -1), projected).reshape(v.shape)


project_l1_ball = torch.library.custom_op(PROJECT_L1_BALL, _project_l1_ball_reference, mutates_args=())


@project_l1_ball.register_fake
def _project_l1_ball_fake(v: Tensor, centre: Tensor, radius: float) -> Tensor:
    return torch.empty_like(v)


def _save_projection(ctx, inputs, output) -> None:
    v, centre, radius = inputs
    ctx.save_for_backward(v, centre, output)
    ctx.radius = radius


def _project_l1_ball_backward(ctx, grad: Tensor):
    """The Jacobian of the projection applied to ``grad`` (it is symmetric).

    Inside the ball it is the identity. Outside, with the active set ``S = {i : P(v)_i !=
    centre_i}`` and ``s = sign(v - centre)``, ``P(v)_i = v_i - s_i theta`` on ``S`` (0 off it)
    with ``theta = (sum_S |d_j| - radius) / |S|``, so ``J = diag(1_S) - s_S s_S^T / |S|``.
    The centre's gradient is ``grad - J grad`` (``P`` depends on ``v - centre``, plus centre).
    """
    v, centre, output = ctx.saved_tensors
    rows = v.shape[0]
    difference = (v - centre).reshape(rows, -1)
    flat_grad = grad.reshape(rows, -1)
    inside = difference.abs().sum(dim=1, keepdim=True) <= ctx.radius
    active = (output - centre).reshape(rows, -1) != 0
    sign = difference.sign() * active
    size = active.sum(dim=1, keepdim=True).clamp(min=1).to(grad.dtype)
    kept = flat_grad * active
    outside_grad = kept - sign * (kept * sign).sum(dim=1, keepdim=True) / size
    grad_v = torch.where(inside, flat_grad, outside_grad).reshape(v.shape)
    return grad_v, grad - grad_v, None


project_l1_ball.register_autograd(_project_l1_ball_backward, setup_context=_save_projection)


# -- kernels from plugins ----------------------------------------------------------------

_REFERENCE: dict[str, Callable[..., Tensor]] = {
    CIRCULANT_SENSE: _circulant_sense_reference,
    CIRCULANT_SENSE_ADJOINT: _circulant_sense_adjoint_reference,
    PROJECT_L1_BALL: _project_l1_ball_reference,
}

OPS: tuple[str, ...] = tuple(_REFERENCE)
"""Every op the core defines, by its qualified name."""

_overrides: dict[tuple[str, str], list[Callable[..., Tensor]]] = {}


class KernelRegistration:
    """A kernel registered with :func:`register_kernel`; :meth:`remove` undoes it.

    Also a context manager (the registration ends with the block), for tests.
    """

    def __init__(self, op_name: str, device_type: str, fn: Callable[..., Tensor]):
        self.op_name = op_name
        self.device_type = device_type
        self.fn = fn

    def remove(self) -> None:
        """Dispatch to the kernel registered before this one (at first, the plain-torch one)."""
        stack = _overrides.get((self.op_name, self.device_type), [])
        if self.fn not in stack:
            return
        stack.remove(self.fn)
        previous = stack[-1] if stack else _REFERENCE[self.op_name]
        torch.library.register_kernel(self.op_name, self.device_type, previous)

    def __enter__(self) -> KernelRegistration:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


def _check_op_name(op_name: str) -> None:
    if op_name not in _REFERENCE:
        close = difflib.get_close_matches(op_name, OPS, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(
            f"{op_name!r} is not an op of invprob.ops; {hint}the core's ops are: {', '.join(OPS)} "
            "(use the constants, e.g. invprob.ops.CIRCULANT_SENSE)"
        )


def reference_kernel(op_name: str) -> Callable[..., Tensor]:
    """The plain-torch kernel of ``op_name``, whatever is registered: to fall back to (a dtype
    a fast kernel does not handle) and to compare against in a kernel plugin's tests."""
    _check_op_name(op_name)
    return _REFERENCE[op_name]


def register_kernel(op_name: str, device_type: str, fn: Callable[..., Tensor]) -> KernelRegistration:
    """Make ``fn`` the kernel of the core op ``op_name`` for tensors on ``device_type``.

    ``op_name`` is one of :data:`OPS` (use the constants, e.g. :data:`CIRCULANT_SENSE`);
    ``device_type`` is a torch device type (``"cuda"``, ``"cpu"``...); ``fn`` takes the op's
    arguments and returns what its plain-torch kernel returns. Autograd and the fake kernel
    stay the core's. A name that is not a core op is a ``ValueError`` (a registration under a
    misspelled name would otherwise never be dispatched). Call it from a plugin's
    ``invprob_setup_runtime(device)`` hook.
    """
    _check_op_name(op_name)
    torch.library.register_kernel(op_name, device_type, fn)
    _overrides.setdefault((op_name, device_type), []).append(fn)
    return KernelRegistration(op_name, device_type, fn)


__all__ = [
    "CIRCULANT_SENSE",
    "CIRCULANT_SENSE_ADJOINT",
    "OPS",
    "PROJECT_L1_BALL",
    "KernelRegistration",
    "check_sensed_rows",
    "circulant_sense",
    "circulant_sense_adjoint",
    "project_l1_ball",
    "reference_kernel",
    "register_kernel",
    "spectrum_of_first_row",
]
