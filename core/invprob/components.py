"""From a validated recipe to built components: generator, operator, losses, priors, solver, metrics.

Everything a run needs is built here, before anything is written, so that the run's record
(``environment.json``) is complete when it is written: every weight file loaded, every
metric that turned out unavailable. ``invprob.build`` is :func:`build`. (The module is not
called ``build.py``: importing a submodule ``invprob.build`` would replace the lazily
exported function ``invprob.build`` with the module.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from invprob.context import BuildContext
from invprob.generator import Generator, generator_name
from invprob.metrics import Metric, build_metrics
from invprob.operator import Operator
from invprob.problem import WeightedLoss
from invprob.recipe import Recipe, load_recipe
from invprob.registry import Registry, default_registry
from invprob.solver import Solver
from invprob.user_modules import LIVE_DISTRIBUTION

if TYPE_CHECKING:
    from invprob.unit_range import UnitRangeOperator

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
    metrics, unavailable = build_metrics(recipe.metrics, registry, context)
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
        return registry.build(kind, spec.type, spec.params, context)
    except WeightsNotFoundError:
        raise  # already says which file and where it was looked for
    except (OSError, ValueError) as exc:
        raise InputError(f"{where} ({spec.type}): {exc}") from None


def _native_image_shape(recipe: Recipe) -> tuple[int, int, int]:
    """Without a generator, images keep their own sizes; the operator is first built for the
    first selected image's (grey or RGB), and for the others' as their batches come
    (:meth:`Components.operator_for`)."""
    from invprob.data import list_images

    if recipe.data.images is None:
        raise InputError(
            "data.samples and data.observation need a generator (it sets the size of the images to "
            "recover): add a 'generator' section or use data.images"
        )
    from invprob.data import DataError, native_shape

    try:
        found = list_images(recipe.data.images, recipe.data.npz_key)
        first = _first_selected(found, recipe.data.select)[1]()
    except DataError as exc:
        raise InputError(str(exc)) from None
    return native_shape(first)


def _first_selected(found: list, select: str | None) -> Any:
    from invprob.data import DataError, _apply_select

    kept = _apply_select(found, select)
    if not kept:
        raise DataError(f"data.select {select!r} keeps none of the {len(found)} images")
    return kept[0]


# -- single components, from Python -------------------------------------------------------


def build_component(
    kind: str,
    name: str,
    /,
    *,
    params: Mapping[str, Any] | None = None,
    image_shape: tuple[int, int, int] | None = None,
    generator: Generator | None = None,
    device: str = "cpu",
    seed: int = 0,
    base_dir: str | Path | None = None,
    registry: Registry | None = None,
    **more_params: Any,
) -> Any:
    """Build one registered component without a recipe: ``build_component("operator",
    "downsample", image_shape=(3, 64, 64), factor=4)``.

    ``kind`` is singular or plural (``"operator"`` or ``"operators"``); params come as keyword
    arguments or as ``params`` (for a param whose name is one of this function's own); they are
    validated by the component's params model, and invalid ones raise a
    :class:`~invprob.recipe.RecipeError` listing every problem with its path. ``image_shape``
    ``(C, H, W)`` is what operators and some priors are built for (default: the generator's);
    ``generator`` is what priors and solvers on a latent use; random choices made at build time
    (masks, sensing matrices) draw from ``seed``'s ``"operator"`` stream, as in a run; relative
    paths resolve against ``base_dir`` (default: the working directory). The component is on
    ``device``. An operator comes wrapped to act on images in [0, 1], the public range
    (:class:`~invprob.unit_range.UnitRangeOperator`); the other components work on [-1, 1].
    """
    from pydantic import ValidationError

    from invprob.recipe import RecipeError, problems_from_validation_error

    registry = registry if registry is not None else default_registry()
    from invprob.hints import singular

    kinds = {k: k for k in registry.components} | {singular(k): k for k in registry.components}
    if kind not in kinds:
        raise ValueError(f"unknown component kind {kind!r}; expected one of {', '.join(registry.components)}")
    kind = kinds[kind]
    values = {**dict(params or {}), **more_params}
    if image_shape is None and generator is not None:
        image_shape = tuple(generator.image_shape)  # type: ignore[assignment]
    context = BuildContext(
        registry=registry,
        device=resolve_device(device),
        seed=seed,
        base_dir=Path(base_dir) if base_dir is not None else Path.cwd(),
        image_shape=tuple(int(s) for s in image_shape) if image_shape is not None else None,  # type: ignore[arg-type]
        generator=generator,
    )
    component = registry.get(kind, name)
    try:
        validated = component.validate_params(values, base_dir=context.base_dir)
    except ValidationError as exc:
        where = (f"{singular(kind)} {name!r}", "params")
        raise RecipeError(problems_from_validation_error(exc, component.params_model, prefix=where)) from None
    built = component.build(validated, context)
    built = built.to(context.device) if isinstance(built, torch.nn.Module) else built
    if kind == "operators":
        from invprob.unit_range import UnitRangeOperator

        return UnitRangeOperator(built, context.image_shape)
    return built


def build_operator(name: str, /, **kwargs: Any) -> UnitRangeOperator:
    """:func:`build_component` for an operator: ``build_operator("downsample", image_shape=(3, 64, 64), factor=4)``.

    It acts on images in [0, 1], the public range (a :class:`~invprob.unit_range.UnitRangeOperator`;
    its ``operator`` is the invprob operator on [-1, 1] that solvers use)."""
    return build_component("operators", name, **kwargs)


def build_generator(name: str, /, **kwargs: Any) -> Generator:
    """:func:`build_component` for a generator (in eval mode, gradients off, as a run uses it)."""
    return build_component("generators", name, **kwargs).eval().requires_grad_(False)


def build_prior(name: str, /, **kwargs: Any) -> Any:
    """:func:`build_component` for a prior (pass ``generator=`` for priors that read it)."""
    return build_component("priors", name, **kwargs)


def build_loss(name: str, /, **kwargs: Any) -> Any:
    """:func:`build_component` for a loss."""
    return build_component("losses", name, **kwargs)


def build_solver(name: str, /, **kwargs: Any) -> Solver:
    """:func:`build_component` for a solver."""
    return build_component("solvers", name, **kwargs)
