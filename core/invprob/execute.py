"""Running a recipe: its data, the solve loop over batches, and Ctrl-C.

``run`` builds the components (:mod:`invprob.components`), loads the data, creates the run
directory and writes its record, then solves batch by batch and writes the results
(:mod:`invprob.outputs`). Everything that is per run -- the weight files loaded, the random
streams -- is scoped to the call, so several runs can share a process (a study) or run on
remote workers and return their :meth:`RunResult.summary`.

The observations are made from the ground truth with ``rng("noise")``, or given directly
(``data.observation``, no ground truth). Ctrl-C asks the solver to stop after its current
step; the best result so far is written as usual and marked ``interrupted``. A second Ctrl-C
aborts at once.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from invprob import outputs, weights
from invprob.components import Components, InputError, as_recipe, build
from invprob.data import DataError, load_images, load_observations
from invprob.outputs import RunResult
from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.recipe import Recipe, dump_recipe
from invprob.registry import Registry, default_registry
from invprob.solver import SolverResult


class RunFailure(RuntimeError):
    """The run failed while running (exit code 1)."""


@dataclass
class Inputs:
    """What a run solves for: ground truth ``[N, C, H, W]`` (None when the observation was
    given), the given observations ``[N, ...]`` (None when they are made from the truth), and
    the names of the images."""

    truth: torch.Tensor | None
    observations: torch.Tensor | None
    names: list[str]


def run(
    recipe: Recipe | str | Path | Mapping[str, Any],
    overrides: Iterable[str] = (),
    *,
    out: str | Path | None = None,
    name: str | None = None,
    device: str | None = None,
    show_progress: bool = True,
    registry: Registry | None = None,
) -> RunResult:
    """Run a recipe end to end and write a new run directory; returns its :class:`RunResult`.

    The directory is ``out/name`` when ``name`` is given (an error if it exists: nothing is
    overwritten), else ``out/<timestamp>-<id>``; ``out`` defaults to the recipe's
    ``outputs.dir``, else ``./runs``.
    """
    started = time.perf_counter()
    registry = registry if registry is not None else default_registry()
    recipe = as_recipe(recipe, overrides, registry)
    with weights.recording() as ledger:
        components = build(recipe, device=device, registry=registry)
        inputs = load_inputs(components)
        root = Path(out) if out is not None else (recipe.outputs.dir or Path.cwd() / "runs")
        directory = outputs.new_run_directory(root, name)
        (directory / "recipe.resolved.yaml").write_text(dump_recipe(recipe), encoding="utf-8")
        environment = outputs.environment(components, registry, ledger.records)
        outputs.write_json(directory / "environment.json", environment)
        observations, results, interrupted = solve_batches(components, inputs, show_progress=show_progress)

    solved = sum(r.best_image.shape[0] for r in results)
    names = inputs.names[:solved]
    truth = inputs.truth[:solved] if inputs.truth is not None else None
    metrics = outputs.write_outputs(directory, components, names, observations, results, truth, interrupted)
    metrics["seconds"] = time.perf_counter() - started
    outputs.write_json(directory / "metrics.json", metrics)
    return RunResult(directory, metrics, results, names, interrupted, environment)


def load_inputs(components: Components) -> Inputs:
    """The run's ground truth (files or generator samples drawn with ``rng("samples")``), or
    its given observations."""
    data = components.recipe.data
    device = components.context.device
    try:
        if data.observation is not None:
            observations, names = load_observations(
                data.observation, _output_shape(components), select=data.select
            )
            return Inputs(None, observations.to(device), names)
        if data.samples is not None:
            if components.generator is None:
                raise InputError("data.samples needs a generator: add a 'generator' section or use data.images")
            with torch.no_grad():
                latents = components.generator.sample_latent(data.samples, components.context.rng("samples"))
                images = components.generator(latents).clamp(-1, 1)
            return Inputs(images, None, [f"sample{i:04d}" for i in range(data.samples)])
        assert data.images is not None
        batch = load_images(data.images, components.image_shape, select=data.select, npz_key=data.npz_key)
        return Inputs(batch.images.to(device), None, batch.names)
    except DataError as exc:
        raise InputError(str(exc)) from None


def _output_shape(components: Components) -> tuple[int, ...]:
    """What the operator outputs for one image of the run's image shape."""
    with torch.no_grad():
        zeros = torch.zeros(1, *components.image_shape, device=components.context.device)
        return tuple(components.operator.A(zeros).shape[1:])


def solve_batches(
    components: Components, inputs: Inputs, *, show_progress: bool = True
) -> tuple[list[torch.Tensor], list[SolverResult], bool]:
    """Solve every batch in turn: ``(observations, results, interrupted)`` of the batches solved.

    Noise draws come from ``rng("noise")`` and the solver's from ``rng("solver")``, both
    created here, once per run.
    """
    recipe = components.recipe
    noise_rng = components.context.rng("noise")
    solver_rng = components.context.rng("solver")
    count = len(inputs.names)
    interrupts = _Interrupts()
    observations: list[torch.Tensor] = []
    results: list[SolverResult] = []
    with interrupts.installed():
        for start in range(0, count, recipe.data.batch_size):
            if interrupts.stopped:
                break
            stop = start + recipe.data.batch_size
            truth = inputs.truth[start:stop] if inputs.truth is not None else None
            if inputs.observations is not None:
                observation = inputs.observations[start:stop]
            else:
                assert truth is not None
                with torch.no_grad():
                    observation = components.operator(truth, rng=noise_rng)
            problem = InverseProblem(
                operator=components.operator,
                observation=observation,
                image_shape=components.image_shape,
                generator=components.generator,
                losses=components.losses,
                priors=components.priors,
                ground_truth=truth,
            )
            frame_every = recipe.outputs.gif_every if recipe.outputs.gif else None
            monitor = Monitor(show_progress=show_progress, frame_every=frame_every)
            interrupts.monitor = monitor
            if interrupts.stopped:
                monitor.request_stop()
            try:
                result = components.solver.solve(problem, rng=solver_rng, monitor=monitor)
            finally:
                monitor.close()
            if not torch.isfinite(result.best_image).all():
                raise RunFailure(
                    f"the solver {recipe.solver.type!r} produced non-finite values (NaN or inf) for batch "
                    f"starting at image {start}; lower the learning rate or check the operator"
                )
            if not result.frames:
                result.frames = monitor.frames
            results.append(result)
            observations.append(observation)
            if result.interrupted:
                interrupts.stopped = True
    return observations, results, interrupts.stopped


class _Interrupts:
    """Ctrl-C once: stop the current solver cleanly and skip the remaining batches."""

    def __init__(self) -> None:
        self.stopped = False
        self.monitor: Monitor | None = None

    def handle(self, signum: int, frame: Any) -> None:
        if self.stopped:
            raise KeyboardInterrupt
        self.stopped = True
        print("\ninterrupted: finishing the current step and saving the best result so far "
              "(press Ctrl-C again to abort)", file=sys.stderr)
        if self.monitor is not None:
            self.monitor.request_stop()

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Interrupts]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGINT, self.handle)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)
