"""From a validated recipe to built components: generator, operator, losses, priors, solver, metrics.

Everything a run needs is built here, before anything is written, so that the run's record
(``environment.json``) is complete when it is written: every weight file loaded, every
metric that turned out unavailable. ``invprob.build`` is :func:`build`. (The module is not
called ``build.py``: importing a submodule ``invprob.build`` would replace the lazily
exported function ``invprob.build`` with the module.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from invprob.context import BuildContext
from invprob.generator import Generator
from invprob.metrics import Metric, build_metrics
from invprob.operator import Operator
from invprob.problem import WeightedLoss
from invprob.recipe import Recipe, load_recipe
from invprob.registry import Registry, default_registry
from invprob.solver import Solver

STREAMS: tuple[str, ...] = ("operator", "samples", "noise", "solver")
"""The random streams of a run; each is ``context.rng(name)``."""

class InputError(ValueError):
    """The recipe is valid but what it points at is not usable (exit code 2)."""


@dataclass
class Components:
    """The built components of a recipe, on their device.

    ``metrics`` maps each metric name to its function; ``unavailable`` maps the metrics that
    cannot be computed here to the reason.
    """

    recipe: Recipe
    context: BuildContext
    generator: Generator | None
    operator: Operator
    losses: list[WeightedLoss]
    priors: list[Any]
    solver: Solver
    metrics: dict[str, Metric]
    unavailable: dict[str, str]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        assert self.context.image_shape is not None
        return self.context.image_shape


def resolve_device(requested: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; refuse ``cuda`` without a GPU."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was requested but no CUDA device is available; use --device cpu or auto")
    return requested


def as_recipe(
    recipe: Recipe | str | Path | Mapping[str, Any], overrides: Iterable[str], registry: Registry
) -> Recipe:
    """A validated recipe; a :class:`Recipe` without overrides is used as it is (validated once)."""
    if isinstance(recipe, Recipe):
        return recipe.with_overrides(overrides, registry)
    return load_recipe(recipe, overrides, registry=registry)


def build(recipe: Recipe, *, device: str | None = None, registry: Registry | None = None) -> Components:
    """Build every component of ``recipe`` on ``device`` (default: the recipe's)."""
    registry = registry if registry is not None else default_registry()
    context = BuildContext(
        registry=registry,
        device=resolve_device(device or recipe.device),
        seed=recipe.seed,
        base_dir=recipe.base_dir,
    )
    registry.setup_runtime(torch.device(context.device))
    generator = None
    if recipe.generator is not None:
        generator = _built(registry, "generators", recipe.generator, context, "generator")
        generator = generator.to(context.device).eval().requires_grad_(False)
        context.image_shape = tuple(generator.image_shape)  # type: ignore[assignment]
    else:
        context.image_shape = _native_image_shape(recipe)
    context.extras["generator"] = generator
    operator = _built(registry, "operators", recipe.operator, context, "operator").to(context.device)
    losses = [
        WeightedLoss(spec.weight, _built(registry, "losses", spec, context, f"losses[{i}]").to(context.device))
        for i, spec in enumerate(recipe.losses)
    ]
    priors = [
        _built(registry, "priors", spec, context, f"priors[{i}]").to(context.device) for i, spec in enumerate(recipe.priors)
    ]
    solver = _built(registry, "solvers", recipe.solver, context, "solver")
    metrics, unavailable = build_metrics(recipe.metrics, registry, context)
    return Components(recipe, context, generator, operator, losses, priors, solver, metrics, unavailable)


def _built(registry: Registry, kind: str, spec: Any, context: BuildContext, where: str) -> Any:
    """Build one component; a file it cannot read (a damaged mask, a missing image: an
    ``OSError``) or params that do not fit what was built before it (a box outside the
    generator's image, a prior form the discriminator contradicts: a ``ValueError``) is an
    :class:`InputError` naming the recipe section, not a crash."""
    from invprob.weights import WeightsNotFoundError

    try:
        return registry.build(kind, spec.type, spec.params, context)
    except WeightsNotFoundError:
        raise  # already says which file and where it was looked for
    except (OSError, ValueError) as exc:
        raise InputError(f"{where} ({spec.type}): {exc}") from None


def _native_image_shape(recipe: Recipe) -> tuple[int, int, int]:
    """Without a generator, images keep the first image's own size (grey or RGB)."""
    from invprob.data import list_images

    if recipe.data.images is None:
        raise InputError(
            "data.samples and data.observation need a generator (it sets the size of the images to "
            "recover): add a 'generator' section or use data.images"
        )
    found = list_images(recipe.data.images, recipe.data.npz_key)
    first = found[0][1]()
    channels = 1 if first.ndim == 2 or first.shape[-1] == 1 else 3
    return (channels, first.shape[0], first.shape[1])
