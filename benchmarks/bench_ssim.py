"""SSIM: the separable Gaussian window (invprob.default_plugins.image_quality.ssim) against the former 11x11 2-D window.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_ssim.py [--size 128] [--batch 4] [--repeats 5]

Both forms run in this process on the same images (float64, as the metric computes); the
figure is the ratio of their best-of-``--repeats`` times, measured in the same run, and the
largest difference of their values (they agree to rounding). Timings on a shared machine
are noisy: compare the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_ssim_separable import ssim_with_2d_window  # noqa: E402  (the former implementation, kept in the test)

from invprob.default_plugins.image_quality import ssim  # noqa: E402


def best_time(function, *args, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = torch.Generator().manual_seed(0)
    target = torch.rand(args.batch, 3, args.size, args.size, generator=rng) * 2 - 1
    reconstruction = (target + 0.2 * torch.randn(target.shape, generator=rng)).clamp(-1, 1)
    difference = (ssim(reconstruction, target) - ssim_with_2d_window(reconstruction, target)).abs().max().item()
    old = best_time(ssim_with_2d_window, reconstruction, target, repeats=args.repeats)
    new = best_time(ssim, reconstruction, target, repeats=args.repeats)
    print(f"images: {args.batch} x 3 x {args.size} x {args.size}, threads: {args.threads}, best of {args.repeats}")
    print(f"2-D 11x11 window: {old * 1000:.1f} ms   separable: {new * 1000:.1f} ms   speed-up: {old / new:.1f}x")
    print(f"largest difference of the values: {difference:.2e}")


if __name__ == "__main__":
    main()
