"""Step time of the optimisation loop against a bare ``autograd.grad`` + Adam step, in one run.

    .venv/bin/python benchmarks/bench_optimise_step.py [--batch 64] [--restarts 1] [--steps 20] \\
        [--repeats 5] [--device cpu|cuda] [--model dcgan64-faces|tiny] [--threads N]

Both sides optimise the same latents of the same generator on the same batch: centre-box
inpainting of samples of the generator (the testing kit's ``MaskOperator``) with the MSE loss
summed over the batch, Adam at lr 0.01. The *bare* step is

    image = G(z); loss = mse(A(image), y); (g,) = torch.autograd.grad(loss.sum(), [z]); z.grad = g; adam.step()

and the *loop* step is one step of :func:`invprob.optimisation.optimise` (the same, plus best-
iterate tracking per image over the restarts, history, projections and the stop check). Both
are timed over ``--steps`` steps after 3 warm-up steps (the loop by its monitor, which
synchronises the device at the first and last timed step only, so that the loop's set-up and
final evaluation are not counted); each side is the best (lowest) of ``--repeats``
measurements, interleaved, since on a shared machine noise only ever adds time.

``--model dcgan64-faces`` (default) is the DCGAN plugin's embedded default model;
``--model tiny`` the testing kit's TinyGenerator, whose steps are so cheap that the ratio shows
the loop's own overhead.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from invprob.losses import MSELoss
from invprob.optimisation import OptimiserSettings, initial_latents, optimise
from invprob.problem import InverseProblem, WeightedLoss
from invprob.progress import Monitor
from invprob.testing.toys import MaskOperator, TinyGenerator

LR = 0.01
WARM_STEPS = 3


def load_generator(model: str, device: str):
    """The generator, frozen and in eval mode, and a description."""
    if model == "tiny":
        generator, description = TinyGenerator(), "invprob.testing TinyGenerator (16x16)"
    else:
        from invprob.context import BuildContext
        from invprob.registry import new_registry

        registry = new_registry(only={"invprob-plugin-dcgan"})
        generator = registry.build("generators", model, {}, BuildContext(registry=registry, device=device))
        description = f"{model} (invprob-plugin-dcgan)"
    return generator.to(device).eval().requires_grad_(False), description


def make_problem(generator, images: int, device: str) -> InverseProblem:
    operator = MaskOperator(generator.image_shape).to(device)
    with torch.no_grad():
        truth = generator(initial_latents_for(generator, images, seed=123))
    return InverseProblem(operator, operator.A(truth), generator.image_shape, generator, [WeightedLoss(1.0, MSELoss())])


def initial_latents_for(generator, count: int, seed: int) -> dict[str, torch.Tensor]:
    sampled = generator.sample_latent(count, torch.Generator().manual_seed(seed))
    return sampled if isinstance(sampled, dict) else {generator.primary_latent.name: sampled}


def synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bare_ms_per_step(problem: InverseProblem, count: int, steps: int, device: str) -> float:
    """The bare step: forward, MSE, ``autograd.grad``, Adam."""
    generator, operator, loss = problem.generator, problem.operator, MSELoss()
    observed = problem.observation_for(count)
    z = {k: v.detach().clone().requires_grad_(True) for k, v in initial_latents_for(generator, count, seed=0).items()}
    render = generator
    parameters = list(z.values())
    adam = torch.optim.Adam(parameters, lr=LR)

    def step() -> None:
        value = loss(operator.A(render(z)), observed, operator)
        gradients = torch.autograd.grad(value.sum(), parameters)
        for parameter, gradient in zip(parameters, gradients):
            parameter.grad = gradient
        adam.step()

    for _ in range(WARM_STEPS):
        step()
    synchronise(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    synchronise(device)
    return (time.perf_counter() - started) * 1000 / steps


class _StepClock(Monitor):
    """Times the loop's steps ``WARM_STEPS + 1 .. total``: synchronises the device at those two
    steps only, so that set-up, warm-up and the final evaluation are not counted."""

    def __init__(self, device: str):
        super().__init__(show_progress=False)
        self.device = device
        self.total = 0
        self.started = self.ended = 0.0

    def start(self, total: int, description: str = "") -> None:
        super().start(total, description)
        self.total = total

    def step(self, image=None, **scalars) -> None:
        super().step(image=image, **scalars)
        if self._steps in (WARM_STEPS, self.total):
            synchronise(self.device)
            now = time.perf_counter()
            self.started, self.ended = (now, self.ended) if self._steps == WARM_STEPS else (self.started, now)


def loop_ms_per_step(problem: InverseProblem, restarts: int, steps: int, device: str) -> float:
    """One step of :func:`invprob.optimisation.optimise`, timed by its monitor."""
    latents = initial_latents(problem, restarts, torch.Generator().manual_seed(0), solver="benchmark")
    clock = _StepClock(device)
    settings = OptimiserSettings(steps=WARM_STEPS + steps, lr=LR)
    optimise(latents, problem.generator, problem, settings, monitor=clock)
    return (clock.ended - clock.started) * 1000 / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="latents per step, restarts x images (the issue's H200 figure: 256)")
    parser.add_argument("--restarts", type=int, default=1, help="restarts among the batch (images = batch / restarts)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="dcgan64-faces")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.batch % args.restarts:
        parser.error(f"--batch {args.batch} is not a whole number of --restarts {args.restarts}")

    generator, description = load_generator(args.model, args.device)
    problem = make_problem(generator, args.batch // args.restarts, args.device)
    loop_ms_per_step(problem, args.restarts, 3, args.device)  # warm-up
    bare, loop = [], []
    for _ in range(args.repeats):  # interleaved, so that drifts in machine load hit both sides
        bare.append(bare_ms_per_step(problem, args.batch, args.steps, args.device))
        loop.append(loop_ms_per_step(problem, args.restarts, args.steps, args.device))
    bare_ms, loop_ms = min(bare), min(loop)
    print(f"generator: {description}; device {args.device}; torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(f"batch {args.batch} ({args.restarts} restart(s) x {args.batch // args.restarts} image(s)), Adam lr {LR}; "
          f"best of {args.repeats}, {args.steps} steps each (medians: bare {statistics.median(bare):.3f}, "
          f"loop {statistics.median(loop):.3f} ms)")
    print(f"bare autograd.grad + Adam: {bare_ms:9.3f} ms/step")
    print(f"invprob.optimisation loop: {loop_ms:9.3f} ms/step")
    print(f"loop / bare:               {loop_ms / bare_ms:9.3f}x")


if __name__ == "__main__":
    main()
