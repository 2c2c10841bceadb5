"""Running a recipe: its data, the solve loop over batches, signals and divergence.

``run`` checks the output folder, builds the components (:mod:`invprob.app.components`), loads
the data, says on the terminal (one line each) which metrics cannot be computed, creates the
run directory and writes its record (the resolved recipe, the environment), then solves batch
by batch and writes the results (:mod:`invprob.app.outputs`) and the environment's end time.
Everything that is per run -- the weight files loaded, the random streams -- is scoped to the
call, so several runs can share a process (a study) or run on remote workers and return their
:meth:`RunResult.summary`.

The observations are made from the ground truth with ``rng("noise")``, or given directly
(``data.observation``, no ground truth).

Signals (:mod:`invprob.interrupts`): SIGINT (Ctrl-C) and SIGTERM alike ask the solver to
stop after its current step; the best result so far is written as usual and marked
``interrupted``. A second signal does not discard it; a third aborts the current batch, and
the batches already solved are still written. While the results are written no signal is
honoured, so what is on disk is whole.

A loss that becomes non-finite (NaN, inf) is reported with the step where it first did; the
best finite iterate is kept and the event recorded in ``metrics.json`` under ``diverged``.
A run that fails after its directory was created leaves ``status.json`` saying so (``running``
until then: :mod:`invprob.app.outputs`), and the exception carries the directory as
``run_directory`` and a note saying what the directory keeps.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from invprob import weights
from invprob.app import outputs, run_record
from invprob.app.components import Components, build
from invprob.building import InputError
from invprob.app.data import load_observations
from invprob.images import DataError, load_images
from invprob.generator import generator_name
from invprob.interrupts import Interrupted, Interrupts, signal_name
from invprob.app.outputs import RunResult
from invprob.app.run_metrics import NO_GROUND_TRUTH
from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.recipe import Recipe, load_recipe
from invprob.registry import Registry, default_registry
from invprob.solver import SolverResult
from invprob.unit_range import measurement_to_unit, to_unit


@dataclass
class Inputs:
    """What a run solves for: ground truth ``[N, C, H, W]`` (None when the observation was
    given; a list of ``[C, H, W]`` when a run without a generator keeps images of several
    sizes, ordered so that images of one size follow each other), the given observations
    ``[N, ...]`` (None when they are made from the truth), the names of the images, and the
    bits per sample of each image's file (None: 8 for all; a 16-bit image is written back in 16)."""

    truth: torch.Tensor | list[torch.Tensor] | None
    observations: torch.Tensor | None
    names: list[str]
    bit_depths: list[int] | None = None

    def batches(self, batch_size: int) -> list[tuple[int, int]]:
        """``(start, stop)`` of each batch: at most ``batch_size`` images, all of one size."""
        count = len(self.names)
        if not isinstance(self.truth, list):
            return [(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]
        spans, start = [], 0
        while start < count:
            stop = start + 1
            while stop < count and stop - start < batch_size and self.truth[stop].shape == self.truth[start].shape:
                stop += 1
            spans.append((start, stop))
            start = stop
        return spans


@dataclass
class Solved:
    """The batches a run solved: observations, results, and what stopped or went wrong.

    ``diverged`` lists one event per batch whose loss became non-finite (see
    :func:`divergence`); ``aborted`` is set when a second signal cut a batch short.
    """

    observations: list[torch.Tensor]
    results: list[SolverResult]
    interrupted: bool
    diverged: list[dict[str, Any]]
    aborted: str | None = None
    operators: list[Any] = field(default_factory=list)
    """The operator of each batch (one per image size in a run without a generator)."""


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
    ``outputs.dir``, else ``./runs``. SIGINT and SIGTERM are handled while it runs (module
    docstring); an abort raises :class:`invprob.interrupts.Interrupted`.
    """
    started = time.perf_counter()
    started_at = run_record.now()
    registry = registry if registry is not None else default_registry()
    recipe = load_recipe(recipe, overrides, registry=registry)
    root = Path(out) if out is not None else (recipe.outputs.dir or Path.cwd() / "runs")
    outputs.check_root(root, name)
    _check_inputs_early(recipe)
    interrupts = Interrupts("abort")
    directory: Path | None = None
    environment: dict[str, Any] | None = None
    with interrupts.installed():
        try:
            with weights.recording() as ledger:
                components = build(recipe, device=device, registry=registry)
                inputs = load_inputs(components)
                _say_unavailable(components, given_observation=inputs.truth is None)
                directory = outputs.new_run_directory(root, name)
                outputs.write_status(directory, "running", started=started_at.isoformat(timespec="seconds"))
                resolved = run_record.resolved_recipe(recipe, components.context.registry, device=device, directory=directory)
                with outputs.atomic_path(directory / "recipe.resolved.yaml") as tmp:
                    tmp.write_text(resolved, encoding="utf-8")
                environment = run_record.environment(
                    components, registry, ledger.records, started=started_at, device=device
                )
                outputs.write_json(directory / "environment.json", environment)
                with interrupts.in_phase("protect"):  # no gap between solving and writing
                    with interrupts.in_phase("stop"):
                        solved = solve_batches(components, inputs, show_progress=show_progress, interrupts=interrupts)
                    return _write_result(directory, components, inputs, solved, interrupts, environment, started)
        except BaseException as exc:
            if directory is not None:
                _mark_failed(directory, exc, interrupts, started_at.isoformat(timespec="seconds"))
                if environment is not None:
                    with contextlib.suppress(Exception):  # the original error matters more
                        outputs.write_json(directory / "environment.json", run_record.finish_environment(environment))
                with contextlib.suppress(AttributeError):
                    exc.run_directory = directory  # type: ignore[attr-defined]
                    exc.add_note(f"the run directory {directory}: {outputs.kept(directory)}")
            raise


def _check_inputs_early(recipe: Recipe) -> None:
    """Find missing or unreadable image containers before any model is built (no decoding)."""
    from invprob.recipe import data_path_problems

    missing = data_path_problems(recipe)
    if missing:
        raise InputError(str(missing[0]))
    if recipe.data.images is not None:
        from invprob.images import list_images

        try:
            list_images(recipe.data.images, recipe.data.npz_key)
        except DataError as exc:
            raise InputError(str(exc)) from None


def _write_result(
    directory: Path,
    components: Components,
    inputs: Inputs,
    solved: Solved,
    interrupts: Interrupts,
    environment: dict[str, Any],
    started: float,
) -> RunResult:
    """Every output of the batches solved (``metrics.json`` first) and, last, ``status.json``."""
    results = solved.results
    count = sum(r.best_image.shape[0] for r in results)
    names = inputs.names[:count]
    truth = inputs.truth[:count] if inputs.truth is not None else None
    signal = signal_name(interrupts.signum) if solved.interrupted and interrupts.signum is not None else None
    extra: dict[str, Any] = {"signal": signal} if signal is not None else {}
    if solved.aborted:
        extra["aborted"] = solved.aborted
    if solved.diverged:
        extra["diverged"] = solved.diverged
    extra["seconds"] = time.perf_counter() - started
    metrics = outputs.write_outputs(
        directory, components, names, solved.observations, results, truth, solved.interrupted,
        operators=solved.operators, extra=extra,
        bit_depths=inputs.bit_depths[:count] if inputs.bit_depths else None,
    )  # fmt: skip
    environment = run_record.finish_environment(environment)
    outputs.write_json(directory / "environment.json", environment)
    status = "interrupted" if solved.interrupted else "diverged" if solved.diverged else "complete"
    outputs.write_status(
        directory, status, error=_divergence_text(solved.diverged) or None, signal=signal,
        started=environment["started"], failed_outputs=metrics.get("failed_outputs"),
    )  # fmt: skip
    result = RunResult(directory, metrics, results, names, solved.interrupted, environment)
    result.signal = interrupts.signum if solved.interrupted else None
    result.ground_truth = to_unit(truth) if truth is not None else None
    result.observations = _public_observations(solved)
    return result


def _public_observations(solved: Solved) -> torch.Tensor | list[torch.Tensor] | None:
    """The batches' observations in public units (:func:`invprob.unit_range.measurement_to_unit`);
    None, said on the terminal, if an operator cannot measure a white image (the run, already
    written, stays complete)."""
    if not solved.observations:
        return None
    try:
        public = [
            measurement_to_unit(operator, y, tuple(result.best_image.shape[1:]))
            for y, operator, result in zip(solved.observations, solved.operators, solved.results)
        ]
    except Exception as exc:  # noqa: BLE001 - an operator's own error; the run's outputs are already whole
        _warn(f"run.observations is not available in [0, 1]: the operator failed on a white image: {exc}")
        return None
    return outputs.join_batches(public)


def _say_unavailable(components: Components, *, given_observation: bool) -> None:
    """One line on the terminal per metric the recipe names that this run cannot compute.

    ``metrics.json`` records every unavailable metric under ``unavailable``; those the recipe
    did not name (it names none: every installed metric is tried) are listed there quietly, so
    that a missing LPIPS backbone does not warn on every run that never asked for LPIPS."""
    named = set(components.recipe.metrics or ())
    for name, reason in components.unavailable.items():
        if name in named:
            _warn(f"metric {name} is unavailable: {' '.join(reason.split())}")
    if given_observation and components.metrics:
        _warn(f"metrics {', '.join(components.metrics)} are not computed: {NO_GROUND_TRUTH}")


def _mark_failed(directory: Path, exc: BaseException, interrupts: Interrupts, started: str) -> None:
    """``status.json`` of a run that ended without its result: ``aborted`` by a signal, else
    ``failed``, with the error and its traceback."""
    try:
        if isinstance(exc, KeyboardInterrupt):
            signum = getattr(exc, "signum", interrupts.signum)
            name = signal_name(signum) if signum is not None else "SIGINT"
            error = f"aborted by {name} before any result"
            outputs.write_status(directory, "aborted", error=error, signal=name, started=started)
        else:
            error = f"{type(exc).__name__}: {exc}"
            outputs.write_status(directory, "failed", error=error, started=started)
            with outputs.atomic_path(directory / "error.txt") as tmp:
                tmp.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    except Exception:  # noqa: BLE001 - the original error matters more than the marker
        pass


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
        generator = components.generator
        target = components.image_shape if generator is not None else None
        batch = load_images(
            data.images, target, select=data.select, npz_key=data.npz_key, fit=data.fit,
            generator=generator_name(generator) if generator is not None else None,
        )  # fmt: skip
        if isinstance(batch.images, torch.Tensor):
            return Inputs(batch.images.to(device), None, batch.names, batch.bit_depths)
        return _grouped_by_size(batch.images, batch.names, device, batch.bit_depths)
    except DataError as exc:
        raise InputError(str(exc)) from None


def _grouped_by_size(images: list[torch.Tensor], names: list[str], device: str, bit_depths: list[int]) -> Inputs:
    """Images of several sizes (a run without a generator keeps each at its own), reordered so
    that images of one size follow each other (sizes in order of first appearance), and said."""
    shapes = list(dict.fromkeys(tuple(image.shape) for image in images))
    order = sorted(range(len(images)), key=lambda i: shapes.index(tuple(images[i].shape)))
    sizes = ", ".join(f"{sum(tuple(im.shape) == shape for im in images)} of {shape[2]}x{shape[1]}" for shape in shapes)
    print(
        f"data: the images keep their own sizes ({sizes}); each size is solved in its own batches, "
        "with the operator built for it",
        file=sys.stderr,
        flush=True,
    )
    return Inputs([images[i].to(device) for i in order], None, [names[i] for i in order], [bit_depths[i] for i in order])


def _output_shape(components: Components) -> tuple[int, ...]:
    """What the operator outputs for one image of the run's image shape."""
    with torch.no_grad():
        zeros = torch.zeros(1, *components.image_shape, device=components.context.device)
        return tuple(components.operator.A(zeros).shape[1:])


def solve_batches(
    components: Components,
    inputs: Inputs,
    *,
    show_progress: bool = True,
    interrupts: Interrupts | None = None,
) -> Solved:
    """Solve every batch in turn; returns the batches solved (:class:`Solved`).

    Noise draws come from ``rng("noise")`` and the solver's from ``rng("solver")``, both
    created here, once per run. ``interrupts`` (installed by :func:`run`) stops the solver on
    the first signal; without it, nothing is handled here.
    """
    recipe = components.recipe
    noise_rng = components.context.rng("noise")
    solver_rng = components.context.rng("solver")
    interrupts = interrupts if interrupts is not None else Interrupts("stop")
    solved = Solved([], [], False, [])
    monitor: Monitor | None = None

    def stop() -> None:
        if monitor is not None:
            monitor.request_stop()

    interrupts.on_stop = stop
    for index, (start, stop_at) in enumerate(inputs.batches(recipe.data.batch_size)):
        if interrupts.received:
            solved.interrupted = True
            break
        truth = inputs.truth[start:stop_at] if inputs.truth is not None else None
        if isinstance(truth, list):
            truth = torch.stack(truth)
        image_shape = tuple(truth.shape[1:]) if truth is not None else components.image_shape
        operator = components.operator_for(image_shape)  # type: ignore[arg-type]
        if inputs.observations is not None:
            observation = inputs.observations[start:stop_at]
        else:
            assert truth is not None
            with torch.no_grad():
                observation = operator(truth, rng=noise_rng)
        problem = InverseProblem(
            operator=operator,
            observation=observation,
            image_shape=image_shape,  # type: ignore[arg-type]
            generator=components.generator,
            losses=components.losses,
            priors=components.priors,
            ground_truth=truth,
        )
        frame_every = recipe.outputs.gif_every if recipe.outputs.gif else None
        monitor = Monitor(show_progress=show_progress, frame_every=frame_every)
        if interrupts.received:
            monitor.request_stop()
        try:
            result = components.solver.solve(problem, rng=solver_rng, monitor=monitor)
        except Interrupted as exc:
            if not solved.results:
                raise
            solved.interrupted = True
            solved.aborted = (
                f"{signal_name(exc.signum)} a third time while solving the batch starting at image {start}: "
                f"the {start} image(s) solved before it are kept"
            )
            break
        finally:
            monitor.close()
        if not result.frames:
            result.frames = monitor.frames
        event = divergence(result, index, inputs.names[start:stop_at])
        if event is not None:
            solved.diverged.append(event)
            _warn(f"diverged: {_divergence_text([event])}")
        solved.results.append(result)
        solved.observations.append(observation)
        solved.operators.append(operator)
        if result.interrupted:
            solved.interrupted = True
    return solved


def divergence(result: SolverResult, batch: int, names: list[str]) -> dict[str, Any] | None:
    """The event of a batch whose loss became non-finite, or None.

    ``{"batch", "step", "quantity", "images_without_finite_result"}``: the first step at
    which a recorded scalar (``loss``, ``measurement_loss``...) was NaN or infinite (None when
    only the returned result was), and the images for which not even the best iterate is
    finite (their outputs are grey and their metrics null).
    """
    step, quantity = None, None
    for name, values in result.history.items():
        first = next((i for i, v in enumerate(values) if v is None or not math.isfinite(v)), None)
        if first is not None and (step is None or first < step):
            step, quantity = first, name
    finite = torch.isfinite(result.best_image.detach().reshape(result.best_image.shape[0], -1)).all(dim=1)
    finite &= torch.isfinite(result.best_loss.detach().reshape(-1))
    lost = [names[i] for i in range(len(names)) if i < finite.shape[0] and not bool(finite[i])]
    if step is None and not lost:
        return None
    return {"batch": batch, "step": step, "quantity": quantity, "images_without_finite_result": lost}


def _divergence_text(events: list[dict[str, Any]]) -> str:
    parts = []
    for event in events:
        where = (
            f"the {event['quantity']} became non-finite at step {event['step']} of batch {event['batch']}"
            if event["step"] is not None
            else f"the solver returned non-finite values for batch {event['batch']}"
        )
        lost = event["images_without_finite_result"]
        kept = (
            f"no finite iterate for {', '.join(lost)} (lower the learning rate or check the operator)"
            if lost
            else "the best finite iterate is kept"
        )
        parts.append(f"{where}; {kept}")
    return "; ".join(parts)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)
