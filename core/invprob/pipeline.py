"""From a validated recipe to a finished run directory.

``build`` turns a recipe into components; ``run`` loads the data, makes the observations,
calls the solver batch by batch, and writes everything to a new run directory. Ctrl-C asks
the solver to stop after its current step; the best result so far is written as usual and
marked ``interrupted``. A second Ctrl-C aborts at once.
"""

from __future__ import annotations

import contextlib
import math
import platform
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import invprob
from invprob import runs
from invprob.context import BuildContext
from invprob.data import DataError, load_images
from invprob.generator import Generator
from invprob.metrics import MetricSet
from invprob.operator import Operator
from invprob.problem import InverseProblem, WeightedLoss
from invprob.progress import Monitor
from invprob.recipe import Recipe, dump_recipe, load_recipe, validate_recipe
from invprob.registry import Registry, default_registry
from invprob.solver import Solver, SolverResult

# Seed offsets: each random stream of a run is seeded from the recipe seed independently.
SEED_OPERATOR, SEED_SAMPLES, SEED_NOISE, SEED_SOLVER = 0, 1, 2, 3


class InputError(ValueError):
    """The recipe is valid but what it points at is not usable (exit code 2)."""


class RunFailure(RuntimeError):
    """The run failed while running (exit code 1)."""


@dataclass
class Components:
    """The built components of a recipe, on their device."""

    recipe: Recipe
    context: BuildContext
    generator: Generator | None
    operator: Operator
    losses: list[WeightedLoss]
    priors: list[Any]
    solver: Solver

    @property
    def image_shape(self) -> tuple[int, int, int]:
        assert self.context.image_shape is not None
        return self.context.image_shape


@dataclass
class RunResult:
    """What a run produced: its directory, per-image metrics and the solver results."""

    directory: Path
    metrics: dict[str, Any]
    results: list[SolverResult] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def reconstructions(self) -> torch.Tensor:
        """All best reconstructions ``[N, C, H, W]``, in data order."""
        return torch.cat([r.best_image for r in self.results])


def resolve_device(requested: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; refuse ``cuda`` without a GPU."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was requested but no CUDA device is available; use --device cpu or auto")
    return requested


def _as_recipe(
    recipe: Recipe | str | Path | Mapping[str, Any], overrides: Iterable[str], registry: Registry
) -> Recipe:
    if isinstance(recipe, Recipe):
        if overrides:
            return validate_recipe(
                _apply(recipe.raw, overrides), base_dir=recipe.base_dir, registry=registry, source=recipe.source
            )
        return recipe
    return load_recipe(recipe, overrides, registry=registry)


