"""TV inpainting: the solver's loop against the former one (two gradients and Tensor.norm per step).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/bench_tv_inpaint.py [--size 128] [--batch 4] [--iterations 300]

The former loop took a second gradient every step for the objective, and its magnitudes with
``Tensor.norm(dim=-3)``, a slow strided reduction; the solver's loop reuses the one gradient
and writes the magnitude out. Both loops run in this process on the same images and mask, each with a monitor recording
the objective every step (as a run does); the figure is the ratio of their best-of-
``--repeats`` times, measured in the same run, and the largest difference of their results.
Timings on a shared machine are noisy: compare the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "solvers" / "classical" / "tests"))
from test_tv_inpaint_objective import tv_inpaint_two_gradients_per_step  # noqa: E402  (the former loop)

from invprob.progress import Monitor  # noqa: E402
from invprob_plugin_classical.tv_inpaint import tv_inpaint  # noqa: E402


def best_time(loop, observation, mask, iterations: int, repeats: int) -> tuple[float, torch.Tensor]:
    best, image = float("inf"), None
    for _ in range(repeats):
        monitor = Monitor(show_progress=False)
        started = time.perf_counter()
        image, _ = loop(observation, mask, iterations=iterations, weight=100.0, monitor=monitor)
        monitor.history  # the objective is read back, as a run writes history.json
        best = min(best, time.perf_counter() - started)
    return best, image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = torch.Generator().manual_seed(0)
    truth = torch.rand(args.batch, 3, args.size, args.size, generator=rng) * 2 - 1
    mask = (torch.rand(1, 1, args.size, args.size, generator=rng) > 0.5).float().expand_as(truth)
    observation = mask * truth
    old, old_image = best_time(tv_inpaint_two_gradients_per_step, observation, mask, args.iterations, args.repeats)
    new, new_image = best_time(tv_inpaint, observation, mask, args.iterations, args.repeats)
    print(f"images: {args.batch} x 3 x {args.size} x {args.size}, {args.iterations} iterations, "
          f"threads: {args.threads}, best of {args.repeats}")
    print(f"former loop: {old:.2f} s   solver's loop: {new:.2f} s   speed-up: {old / new:.1f}x")
    print(f"largest difference of the results: {(new_image - old_image).abs().max().item():.2e} (float32)")


if __name__ == "__main__":
    main()
