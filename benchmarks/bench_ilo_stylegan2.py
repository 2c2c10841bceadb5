"""One ILO solve on a randomly initialised config-f StyleGAN2: seconds per step, per round, per solve, and where they go.

    .venv/bin/python benchmarks/bench_ilo_stylegan2.py [--size 256] [--steps 3 2 2 1] \\
        [--range-steps 3] [--device cpu|cuda] [--threads N]

The generator is ``invprob-plugin-stylegan2``'s random init with config-f shapes (style_dim 512,
8 mapping layers, upstream's widths with channel_multiplier 2), ``latent: w+`` with the noise
maps as latents, as ``recipes/ilo-*-stylegan2.yaml``. The problem is random inpainting with 20%
of the pixels observed, of one image the same generator made from another latent. The solver
has the recipes' settings (``first_layer: 2``, appendix 6.3's radii, ramp schedule, geocross
0.01 on w+) except the steps: the paper's are ``--steps 300 200 200 100`` (``--range-steps 100``,
our default for the projection back to the range); the default here is that divided by 100 so
that a solve on one CPU thread takes a few minutes.

What dominates is measured with timers, not a profiler (the profiler's per-op overhead would
distort a CPU run):

- *G forward*: every call of the part of the generator a round renders through (the whole of G
  in round 0, G2 of the round's split later), with and without gradients;
- *G backward*: from the moment the gradient reaches G's output to the moment the last input
  variable has its gradient (hooks on the output and on views of the inputs);
- *l1 projection*: every call of ``invprob.ops.project_l1_ball`` (after each step of rounds >= 1);
- *range (G1)*: forward and backward of the segments that the projection back to the range fits
  through, and the no-grad segments that give each round its centre;
- *rest*: the solve's wall time minus all of those (the optimiser, the losses and priors,
  the schedule, best-iterate bookkeeping).

On CUDA every timer synchronises, which slows the solve a little but attributes time correctly.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import platform
import time

import torch

import invprob.ops
from invprob.losses import MSELoss
from invprob.problem import InverseProblem, WeightedLoss
from invprob.progress import Monitor
from invprob_plugin_ilo.solver import ILOSolver
from invprob_plugin_imaging.masks import MaskOperator, random_pixel_mask
from invprob_plugin_latent_geometry.penalties import GeocrossPenalty
from invprob_plugin_stylegan2.generator import random_stylegan2
from invprob_plugin_stylegan2.networks import StyleGAN2Config, standard_channels


class Timers:
    """Accumulated seconds and call counts per category."""

    def __init__(self, device: str):
        self.device = device
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.calls: dict[str, int] = collections.defaultdict(int)

    def now(self) -> float:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter()

    @contextlib.contextmanager
    def measure(self, category: str):
        start = self.now()
        try:
            yield
        finally:
            self.seconds[category] += self.now() - start
            self.calls[category] += 1


class TimedModule(torch.nn.Module):
    """Times ``module``'s forward, and its backward through hooks on the output and on views of the inputs."""

    def __init__(self, module, timers: Timers, forward: str, backward: str):
        super().__init__()
        self.module, self.timers, self.forward_name, self.backward_name = module, timers, forward, backward

    def forward(self, state):
        timers = self.timers
        if not torch.is_grad_enabled():
            with timers.measure(self.forward_name):
                return self.module(state)
        inputs = {name: value.view_as(value) if value.requires_grad else value for name, value in state.items()}
        with timers.measure(self.forward_name):
            out = self.module(inputs)
        pending = {name for name, value in inputs.items() if value.requires_grad}
        marks: dict[str, float] = {}

        def output_reached(grad):
            marks["start"] = timers.now()

        def input_reached(name):
            def hook(grad):
                pending.discard(name)
                if not pending and "start" in marks:
                    timers.seconds[self.backward_name] += timers.now() - marks["start"]
                    timers.calls[self.backward_name] += 1

            return hook

        outputs = out.values() if isinstance(out, dict) else [out]
        for tensor in outputs:
            if tensor.requires_grad:
                tensor.register_hook(output_reached)
        for name in pending.copy():
            inputs[name].register_hook(input_reached(name))
        return out


