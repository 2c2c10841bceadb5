"""invprob-plugin-cuda against the plain-torch kernels, on one GPU, in one run.

    INVPROB_CUDA_JIT=1 python benchmarks/bench_cuda_ops.py            # builds the kernels first if needed
    INVPROB_CUDA_JIT=1 python benchmarks/bench_cuda_ops.py --quick    # fewer sizes

Prints, for partial circulant sensing (forward) at n = 3x256^2 and 3x1024^2, batch 1 and 16,
m = 5%, 10%, 25% of n: the time per call and the effective bandwidth (input + output bytes per
second) as a fraction of this device's copy bandwidth measured in the same run, for
(a) the ILO reference formulation (complex FFT, FFT of g recomputed per call, gather), (b) the
core's plain-torch kernel, eager, (c) the same under torch.compile, (d) the CUDA op; and for
the l1-ball projection at rows of 8K, 1M and 3.1M entries, batch 1 and 16: the core's
plain-torch kernel (sort-based, Duchi et al.) and the CUDA op. Ratios are against (b) and the
sort-based kernel measured here. Exits with a message where there is no CUDA device.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch


def time_ms(fn, repeats: int = 50, warmup: int = 5) -> float:
    """Median milliseconds per call, timed with CUDA events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def copy_bandwidth() -> float:
    """Bytes per second of a device-to-device copy of 1 GiB (read + write counted)."""
    source = torch.empty(1 << 28, device="cuda")
    target = torch.empty_like(source)
    ms = time_ms(lambda: target.copy_(source), repeats=20)
    return 2 * source.numel() * 4 / (ms / 1e3)


def ilo_reference(x, g, signs, rows):
    """The ILO code's formulation, ported to current torch: complex FFTs, g's FFT every call."""
    spectrum = torch.fft.fft(x * signs) * torch.conj(torch.fft.fft(g))
    return torch.fft.ifft(spectrum).real.index_select(-1, rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the large sizes at batch 16")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_cuda_ops: no CUDA device here; run it on a GPU machine")
        return 0
    from invprob import ops
    from invprob_plugin_cuda import build, kernels

    os.environ.setdefault("INVPROB_CUDA_JIT", "1")
    fast = kernels.make_kernels(build.load_extension())
    sense_reference = ops.reference_kernel(ops.CIRCULANT_SENSE)
    compiled_reference = torch.compile(sense_reference, dynamic=False)
    project_reference = ops.reference_kernel(ops.PROJECT_L1_BALL)
    bandwidth = copy_bandwidth()
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    print(f"copy bandwidth: {bandwidth / 1e12:.2f} TB/s (device-to-device, read + write)\n")

    print("circulant sensing, forward: ms per call (fraction of copy bandwidth)")
    print(f"{'n':>12} {'batch':>5} {'m/n':>5} | {'(a) ILO ref':>18} {'(b) eager':>18} {'(c) compile':>18} "
          f"{'(d) CUDA op':>18} | {'b/d':>5} {'c/d':>5}")  # fmt: skip
    sizes = [(3 * 1024 * 1024, 16)] if args.quick else [(3 * 256 * 256, 1), (3 * 256 * 256, 16), (3 * 1024 * 1024, 1), (3 * 1024 * 1024, 16)]
    for n, batch in sizes:
        for fraction in (0.05, 0.10, 0.25):
            m = int(fraction * n)
            x = torch.randn(batch, n, device="cuda")
            g = torch.randn(n, device="cuda") / n**0.5
            signs = (torch.randint(0, 2, (n,), device="cuda") * 2 - 1).float()
            rows = torch.randperm(n, device="cuda")[:m]
            g_fft = ops.spectrum_of_first_row(g)
            moved = (batch * n + batch * m) * 4
            runs = {
                "a": lambda: ilo_reference(x, g, signs, rows),
                "b": lambda: sense_reference(x, g_fft, signs, rows, m),
                "c": lambda: compiled_reference(x, g_fft, signs, rows, m),
                "d": lambda: fast[ops.CIRCULANT_SENSE](x, g_fft, signs, rows, m),
            }
            ms = {key: time_ms(fn) for key, fn in runs.items()}
            cells = [f"{ms[k]:8.3f} ({moved / (ms[k] / 1e3) / bandwidth:6.1%})" for k in "abcd"]
            print(f"{n:>12} {batch:>5} {fraction:>5.2f} | {' '.join(f'{c:>18}' for c in cells)} | "
                  f"{ms['b'] / ms['d']:5.2f} {ms['c'] / ms['d']:5.2f}")  # fmt: skip

    print("\nl1-ball projection: ms per call")
    print(f"{'length':>10} {'batch':>5} | {'sort-based (core)':>18} {'CUDA op':>10} | {'ratio':>6}")
    for length in (8192, 1 << 20, 3 * 1024 * 1024):
        for batch in (1, 16):
            v = torch.randn(batch, length, device="cuda")
            centre = torch.randn(batch, length, device="cuda") * 0.1
            radius = 0.05 * length
            slow = time_ms(lambda: project_reference(v, centre, radius), repeats=20)
            quick = time_ms(lambda: fast[ops.PROJECT_L1_BALL](v, centre, radius), repeats=20)
            print(f"{length:>10} {batch:>5} | {slow:18.3f} {quick:10.3f} | {slow / quick:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
