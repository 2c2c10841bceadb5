"""Partial circulant vs dense Gaussian compressed sensing on CPU: time and memory, one run.

    .venv/bin/python benchmarks/bench_circulant_sensing.py [--fraction 0.1] [--repeats 5]
        [--max-dense-bytes 1073741824] [--sizes 64 128 256 512 1024] [--threads 1]

For images 3 x s x s (n = 3 s^2) and m = fraction * n measurements, it times one forward
plus one adjoint (batch of 1, median of ``--repeats``) of ``cs-circulant`` (FFT, the
``invprob::circulant_sense`` custom ops) and of ``cs-gaussian`` (dense m x n matrix) where
that matrix fits under ``--max-dense-bytes``, and prints them side by side with the ratio.

Memory, in MiB:
- ``state``: bytes of the operator's buffers (spectrum + signs, or the dense matrix);
- ``peak``: the transient peak of resident memory during forward + adjoint, measured as the
  growth of the process's peak RSS (``VmHWM`` in /proc/self/status, reset before each
  measurement by writing 5 to /proc/self/clear_refs; Linux only, else "n/a"). It counts every
  allocation torch makes on the CPU, which tracemalloc does not see. So that freed buffers
  leave the resident set (and the next peak is seen), each peak is measured in a child
  process run with glibc's ``MALLOC_MMAP_THRESHOLD_=65536``: every block above 64 KiB is its
  own mapping, returned to the system when torch frees it. Times are taken in this process,
  with the normal allocator.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from invprob.context import BuildContext
from invprob.registry import new_registry

MIB = 2**20


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def seconds(operator, x: torch.Tensor, repeats: int) -> float:
    """Median seconds of ``A_adjoint(A(x))`` after one warm-up call."""
    with torch.no_grad():
        operator.A_adjoint(operator.A(x))  # warm-up: FFT plans, allocator
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            operator.A_adjoint(operator.A(x))
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_growth_mib(operator, x: torch.Tensor) -> float | None:
    """Growth of the peak RSS (MiB) during one ``A_adjoint(A(x))``, after a warm-up call."""
    with torch.no_grad():
        operator.A_adjoint(operator.A(x))
        if not _reset_peak():
            return None
        before = _status_kib("VmRSS")
        operator.A_adjoint(operator.A(x))
        after = _status_kib("VmHWM")
    if before is None or after is None:
        return None
    return max(after - before, 0) / 1024


def _build(name: str, size: int, fraction: float, max_dense_bytes: int):
    registry = new_registry(only={"invprob-plugin-imaging"})
    context = BuildContext(registry=registry, image_shape=(3, size, size), seed=0)
    params = {"fraction": fraction}
    if name == "cs-gaussian":
        params["max_matrix_bytes"] = max_dense_bytes
    return registry.build("operators", name, params, context)


def _image(size: int) -> torch.Tensor:
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))


def peak_in_child(name: str, size: int, args: argparse.Namespace) -> float | None:
    """:func:`peak_growth_mib` measured in a fresh process with mmap-backed large blocks."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    command = [sys.executable, __file__, "--peak-of", name, str(size), "--fraction", str(args.fraction),
               "--max-dense-bytes", str(args.max_dense_bytes), "--threads", str(args.threads)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    value = result.stdout.strip()
    return None if value == "n/a" else float(value)


def state_mib(operator) -> float:
    return sum(b.numel() * b.element_size() for b in operator.buffers()) / MIB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-dense-bytes", type=int, default=2**30)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: on a shared "
                        "machine, multithreaded FFTs wait on busy cores and time the neighbours' load)")
    parser.add_argument("--peak-of", nargs=2, metavar=("OPERATOR", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.peak_of:
        name, size = args.peak_of[0], int(args.peak_of[1])
        print(_fmt(peak_growth_mib(_build(name, size, args.fraction, args.max_dense_bytes), _image(size))))
        return 0

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, m = {args.fraction} n, batch 1, "
          f"median of {args.repeats}; times in ms, memory in MiB (state = buffers, "
          "peak = RSS growth during forward+adjoint)")
    header = (f"{'image':>12} {'n':>9} {'m':>8} | {'circ ms':>8} {'state':>7} {'peak':>7} | "
              f"{'dense ms':>9} {'state':>8} {'peak':>7} | {'time x':>7} {'memory x':>9}")
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        n = 3 * size * size
        x = _image(size)
        circulant = _build("cs-circulant", size, args.fraction, args.max_dense_bytes)
        m = circulant.m
        c_time, c_state = seconds(circulant, x, args.repeats), state_mib(circulant)
        del circulant
        c_peak = peak_in_child("cs-circulant", size, args)
        row = f"{'3x%dx%d' % (size, size):>12} {n:>9} {m:>8} | {c_time * 1e3:>8.2f} {c_state:>7.1f} {_fmt(c_peak):>7} | "
        if 4 * m * n <= args.max_dense_bytes:
            dense = _build("cs-gaussian", size, args.fraction, args.max_dense_bytes)
            d_time, d_state = seconds(dense, x, args.repeats), state_mib(dense)
            del dense
            d_peak = peak_in_child("cs-gaussian", size, args)
            memory_ratio = (d_state + (d_peak or 0)) / (c_state + (c_peak or 0))
            row += (f"{d_time * 1e3:>9.2f} {d_state:>8.1f} {_fmt(d_peak):>7} | "
                    f"{d_time / c_time:>7.1f} {memory_ratio:>9.1f}")
        else:
            row += f"{'dense matrix would need ' + _fmt(4 * m * n / MIB) + ' MiB':>26}"
        print(row, flush=True)
    print("time x = dense / circulant time; memory x = dense / circulant (state + peak)")
    return 0


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    sys.exit(main())