def instrument(generator, timers: Timers) -> None:
    """Route the generator's forward, ``split`` and ``segment`` through the timers (this instance only)."""
    full = generator.forward
    generator.forward = lambda latents: TimedModule(full, timers, "G forward", "G backward")(generator.as_latents(latents))
    split, segment = generator.split, generator.segment

    def timed_split(k):
        g1, g2 = split(k)
        return g1, TimedModule(g2, timers, "G forward", "G backward")

    generator.split = timed_split
    generator.segment = lambda start, stop: TimedModule(segment(start, stop), timers, "range (G1)", "range (G1)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, nargs="+", default=[3, 2, 2, 1])
    parser.add_argument("--range-steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False

    config = StyleGAN2Config(size=args.size, style_dim=512, n_mlp=8, channels=standard_channels(2))
    generator = random_stylegan2(config, seed=0, discriminator=False, noise_latents=True).to(args.device)
    mask = random_pixel_mask(3, args.size, args.size, 0.2, torch.Generator().manual_seed(1))
    operator = MaskOperator(mask).to(args.device)
    with torch.no_grad():
        truth = generator(generator.sample_latent(1, torch.Generator().manual_seed(123)))
    problem = InverseProblem(
        operator, operator.A(truth), generator.image_shape, generator,
        [WeightedLoss(1.0, MSELoss())], [GeocrossPenalty(0.01, "w+")], ground_truth=truth,
    )
    solver = ILOSolver(  # paper radii and the official code's defaults; Algorithm 1's range projection if --range-steps
        steps=args.steps, lr=0.1, first_layer=2, project_to_range=args.range_steps > 0, range_steps=args.range_steps
    )
    fit = generator.gaussian_fit()  # PULSE's fit of the mapping (no checkpoint to cache it beside): once, outside the timings
    generator.gaussian_fit = lambda *a, **k: fit

    warm = generator.sample_latent(1, torch.Generator().manual_seed(7))
    warm["w+"].requires_grad_(True)
    generator(warm).square().mean().backward()  # one-off costs (allocation, first-call dispatch) outside the timings

    timers = Timers(args.device)
    instrument(generator, timers)
    project = invprob.ops.project_l1_ball

    def timed_project(*a, **k):
        with timers.measure("l1 projection"):
            return project(*a, **k)

    invprob.ops.project_l1_ball = timed_project
    try:
        start = timers.now()
        result = solver.solve(problem, rng=torch.Generator().manual_seed(0), monitor=Monitor(show_progress=False))
        total = timers.now() - start
    finally:
        invprob.ops.project_l1_ball = project

    print(f"ILO on a random config-f StyleGAN2 {args.size}x{args.size} (w+ and {config.num_layers} noise maps), "
          f"1 image, inpainting 20% observed; device {args.device} ({platform.processor() or platform.machine()}), "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"steps per round {args.steps}, range steps {args.range_steps}, splits {solver.split_points()}")
    print()
    print("| phase | steps | seconds | s/step |")
    print("|---|---|---|---|")
    for k, steps in enumerate(args.steps):
        seconds = result.timings.get(f"round{k}")
        if seconds is not None:
            print(f"| round {k} (split {solver.split_points()[k]}) | {steps} | {seconds:.1f} | {seconds / steps:.2f} |")
        if f"range{k}" in result.timings:
            seconds = result.timings[f"range{k}"]
            print(f"| range projection after round {k} | {args.range_steps} | {seconds:.1f} | {seconds / args.range_steps:.2f} |")
    total_steps = sum(args.steps)
    print(f"| **solve** | {total_steps} | {total:.1f} | {total / total_steps:.2f} |")
    print()
    print("| where the time goes | calls | seconds | share |")
    print("|---|---|---|---|")
    accounted = 0.0
    for category in ("G forward", "G backward", "l1 projection", "range (G1)"):
        seconds = timers.seconds.get(category, 0.0)
        accounted += seconds
        print(f"| {category} | {timers.calls.get(category, 0)} | {seconds:.2f} | {100 * seconds / total:.1f}% |")
    print(f"| rest | | {total - accounted:.2f} | {100 * (total - accounted) / total:.1f}% |")
    print(f"\nbest round {int(result.best_round[0]) if result.best_round is not None else '?'}, "
          f"best measurement loss {float(result.best_loss[0]):.4g}")


if __name__ == "__main__":
    main()
