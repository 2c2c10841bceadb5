"""Loading a recipe: from a file, a dict or a loaded recipe, with overrides, validated once.

:func:`load_recipe` is the one way in: it reads the file (:mod:`invprob.recipe.reading`),
applies the overrides (:mod:`invprob.recipe.overrides`), writing out the solver's defaults
where an override reaches inside an omitted section (``priors.0.params.lam=0.01``), and
validates the result (:func:`invprob.recipe.validation.validate_recipe`). A recipe given as a
dict may hold components as Python objects (:mod:`invprob.user_modules`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from invprob.recipe.overrides import OverrideError, apply_overrides, split_path, with_absolute_path
from invprob.recipe.problems import RecipeError, RecipeProblem
from invprob.recipe.reading import check_shape, read_recipe_file
from invprob.recipe.schema import SOLVER_DEFAULT_SECTIONS, Recipe, solver_default
from invprob.recipe.validation import validate_recipe
from invprob.registry import Registry, default_registry
from invprob.user_modules import extract_live_components, with_live_components


def load_recipe(
    source: str | Path | Mapping[str, Any] | Recipe,
    overrides: Iterable[str] = (),
    *,
    registry: Registry | None = None,
    base_dir: str | Path | None = None,
    paths_from: str | Path | None = None,
) -> Recipe:
    """Load a recipe from a YAML file, a dict or a loaded :class:`Recipe`, apply overrides, and
    validate it, once.

    A loaded recipe without overrides is returned as it is; with overrides they apply to what
    was written (:attr:`Recipe.raw`), so omitted sections still follow the (possibly
    overridden) solver, and its source, base folder and earlier overrides are kept. Relative
    paths resolve against ``base_dir`` (default: the recipe file's folder, else the working
    directory); ``paths_from`` makes relative paths given in ``overrides`` resolve against that
    folder instead (the command line passes the working directory:
    :func:`~invprob.recipe.overrides.with_absolute_path`).

    Raises :class:`RecipeError` listing every problem (also for bad overrides).
    """
    overrides = list(overrides)
    registry = registry if registry is not None else default_registry()
    live: dict[tuple[str, str], Any] = {}
    earlier: tuple[str, ...] = ()
    if isinstance(source, Recipe):
        if not overrides:
            return source
        data, path, live, earlier = source.raw, source.source, source.live_components, source.overrides
        base = Path(base_dir) if base_dir is not None else source.base_dir
        registry = source.registry_with_live_components(registry)
    elif isinstance(source, Mapping):
        data, path = dict(source), None
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        try:
            data, live = extract_live_components(data)
        except TypeError as exc:
            raise RecipeError([RecipeProblem("", str(exc))]) from None
        registry = with_live_components(registry, live)
    else:
        path = Path(source)
        data = read_recipe_file(path)
        base = Path(base_dir) if base_dir is not None else path.resolve().parent
    check_shape(data, path)  # before overrides copy the data
    try:
        data, applied = _apply_overrides(data, overrides, registry, Path(paths_from) if paths_from else None)
    except OverrideError as exc:
        raise RecipeError([RecipeProblem("", str(exc))], source=path) from None
    return validate_recipe(
        data, base_dir=base, registry=registry, source=path, overrides=(*earlier, *applied), live=live
    )


def _apply_overrides(
    data: Mapping[str, Any], overrides: Iterable[str], registry: Registry, paths_from: Path | None
) -> tuple[dict[str, Any], list[str]]:
    """:func:`~invprob.recipe.overrides.apply_overrides` one by one, writing out the solver's
    defaults where one reaches inside them, and with ``paths_from`` making relative paths
    absolute; returns the data and the overrides as applied."""
    result, applied = dict(data), []
    for override in overrides:
        if paths_from is not None:
            override = with_absolute_path(override, result, registry, paths_from)
        path = override[1:] if override.startswith("~") else override.split("=", 1)[0]
        parts = split_path(path.strip())
        if len(parts) > 1 and parts[0] in SOLVER_DEFAULT_SECTIONS and parts[0] not in result:
            result[parts[0]] = solver_default(result, str(parts[0]), registry)[0]
        result = apply_overrides(result, [override])
        applied.append(override)
    return result, applied
