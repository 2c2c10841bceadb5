"""numpy models of the CUDA kernels' arithmetic, so that the CPU can check what the GPU will do.

:func:`project_l1_ball` follows ``csrc/l1_ball.cu`` step by step: the same grid (parts per row,
threads, which thread reads which element), the same float32 element arithmetic, the same
float64 sums in the same order (each thread in index order, the warp's shuffle tree, warps in
order, the row's parts by one block in a fixed order), the same cut placement on bit patterns,
pass counts and fixed-point steps. :func:`circulant_sense` and :func:`circulant_sense_adjoint`
follow ``csrc/circulant.cu``: the padded real layout of the in-place R2C/C2R spectrum buffer,
the float32 spectrum multiply with the 1/n folded in, gather/scatter of the kept rows (the FFTs
themselves are torch's CPU float32 FFTs standing in for cuFFT's). Change a kernel and its model
together: the CPU tests check the models against exact references on adversarial inputs.

:func:`check_projection` is the exactness check shared by the CPU tests (on the model) and the
GPU tests (on the kernel); :func:`l1_adversarial_cases` are the inputs both use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

THREADS = 256
WARPS = THREADS // 32
CUTS = 32
BISECTION_PASSES = 7
FIXED_POINT_PASSES = 2
ELEMENTS_PER_THREAD = 8
MAX_PARTS = 1024
EPS32 = float(np.finfo(np.float32).eps)
EPS64 = float(np.finfo(np.float64).eps)


def parts_per_row(length: int) -> int:
    """Blocks per row of the element kernels (``parts_per_row`` in l1_ball.cu)."""
    return max(1, min(MAX_PARTS, -(-length // (THREADS * ELEMENTS_PER_THREAD))))


def _warp_tree(values: np.ndarray) -> np.ndarray:
    """Lane 0's sum after ``__shfl_down_sync`` by 16, 8, 4, 2, 1: ``values[..., 32, S] -> [..., S]``."""
    v = values.astype(np.float64, copy=True)
    for offset in (16, 8, 4, 2, 1):
        v[..., :offset, :] = v[..., :offset, :] + v[..., offset : 2 * offset, :]
    return v[..., 0, :]


def _block_totals(per_thread: np.ndarray, max_slot: int = -1) -> np.ndarray:
    """``block_totals``: per-thread values ``[blocks * THREADS, S]`` -> per-block ``[blocks, S]``:
    each warp's shuffle tree, then the warps added in order (fmax for ``max_slot``)."""
    slots = per_thread.shape[-1]
    warps = per_thread.reshape(-1, WARPS, 32, slots)
    sums = _warp_tree(warps)  # [blocks, WARPS, S]
    total = sums[:, 0, :].copy()
    for w in range(1, WARPS):
        total = total + sums[:, w, :]
    if max_slot >= 0:  # a maximum is exact in any order
        total[:, max_slot] = warps[..., max_slot].max(axis=(1, 2))
    return total


