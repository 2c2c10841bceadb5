"""Build one registered component by name, without a recipe (the kernel's part of building).

``invprob.build_operator("downsample", image_shape=(3, 64, 64), factor=4)`` and its siblings
are :func:`build_component`; building every component of a run from a recipe and its data is
the application's (:mod:`invprob.app.components`), which uses :func:`resolve_device` and
raises :class:`InputError` as this module does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from invprob.context import BuildContext
from invprob.hints import component_kind, singular
from invprob.registry import Registry, default_registry

if TYPE_CHECKING:
    from invprob.generator import Generator
    from invprob.solver import Solver
    from invprob.unit_range import UnitRangeOperator


class InputError(ValueError):
    """The recipe is valid but what it points at is not usable (exit code 2)."""


def resolve_device(requested: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; refuse ``cuda`` without a GPU."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was requested but no CUDA device is available; use --device cpu or auto")
    return requested



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
    kind = component_kind(kind, list(registry.components))
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