def _apply(raw: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    from invprob.recipe import apply_overrides

    return apply_overrides(raw, overrides)


def build(recipe: Recipe, *, device: str | None = None, registry: Registry | None = None) -> Components:
    """Build every component of ``recipe`` on ``device`` (default: the recipe's)."""
    registry = registry if registry is not None else default_registry()
    context = BuildContext(
        registry=registry,
        device=resolve_device(device or recipe.device),
        seed=recipe.seed,
        base_dir=recipe.base_dir,
    )
    generator = None
    if recipe.generator is not None:
        generator = registry.build("generators", recipe.generator.type, recipe.generator.params, context)
        generator = generator.to(context.device).eval().requires_grad_(False)
        context.image_shape = tuple(generator.image_shape)  # type: ignore[assignment]
    else:
        context.image_shape = _native_image_shape(recipe)
    context.extras["generator"] = generator
    operator = registry.build("operators", recipe.operator.type, recipe.operator.params, context).to(context.device)
    losses = [
        WeightedLoss(spec.weight, registry.build("losses", spec.type, spec.params, context).to(context.device))
        for spec in recipe.losses
    ]
    priors = [registry.build("priors", spec.type, spec.params, context).to(context.device) for spec in recipe.priors]
    solver = registry.build("solvers", recipe.solver.type, recipe.solver.params, context)
    return Components(recipe, context, generator, operator, losses, priors, solver)


def _native_image_shape(recipe: Recipe) -> tuple[int, int, int]:
    """Without a generator, images keep the first image's own size (grey or RGB)."""
    from invprob.data import list_images

    if recipe.data.images is None:
        raise InputError("data.samples needs a generator: add a 'generator' section or use data.images")
    found = list_images(recipe.data.images, recipe.data.npz_key)
    first = found[0][1]()
    channels = 1 if first.ndim == 2 or first.shape[-1] == 1 else 3
    return (channels, first.shape[0], first.shape[1])


def load_ground_truth(components: Components) -> tuple[torch.Tensor, list[str]]:
    """The images to solve for ``[N, C, H, W]`` in [-1, 1], with their names."""
    data = components.recipe.data
    if data.samples is not None:
        if components.generator is None:
            raise InputError("data.samples needs a generator: add a 'generator' section or use data.images")
        sampler = components.context.torch_generator(SEED_SAMPLES)
        with torch.no_grad():
            latents = components.generator.sample_latent(data.samples, sampler)
            images = components.generator(latents).clamp(-1, 1)
        return images, [f"sample{i:04d}" for i in range(data.samples)]
    assert data.images is not None
    batch = load_images(data.images, components.image_shape, select=data.select, npz_key=data.npz_key)
    return batch.images.to(components.context.device), batch.names


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


def run(
    recipe: Recipe | str | Path | Mapping[str, Any],
    overrides: Iterable[str] = (),
    *,
    out: str | Path | None = None,
    device: str | None = None,
    show_progress: bool = True,
    registry: Registry | None = None,
) -> RunResult:
    """Run a recipe end to end and write a new run directory; returns its :class:`RunResult`."""
    started = time.perf_counter()
    registry = registry if registry is not None else default_registry()
    recipe = _as_recipe(recipe, list(overrides), registry)
    components = build(recipe, device=device, registry=registry)
    try:
        truth, names = load_ground_truth(components)
    except DataError as exc:
        raise InputError(str(exc)) from None
    root = Path(out) if out is not None else (recipe.outputs.dir or Path.cwd() / "runs")
    directory = runs.new_run_directory(root)
    (directory / "recipe.resolved.yaml").write_text(dump_recipe(recipe), encoding="utf-8")
    runs.write_json(directory / "environment.json", environment(components, registry))

    interrupts = _Interrupts()
    results: list[SolverResult] = []
    noise_generator = components.context.torch_generator(SEED_NOISE)
    solver_generator = components.context.torch_generator(SEED_SOLVER)
    observations: list[torch.Tensor] = []
    batch_size = recipe.data.batch_size
    with interrupts.installed():
        for start in range(0, truth.shape[0], batch_size):
            if interrupts.stopped:
                break
            x = truth[start : start + batch_size]
            with torch.no_grad():
                observation = components.operator(x, generator=noise_generator)
            problem = InverseProblem(
                operator=components.operator,
                observation=observation,
                image_shape=components.image_shape,
                generator=components.generator,
                losses=components.losses,
                priors=components.priors,
                ground_truth=x,
            )
            frame_every = recipe.outputs.gif_every if recipe.outputs.gif else None
            monitor = Monitor(show_progress=show_progress, frame_every=frame_every)
            interrupts.monitor = monitor
            if interrupts.stopped:
                monitor.request_stop()
            try:
                result = components.solver.solve(problem, rng=solver_generator, monitor=monitor)
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

    solved = sum(r.best_image.shape[0] for r in results)
    metrics = write_outputs(
        directory, components, truth[:solved], names[:solved], observations, results, interrupts.stopped
    )
    metrics["seconds"] = time.perf_counter() - started
    runs.write_json(directory / "metrics.json", metrics)
    runs.write_json(directory / "environment.json", environment(components, registry))
    return RunResult(directory, metrics, results, names[:solved], interrupts.stopped)


def write_outputs(
    directory: Path,
    components: Components,
    truth: torch.Tensor,
    names: list[str],
    observations: list[torch.Tensor],
    results: list[SolverResult],
    interrupted: bool,
) -> dict[str, Any]:
    """Images, grid, latents, history and the metrics dict of a finished (or stopped) run."""
    recipe = components.recipe
    metrics: dict[str, Any] = {"interrupted": interrupted, "images_solved": len(names), "images": []}
    if not results:
        return metrics
    reconstruction = torch.cat([r.best_image for r in results])
    measurement_loss = torch.cat([r.best_loss for r in results]).tolist()
    shown = [
        runs.as_displayable(y, components.image_shape, _adjoint(components.operator)) for y in observations
    ]
    observed = torch.cat(shown) if all(s is not None for s in shown) else None

    image_dir = directory / "images"
    image_dir.mkdir()
    for index, name in enumerate(names):
        stem = f"{index:04d}_{name}"
        runs.save_png(reconstruction[index], image_dir / f"{stem}_reconstruction.png")
        runs.save_png(truth[index], image_dir / f"{stem}_ground_truth.png")
        if observed is not None:
            runs.save_png(observed[index], image_dir / f"{stem}_observed.png")
    runs.save_grid([observed, reconstruction, truth], directory / "grid.png")

    metric_set = MetricSet(recipe.metrics)
    values = metric_set(reconstruction, truth)
    for index, name in enumerate(names):
        entry: dict[str, Any] = {"name": name, "measurement_loss": measurement_loss[index]}
        entry.update({metric: values[metric][index] for metric in values})
        metrics["images"].append(entry)
    metrics["mean"] = {
        metric: _mean([v for v in values[metric] if v is not None]) for metric in values
    }
    metrics["mean"]["measurement_loss"] = _mean(measurement_loss)
    if metric_set.unavailable:
        metrics["unavailable"] = metric_set.unavailable
    metrics["timings"] = [r.timings for r in results]

    if recipe.outputs.latents:
        latents = _concatenate_latents(results)
        if latents:
            runs.save_latents(latents, directory / "latents.safetensors", {"names": ",".join(names)})
    histories = [r.history for r in results]
    runs.write_json(directory / "history.json", histories)
    if any(any(h.values()) for h in histories):
        runs.plot_history(histories, directory / "loss.png")
    frames = results[0].frames
    if recipe.outputs.gif and frames:
        runs.save_gif(frames, directory / "optimisation.gif")
    return metrics


def _adjoint(operator: Operator):
    return operator.A_adjoint if operator.linear else None


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _concatenate_latents(results: list[SolverResult]) -> dict[str, torch.Tensor]:
    keys = set(results[0].best_latents)
    for result in results[1:]:
        keys &= set(result.best_latents)
    return {key: torch.cat([r.best_latents[key].detach().cpu() for r in results]) for key in sorted(keys)}


def environment(components: Components, registry: Registry) -> dict[str, Any]:
    """Versions, device, seeds and the sha256 of every weight file loaded: enough to rerun."""
    from invprob.weights import loaded_weights

    device = components.context.device
    device_name = torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.processor() or "cpu"
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "invprob": invprob.__version__,
        "torch": torch.__version__,
        "distributions": {
            info.name: info.version for info in sorted(registry.distributions.values(), key=lambda d: d.name)
        },
        "plugin_failures": [f.summary() for f in registry.failures],
        "device": device,
        "device_name": device_name,
        "seeds": {
            "recipe": components.recipe.seed,
            "operator": components.recipe.seed + SEED_OPERATOR,
            "samples": components.recipe.seed + SEED_SAMPLES,
            "noise": components.recipe.seed + SEED_NOISE,
            "solver": components.recipe.seed + SEED_SOLVER,
        },
        "weights": [
            {"path": record.path, "sha256": record.sha256, "bytes": record.bytes} for record in loaded_weights()
        ],
    }