def _row_totals(partials: np.ndarray, max_slot: int = -1) -> np.ndarray:
    """``row_totals``: a row's per-part values ``[parts, S]`` -> ``[S]``: lane l adds parts l, l + 32, ...
    in order (zeros past the end change nothing), then the warp's tree (fmax for ``max_slot``)."""
    parts, slots = partials.shape
    padded = np.zeros((-(-parts // 32) * 32, slots))
    padded[:parts] = partials
    lanes = np.zeros((32, slots))
    for chunk in padded.reshape(-1, 32, slots):
        lanes = lanes + chunk
    out = _warp_tree(lanes[None])[0]
    if max_slot >= 0:
        out[max_slot] = partials[:, max_slot].max()
    return out


class _Row:
    """One row as the element kernels see it: thread ``j = part * THREADS + tid`` reads the
    elements ``j, j + parts * THREADS, ...`` (``threads`` = parts * THREADS, or THREADS alone
    for the one-block completion kernel)."""

    def __init__(self, a: np.ndarray, threads: int):
        self.threads = threads
        steps = -(-a.size // threads)
        padded = np.zeros(steps * threads, dtype=np.float32)
        padded[: a.size] = a
        valid = np.zeros(steps * threads, dtype=bool)
        valid[: a.size] = True
        self.a = padded.reshape(steps, threads)
        self.valid = valid.reshape(steps, threads)

    def accumulate(self, terms) -> np.ndarray:
        """Per-thread float64 sums, in each thread's index order, of ``terms(a_step, valid_step)``."""
        acc = None
        for a, valid in zip(self.a, self.valid):
            term = np.asarray(terms(a, valid), dtype=np.float64)
            acc = term if acc is None else acc + term
        return acc


@dataclass
class ProjectionTrace:
    """What the model of one row did: the threshold, its active set's size, the steps taken."""

    theta: float = 0.0
    inside: bool = False
    bracket_bits: tuple[int, int] = (0, 0)
    grid_fixed_point_steps: int = 0
    completion_steps: int = 0
    counts: list[float] = field(default_factory=list)


def _cut_bits(lo: int, hi: int, k: int) -> int:
    return lo + ((hi - lo) * k) // CUTS


def _bits_to_float(bits: int) -> np.float32:
    return np.array([bits], dtype=np.uint32).view(np.float32)[0]


def _float_to_bits(value: float) -> int:
    return int(np.array([value], dtype=np.float32).view(np.uint32)[0])


def _active_sums(row: _Row, t: float) -> np.ndarray:
    """``partial_active``'s per-thread sum and count of the a > t: ``[threads, 2]``."""
    active = lambda a, ok: ok & (a.astype(np.float64) > t)  # noqa: E731
    return np.stack([row.accumulate(lambda a, ok: np.where(active(a, ok), a, 0.0)),
                     row.accumulate(lambda a, ok: np.where(active(a, ok), 1.0, 0.0))], axis=-1)  # fmt: skip


def _fixed_point_step(trace: ProjectionTrace, state: dict, total: float, count: float, radius: float) -> bool:
    """``fixed_point_step``: True when the row is done."""
    trace.counts.append(count)
    if count == state["count"] or count == 0.0:
        return True
    nxt = (total - radius) / count
    state["t"] = nxt if state["count"] < 0 else max(state["t"], nxt)
    state["count"] = count
    return False


def project_row(a: np.ndarray, radius: float) -> ProjectionTrace:
    """The threshold the kernel finds for one row of magnitudes ``a`` (float32), and its trace."""
    a = np.asarray(a, dtype=np.float32)
    parts = parts_per_row(a.size)
    row = _Row(a, parts * THREADS)
    trace = ProjectionTrace()
    # stage 1: norms
    per_thread = np.stack([row.accumulate(lambda x, ok: x), np.zeros(row.threads)], axis=-1)
    per_thread[:, 1] = np.where(row.valid, row.a, 0).max(axis=0)  # a max is exact in any order
    norm, peak = _row_totals(_block_totals(per_thread, max_slot=1), max_slot=1)
    if norm <= radius:
        trace.inside = True
        return trace
    lo, hi = 0, _float_to_bits(peak)
    # stage 2: bisection on bit patterns
    for _ in range(BISECTION_PASSES):
        cuts = np.array([_bits_to_float(_cut_bits(lo, hi, k)) for k in range(1, CUTS)], dtype=np.float32)
        sums = row.accumulate(lambda x, ok: np.where(ok[:, None] & (x[:, None] > cuts[None, :]), x[:, None], 0.0))
        counts = row.accumulate(lambda x, ok: ok[:, None] & (x[:, None] > cuts[None, :]))
        totals = _row_totals(_block_totals(np.concatenate([sums, counts], axis=1)))
        f = totals[: CUTS - 1] - cuts.astype(np.float64) * totals[CUTS - 1 :]
        first_below = next((k for k in range(1, CUTS) if f[k - 1] <= radius), CUTS)
        lo, hi = _cut_bits(lo, hi, first_below - 1), _cut_bits(lo, hi, first_below)
    trace.bracket_bits = (lo, hi)
    state = {"t": float(_bits_to_float(lo)), "count": -1.0}
    # stage 3: grid-wide fixed-point passes
    done = False
    for _ in range(FIXED_POINT_PASSES):
        trace.grid_fixed_point_steps += 1
        total, count = _row_totals(_block_totals(_active_sums(row, state["t"])))
        if _fixed_point_step(trace, state, total, count, radius):
            done = True
            break
    # stage 4: one block per unconfirmed row
    if not done:
        block = _Row(a, THREADS)
        while True:
            trace.completion_steps += 1
            total, count = _block_totals(_active_sums(block, state["t"]))[0]
            if _fixed_point_step(trace, state, total, count, radius):
                break
    trace.theta = state["t"]
    return trace


def project_l1_ball(v: np.ndarray, centre: np.ndarray, radius: float) -> tuple[np.ndarray, list[ProjectionTrace]]:
    """The kernel's output for float32 ``v`` and ``centre`` (rows along the first axis), and a
    trace per row."""
    v = np.asarray(v, dtype=np.float32)
    centre = np.asarray(centre, dtype=np.float32)
    flat_v, flat_c = v.reshape(v.shape[0], -1), centre.reshape(v.shape[0], -1)
    out = np.empty_like(flat_v)
    traces = []
    for b in range(flat_v.shape[0]):
        d = flat_v[b] - flat_c[b]
        trace = project_row(np.abs(d), radius)
        traces.append(trace)
        if trace.inside:
            out[b] = flat_v[b]
            continue
        shrunk = np.maximum(np.abs(d).astype(np.float64) - trace.theta, 0.0).astype(np.float32)
        out[b] = flat_c[b] + np.copysign(shrunk, d)
    return out.reshape(v.shape), traces


# -- the exactness check -------------------------------------------------------------------


def exact_threshold(a: np.ndarray, radius: float) -> tuple[float, np.ndarray]:
    """theta and the active set of magnitudes ``a`` (float64) for ``radius``: Duchi et al.'s
    sort-based rule (the core's reference kernel, in float64) picks the set, then the set's sum
    is correctly rounded (``math.fsum``), so theta carries one rounding of the sum and one of
    the division only."""
    a64 = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))[None]
    from invprob import ops

    projected = ops.reference_kernel(ops.PROJECT_L1_BALL)(a64, torch.zeros_like(a64), float(radius))[0].numpy()
    active = projected > 0
    if not active.any():  # radius 0 or ties at the top: theta = max a
        return float(a.max()), active
    theta = (math.fsum(a[active]) - radius) / int(active.sum())
    return theta, active


@dataclass
class ProjectionCheck:
    """The result of :func:`check_projection`: measured errors and, if any, what is not exact."""

    theta_error: float = 0.0
    theta_tolerance: float = 0.0
    l1_excess: float = 0.0
    problems: list[str] = field(default_factory=list)


def check_projection(v, centre, radius: float, out, theta: float | None = None) -> ProjectionCheck:
    """Is ``out`` (one float32 row) the exact projection of ``v`` onto the l1 ball of ``radius``
    around ``centre``, up to the roundings the kernel's arithmetic allows?

    The reference projects the kernel's own float32 differences ``d = v - centre`` (the kernel
    sees nothing else). Tolerances come from the kernel's summation order (see l1_ball.cu): the
    active set's sum S is formed with at most ``depth`` = (elements per thread) + 8 (warp
    and block trees) + ceil(parts / 32) + 5 (the row's reduction) sequential additions, so
    |dS| <= depth * eps64 * S and |d theta| <= (|dS| + eps64 * radius) / K + 2 eps64 theta;
    the output adds one float32 rounding of c + sign(d) (a - theta): eps32 (|c| + |a|).
    Elements of ``out`` must match the reference within that; the active sets may differ only
    at magnitudes within the theta tolerance of theta.
    """
    v = np.asarray(v, dtype=np.float32).ravel()
    c = np.asarray(centre, dtype=np.float32).ravel()
    out = np.asarray(out, dtype=np.float32).ravel()
    d = v - c
    a = np.abs(d).astype(np.float64)
    report = ProjectionCheck()
    if a.sum() <= radius:
        if not np.array_equal(out, v):
            report.problems.append("a row inside the ball was changed")
        return report
    theta_ref, active_ref = exact_threshold(a, radius)
    count = max(int(active_ref.sum()), 1)
    parts = parts_per_row(a.size)
    depth = max(-(-a.size // (parts * THREADS)) + 8 + -(-parts // 32) + 5, -(-a.size // THREADS) + 8)
    total = float(a[active_ref].sum())
    tolerance = (depth * EPS64 * total + EPS64 * radius) / count + 2 * EPS64 * theta_ref
    report.theta_tolerance = tolerance
    if theta is not None:
        report.theta_error = abs(theta - theta_ref)
        if report.theta_error > tolerance:
            report.problems.append(
                f"theta {theta:.9g} != exact {theta_ref:.9g} (error {report.theta_error:.3g} > {tolerance:.3g})"
            )
    shrunk_ref = np.maximum(a - theta_ref, 0.0)
    expected = c.astype(np.float64) + np.sign(d) * shrunk_ref
    bound = EPS32 * (np.abs(c) + a) + tolerance + np.finfo(np.float32).tiny
    wrong = np.abs(out.astype(np.float64) - expected) > bound
    if wrong.any():
        worst = int(np.argmax(np.abs(out.astype(np.float64) - expected) - bound))
        report.problems.append(
            f"{int(wrong.sum())} of {a.size} entries off the exact projection (e.g. [{worst}]: "
            f"{out[worst]:.9g} vs {expected[worst]:.9g}, |d| {a[worst]:.9g}, theta {theta_ref:.9g})"
        )
    l1 = float(np.abs(out.astype(np.float64) - c).sum())
    report.l1_excess = (l1 - radius) / radius if radius > 0 else l1
    return report


# -- adversarial inputs ----------------------------------------------------------------------


def l1_adversarial_cases(tail: int = 1_000_000, seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    """``(name, v, centre, radius)`` rows (float32) on which an inexact l1 projection shows.

    ``tail`` sizes the first case (issue 23's: one entry of 1e6 and ``tail`` entries from
    U(0, 1e-3), radius 1e6 + 0.01 * sum(tail); any ``tail`` >= 1e4 keeps the old kernel's
    bracket, max/2^30 ~ 9e-4, wider than theta).
    """
    rng = np.random.default_rng(seed)
    f32 = np.float32
    cases = []

    small = rng.uniform(0, 1e-3, tail).astype(f32)
    v = np.concatenate([[f32(1e6)], small * rng.choice([f32(-1), f32(1)], tail)]).astype(f32)
    cases.append(("one 1e6 entry and a U(0, 1e-3) tail", v, np.zeros_like(v), 1e6 + 0.01 * float(small.astype(np.float64).sum())))

    ties = np.full(4097, f32(0.75)) * rng.choice([f32(-1), f32(1)], 4097)
    cases.append(("4097 equal magnitudes", ties.astype(f32), np.zeros(4097, f32), 100.5))
    levels = np.repeat(np.array([3.0, 2.0, 2.0, 1.0], f32), [1, 1000, 1000, 3000])
    cases.append(("two levels of ties, theta inside the lower", levels, np.zeros_like(levels), 2000.0))

    eps = np.finfo(f32).eps
    near_eps = (eps * rng.integers(1, 9, 5000)).astype(f32) * rng.choice([f32(-1), f32(1)], 5000)
    cases.append(("magnitudes that are small multiples of float32 eps", near_eps, np.zeros_like(near_eps),
                  0.3 * float(np.abs(near_eps).astype(np.float64).sum())))  # fmt: skip
    ones = (1 + eps * rng.integers(0, 16, 5000)).astype(f32)
    cases.append(("1 + k eps32", ones, np.zeros_like(ones), 0.25 * float(ones.astype(np.float64).sum())))

    x = f32(0.5)
    x_up = np.nextafter(x, f32(1))
    rest = rng.uniform(0, 0.25, 2000).astype(f32)
    close = np.concatenate([[f32(2.0), x, x_up], rest]).astype(f32)
    theta = (float(x) + float(x_up)) / 2  # between two adjacent float32 values
    cases.append(("theta between two adjacent floats", close, np.zeros_like(close),
                  (2.0 - theta) + (float(x_up) - theta)))  # fmt: skip

    geometric = (f32(2.0) ** -np.arange(0, 120, dtype=f32)).astype(f32)
    cases.append(("a geometric sequence (Newton's worst case)", geometric, np.zeros_like(geometric), 0.9))

    odd = rng.standard_normal(1001).astype(f32)
    centre = (0.1 * rng.standard_normal(1001)).astype(f32)
    cases.append(("n odd, non-zero centre", odd, centre, 50.0))
    cases.append(("n = 1", np.array([3.0], f32), np.array([0.5], f32), 1.0))
    cases.append(("radius 0", odd, centre, 0.0))
    return cases


# -- partial circulant sensing -------------------------------------------------------------


def _spectral_product(work: np.ndarray, g_fft: np.ndarray, n: int, conjugate: bool) -> np.ndarray:
    """``spectral_product`` on the padded buffer ``work`` [batch, 2 (n // 2 + 1)] (float32): the
    in-place R2C reads the first n floats of each row and writes n // 2 + 1 interleaved complex
    values over the whole row; ``multiply_spectrum`` in float32 with the 1/n folded in; the
    in-place C2R (unnormalised) writes the first n floats back (the padding is left undefined:
    NaN here, so that a read of it shows)."""
    batch = work.shape[0]
    spectrum = torch.fft.rfft(torch.from_numpy(np.ascontiguousarray(work[:, :n])), n=n)
    work = torch.view_as_real(spectrum).numpy().reshape(batch, -1).astype(np.float32)
    re, im = work[:, 0::2], work[:, 1::2]
    g = np.asarray(g_fft, dtype=np.float32)
    wr, wi = g[:, 0], (-g[:, 1] if conjugate else g[:, 1])
    scale = np.float32(1.0) / np.float32(n)
    product = np.empty_like(work)
    product[:, 0::2] = (re * wr - im * wi) * scale
    product[:, 1::2] = (re * wi + im * wr) * scale
    complex_product = torch.view_as_complex(torch.from_numpy(product.reshape(batch, -1, 2)).contiguous())
    back = torch.fft.irfft(complex_product, n=n, norm="forward").numpy().astype(np.float32)
    out = np.full_like(work, np.nan)
    out[:, :n] = back
    return out


def _padded(batch: int, n: int) -> np.ndarray:
    return np.full((batch, 2 * (n // 2 + 1)), np.nan, dtype=np.float32)


def circulant_sense(x, g_fft, signs, rows, m: int) -> np.ndarray:
    """``circulant_sense`` of circulant.cu on float32 ``x`` [batch, n]: sign into the padded
    layout, R2C, times conj(G)/n, C2R, gather the kept rows."""
    x = np.asarray(x, dtype=np.float32)
    signs = np.asarray(signs, dtype=np.float32)
    n = signs.size
    work = _padded(x.shape[0], n)
    work[:, :n] = x * signs
    work = _spectral_product(work, g_fft, n, conjugate=True)
    kept = np.arange(m) if rows is None else np.asarray(rows, dtype=np.int64)
    return work[:, kept]


def circulant_sense_adjoint(y, g_fft, signs, rows) -> np.ndarray:
    """``circulant_sense_adjoint`` of circulant.cu: zero the buffer, scatter y into the kept
    rows (distinct: the wrapper refuses repeats), R2C, times G/n, C2R, times the signs."""
    y = np.asarray(y, dtype=np.float32)
    signs = np.asarray(signs, dtype=np.float32)
    n, m = signs.size, y.shape[-1]
    work = np.zeros((y.shape[0], 2 * (n // 2 + 1)), dtype=np.float32)
    kept = np.arange(m) if rows is None else np.asarray(rows, dtype=np.int64)
    work[:, kept] = y
    work = _spectral_product(work, g_fft, n, conjugate=False)
    return work[:, :n] * signs
