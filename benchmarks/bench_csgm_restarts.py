"""CSGM step time with R = 1, 4, 16 random restarts: batched into one tensor vs run one after another.

    .venv/bin/python benchmarks/bench_csgm_restarts.py [--steps 30] [--images 1] [--device cpu]

The generator is the shared pretrained 32x32 CelebA DCGAN when invprob-plugin-dcgan and
../shared/weights/dcgan32-celeba are available, else the standard 32x32 DCGAN with random
weights, else the testing kit's TinyGenerator. The task is centre-box inpainting of a sample
of the generator with the MSE loss. Each configuration runs the csgm solver (Adam) for
``--steps`` steps on ``--images`` images; "sequential" runs the R restarts as R solves of
one restart each. Both are measured in this run; the ratio sequential/batched is the speed-up.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from invprob.context import BuildContext
from invprob.losses import MSELoss
from invprob.problem import InverseProblem, WeightedLoss
from invprob.progress import Monitor
from invprob.registry import new_registry
from invprob.testing.toys import MaskOperator, TinyGenerator

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "weights" / "dcgan32-celeba"


def load_generator(registry, device: str):
    """(generator, description): the best generator available here, frozen, in eval mode."""
    context = BuildContext(registry=registry, device=device)
    if "dcgan32-celeba" in registry.components["generators"] and (SHARED / "generator.pt").is_file():
        generator = registry.build(
            "generators", "dcgan32-celeba", {"generator_weights": str(SHARED / "generator.pt")}, context
        )
        description = "pretrained 32x32 CelebA DCGAN (../shared/weights/dcgan32-celeba)"
    elif "dcgan" in registry.components["generators"]:
        generator = registry.build("generators", "dcgan", {"image_size": 32, "with_discriminator": False}, context)
        description = "standard 32x32 DCGAN, random weights"
    else:
        generator, description = TinyGenerator(), "invprob.testing TinyGenerator (16x16)"
    return generator.to(device).eval().requires_grad_(False), description


def make_problem(generator, images: int, device: str) -> InverseProblem:
    operator = MaskOperator(generator.image_shape).to(device)
    with torch.no_grad():
        truth = generator(generator.sample_latent(images, torch.Generator().manual_seed(123)))
    return InverseProblem(
        operator, operator.A(truth), generator.image_shape, generator, [WeightedLoss(1.0, MSELoss())]
    )


def timed_solve(solver, problem, device: str, seed: int) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    solver.solve(problem, rng=torch.Generator().manual_seed(seed), monitor=Monitor(show_progress=False))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--images", type=int, default=1)
    parser.add_argument("--restarts", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    registry = new_registry()
    generator, description = load_generator(registry, args.device)
    problem = make_problem(generator, args.images, args.device)
    context = BuildContext(registry=registry, device=args.device)

    def csgm(restarts: int):
        return registry.build("solvers", "csgm", {"steps": args.steps, "restarts": restarts, "lr": 0.1}, context)

    timed_solve(csgm(2), problem, args.device, seed=0)  # warm-up
    print(f"generator: {description}; device {args.device}; torch threads {torch.get_num_threads()}")
    print(f"{args.images} image(s), {args.steps} Adam steps; ms per step (all restarts)")
    print(f"{'R':>4} {'batched':>10} {'sequential':>11} {'sequential/batched':>19}")
    for restarts in args.restarts:
        batched = timed_solve(csgm(restarts), problem, args.device, seed=1)
        sequential = sum(timed_solve(csgm(1), problem, args.device, seed=10 + r) for r in range(restarts))
        per_step = 1000 / (args.steps + 1)  # steps + the final evaluation
        print(f"{restarts:>4} {batched * per_step:>10.2f} {sequential * per_step:>11.2f} {sequential / batched:>18.2f}x")


if __name__ == "__main__":
    main()
