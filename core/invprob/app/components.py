"""From a validated recipe to built components: generator, operator, losses, priors, solver, metrics.

Everything a run needs is built here, before anything is written, so that the run's record
(``environment.json``) is complete when it is written: every weight file loaded, every
metric that turned out unavailable. ``invprob.build`` is :func:`build`. (The module is not
called ``build.py``: importing a submodule ``invprob.build`` would replace the lazily
exported function ``invprob.build`` with the module.)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

from invprob.building import InputError, resolve_device
from invprob.context import BuildContext
from invprob.generator import Generator, generator_name
from invprob.metrics import Metric, build_metrics
from invprob.operator import Operator
from invprob.problem import WeightedLoss
from invprob.recipe import Recipe, default_metric_names
from invprob.registry import Registry, default_registry
from invprob.solver import Solver
from invprob.user_modules import LIVE_DISTRIBUTION

STREAMS: tuple[str, ...] = ("operator", "samples", "noise", "solver")
"""The random streams of a run; each is ``context.rng(name)``."""


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

    _operators: dict[tuple[int, ...], Operator] = field(default_factory=dict, repr=False)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        assert self.context.image_shape is not None
        return self.context.image_shape

    def operator_for(self, image_shape: tuple[int, int, int]) -> Operator:
        """The recipe's operator built for images of ``image_shape``: :attr:`operator` for the
        run's own shape, else built once per shape (a run without a generator keeps every image
        at its own size; its masks and matrices are drawn from the same seed)."""
        shape = tuple(int(s) for s in image_shape)
        if shape == tuple(self.image_shape):
            return self.operator
        if shape not in self._operators:
            context = dataclasses.replace(self.context, image_shape=shape)
            built = _built(context.registry, "operators", self.recipe.operator, context, "operator")
            self._operators[shape] = built.to(context.device)
        return self._operators[shape]


def build(recipe: Recipe, *, device: str | None = None, registry: Registry | None = None) -> Components:
    """Build every component of ``recipe`` on ``device`` (default: the recipe's)."""
    registry = recipe.registry_with_live_components(registry if registry is not None else default_registry())
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
    context.generator = generator
    operator = _built(registry, "operators", recipe.operator, context, "operator").to(context.device)
    if generator is not None and recipe.operator.type.startswith(f"{LIVE_DISTRIBUTION}:"):
        _check_takes_generator_images(operator, generator, context.device)
    losses = [
        WeightedLoss(spec.weight, _built(registry, "losses", spec, context, f"losses[{i}]").to(context.device))
        for i, spec in enumerate(recipe.losses)
    ]
    priors = [
        _built(registry, "priors", spec, context, f"priors[{i}]").to(context.device) for i, spec in enumerate(recipe.priors)
    ]
    solver = _built(registry, "solvers", recipe.solver, context, "solver")
    names = recipe.metrics if recipe.metrics is not None else default_metric_names(registry)
    metrics, unavailable = build_metrics(names, registry, context)
    return Components(recipe, context, generator, operator, losses, priors, solver, metrics, unavailable)


def _check_takes_generator_images(operator: Operator, generator: Generator, device: str) -> None:
    """An operator given from Python was built for some image size, which may not be the
    generator's: every image of the run is fitted to the generator's size (``data.fit``), so
    an operator that cannot take one is the mistake to name, with the generator's size."""
    shape = tuple(int(s) for s in generator.image_shape)
    dtype = next((p.dtype for p in generator.parameters()), torch.float32)
    try:
        with torch.no_grad():
            operator.A(torch.zeros(1, *shape, dtype=dtype, device=device))
    except Exception as exc:  # noqa: BLE001 - a mask, a matrix or a size check: each says it its own way
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(
            f"operator: the generator {generator_name(generator)} makes images {list(shape)} (C, H, W), the size "
            f"every image of the run is fitted to (data.fit), but the operator given from Python does not take "
            f"them ({reason}); build it for the generator's images: "
            f"invprob.build_operator(..., image_shape={shape})"
        ) from None


def _built(registry: Registry, kind: str, spec: Any, context: BuildContext, where: str) -> Any:
    """Build one component; a file it cannot read (a damaged mask, a missing image: an
    ``OSError``) or params that do not fit what was built before it (a box outside the
    generator's image, a prior form the discriminator contradicts: a ``ValueError``) is an
    :class:`InputError` naming the recipe section, not a crash."""
    from invprob.weights import WeightsNotFoundError

    try:
        return registry.build(kind, spec.type, registry.spec_params(kind, spec, context.base_dir), context)
    except WeightsNotFoundError:
        raise  # already says which file and where it was looked for
    except (OSError, ValueError) as exc:
        raise InputError(f"{where} ({spec.type}): {exc}") from None


def _native_image_shape(recipe: Recipe) -> tuple[int, int, int]:
    """Without a generator, images keep their own sizes; the operator is first built for the
    first selected image's (grey or RGB), and for the others' as their batches come
    (:meth:`Components.operator_for`)."""
    from invprob.images import DataError, apply_select, list_images, native_shape

    if recipe.data.images is None:
        raise InputError(
            "data.samples and data.observation need a generator (it sets the size of the images to "
            "recover): add a 'generator' section or use data.images"
        )
    try:
        found = list_images(recipe.data.images, recipe.data.npz_key)
        kept = apply_select(found, recipe.data.select)
        if not kept:
            raise DataError(f"data.select {recipe.data.select!r} keeps none of the {len(found)} images")
        return native_shape(kept[0][1]())
    except DataError as exc:
        raise InputError(str(exc)) from None
