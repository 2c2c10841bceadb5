"""DIP batching on CPU: N images' skip networks as one grouped-conv network vs a loop over images.

    nice -n 10 .venv/bin/python benchmarks/bench_dip_batching.py --images 8 --steps 10 --threads 1

Times forward + backward + Adam step of the default 64 px skip network (the dip solver's
step, without the operator) for both layouts, from the same weights, and prints the ratio.
"""

from __future__ import annotations

import argparse
import time

import torch

from invprob.seeding import make_rng
from invprob_plugin_lcm_solvers.dip import SkipConfig, initial_weights, noise_input, skip_forward


def step_seconds(config: SkipConfig, images: int, steps: int, grouped: bool) -> float:
    weights = {k: v.requires_grad_(True) for k, v in initial_weights(config, images, make_rng(0)).items()}
    noise = noise_input(config, images, 64, 64, make_rng(1))
    target = torch.zeros(images, 3, 64, 64)
    optimizer = torch.optim.Adam(weights.values(), lr=0.01)
    for step in range(steps + 2):
        if step == 2:  # two warm-up steps
            started = time.perf_counter()
        optimizer.zero_grad()
        (skip_forward(config, weights, noise, grouped=grouped) - target).square().mean().backward()
        optimizer.step()
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = SkipConfig()
    print(f"torch {torch.__version__}, {args.threads} thread(s); seconds per step (fwd + bwd + Adam), 64x64, "
          f"{config.parameter_count()} weights per network")
    print("| images | grouped | loop | loop / grouped |\n|---|---|---|---|")
    for images in args.images:
        grouped = step_seconds(config, images, args.steps, True)
        loop = step_seconds(config, images, args.steps, False)
        print(f"| {images} | {grouped:.3f} | {loop:.3f} | {loop / grouped:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
