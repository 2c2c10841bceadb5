"""Validating a recipe in two stages, every problem reported at once.

1. the shape of the recipe (:class:`~invprob.recipe.schema.Recipe`, ``extra="forbid"``
   everywhere);
2. each component: its name must be registered, and its params must satisfy that
   component's own params model. Components nested in a component's params (fields marked
   with :class:`invprob.params.NestedKind`, such as ``compose``'s ``operators``) are checked
   the same way, recursively.

Then the checks across components (:mod:`invprob.recipe.checks`). Each problem carries its
full path (``solver.params.steps``, ``losses[1].weight``,
``operator.params.operators[1].params.sigma``), the offending value, and a "did you mean"
where a close name exists; problems in a section filled in from the solver's defaults say so
(``priors (default of solver 'yeh')[0].type``).

Each component's params are validated **once**: stage 2 keeps the validated params model
with its spec (:meth:`~invprob.params.ComponentSpec.keep_validated_params`), and building the
component and writing the resolved recipe use it as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from invprob.hints import singular, unknown_component_message
from invprob.params import Params, nested_component_fields, nested_specs
from invprob.recipe.checks import (
    component_specs_at,
    generator_problems,
    image_shape_problems,
    mask_problems,
    metric_problems,
    requirement_problems,
)
from invprob.recipe.problems import RecipeError, RecipeProblem, format_path, one_line, problems_from_validation_error
from invprob.recipe.reading import check_shape
from invprob.recipe.schema import SOLVER_DEFAULT_SECTIONS, Recipe, solver_default
from invprob.registry import Registry, default_registry

Validated = dict[tuple[Any, ...], tuple[str, Params]]
"""Path of a component in the recipe -> ``(its type, its validated params)``."""


def validate_recipe(
    data: Mapping[str, Any],
    *,
    base_dir: str | Path | None = None,
    registry: Registry | None = None,
    source: Path | None = None,
    overrides: Sequence[str] = (),
    live: Mapping[tuple[str, str], Any] | None = None,
) -> Recipe:
    """Both validation stages on a recipe dict (as written); a :class:`RecipeError` with every problem.

    Omitted ``losses``/``priors`` are filled in from the solver's defaults first, and checked.
    ``overrides`` (already applied to ``data``) and ``live`` (the components given as Python
    objects) are recorded with the recipe (:meth:`Recipe.set_origin`).
    """
    registry = registry if registry is not None else default_registry()
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    not_finite = check_shape(data, source)
    resolved = dict(data)
    defaulted: dict[str, str] = {}
    for section in SOLVER_DEFAULT_SECTIONS:
        if section not in data:
            resolved[section], solver = solver_default(data, section, registry)
            if solver is not None:
                defaulted[section] = solver
    problems: list[RecipeProblem] = []
    recipe: Recipe | None = None
    try:
        recipe = Recipe.model_validate(resolved, context={"base_dir": base})
    except ValidationError as exc:
        problems += problems_from_validation_error(exc, Recipe)
    validated: Validated = {}
    problems += component_problems(resolved, Recipe, registry, base_dir=base, validated=validated)
    problems += metric_problems(resolved, registry)
    problems += requirement_problems(data.get("requires") or [])
    problems += generator_problems(resolved, registry)
    problems += mask_problems(resolved, registry)
    problems += image_shape_problems(resolved, {path: params for path, (_, params) in validated.items()})
    reported = {problem.path for problem in problems}
    problems += [problem for problem in not_finite if problem.path not in reported]
    if problems or recipe is None:
        raise RecipeError(_unique(_label_defaults(problems, defaulted)), source=source)
    _keep_validated_params(recipe, validated, ())
    recipe.set_origin(
        source=source, base_dir=base, raw=data, from_solver_defaults=tuple(defaulted), overrides=overrides, live=live
    )
    return recipe


def _keep_validated_params(model: BaseModel, validated: Validated, prefix: tuple[Any, ...]) -> None:
    """Give every component spec of ``model`` (the recipe, then each component's params) the
    params stage 2 validated for it, found by its path."""
    for location, _, spec in nested_specs(model):
        path = (*prefix, *location)
        if path in validated and validated[path][0] == spec.type:
            params = validated[path][1]
            spec.keep_validated_params(params)
            _keep_validated_params(params, validated, (*path, "params"))


def _label_defaults(problems: list[RecipeProblem], defaulted: Mapping[str, str]) -> list[RecipeProblem]:
    """``priors[0].type`` -> ``priors (default of solver 'yeh')[0].type`` for filled-in sections."""
    out = []
    for problem in problems:
        for section, solver in defaulted.items():
            if problem.path == section or problem.path.startswith((f"{section}[", f"{section}.")):
                label = f"{section} (default of solver {solver!r})"
                problem = dataclasses.replace(problem, path=label + problem.path[len(section) :])
        out.append(problem)
    return out


def _unique(problems: list[RecipeProblem]) -> list[RecipeProblem]:
    seen: set[str] = set()
    out = []
    for problem in problems:
        if str(problem) not in seen:
            seen.add(str(problem))
            out.append(problem)
    return out


def component_problems(
    data: Mapping[str, Any],
    model: type[BaseModel],
    registry: Registry,
    *,
    base_dir: Path | None = None,
    prefix: tuple[Any, ...] = (),
    validated: Validated | None = None,
) -> list[RecipeProblem]:
    """Stage 2 for every component field of ``model`` found in ``data``, recursively.

    A component field is one marked with :class:`~invprob.params.NestedKind` (the recipe's
    sections, ``compose``'s ``operators``): its names must be registered, its params must
    satisfy the component's params model, and the components nested in those params are
    checked in turn. Paths start with ``prefix``. ``validated``, when given, receives the
    type and validated params of every component whose params are valid, by path.
    """
    validated = validated if validated is not None else {}
    problems = []
    for key, kind in nested_component_fields(model).items():
        for path, spec in component_specs_at(data.get(key), (*prefix, key)):
            name = spec["type"]
            component = registry.components[kind].get(name)
            if component is None:
                message = unknown_component_message(registry, kind, name if len(name) <= 60 else name[:57] + "...")
                problems.append(RecipeProblem(format_path((*path, "type")), message))
                continue
            params = spec.get("params") or {}
            if not isinstance(params, Mapping):
                continue  # stage 1 reports that params must be a mapping
            try:
                validated[path] = (name, component.validate_params(params, base_dir=base_dir))
            except ValidationError as exc:
                problems += problems_from_validation_error(exc, component.params_model, prefix=(*path, "params"))
            except Exception as exc:  # noqa: BLE001 - a plugin's validator failing is still a one-line problem
                problems.append(
                    RecipeProblem(
                        format_path((*path, "params")),
                        f"the params check of {singular(kind)} {name!r} ({component.distribution}) failed on these "
                        f"params with {type(exc).__name__}: {one_line(str(exc), 200)}; please report it to its authors",
                    )
                )
                continue
            problems += component_problems(
                params, component.params_model, registry, base_dir=base_dir, prefix=(*path, "params"), validated=validated
            )
    return problems


def component_distributions(data: Mapping[str, Any], registry: Registry | None = None) -> set[str]:
    """The distributions that provide the components a recipe names: its sections (the solver's
    defaults for an omitted ``losses``/``priors``), the components nested in their params, and
    the metrics it names -- what its ``requires:`` lists. Names no installed plugin provides are
    skipped (validation reports them)."""
    registry = registry if registry is not None else default_registry()
    resolved = dict(data)
    for section in SOLVER_DEFAULT_SECTIONS:
        if section not in data:
            resolved[section], _ = solver_default(data, section, registry)
    metrics = data.get("metrics") if isinstance(data.get("metrics"), list) else []
    found = {registry.components["metrics"][n].distribution for n in metrics if n in registry.components["metrics"]}

    def walk(values: Mapping[str, Any], model: type[BaseModel]) -> None:
        for key, kind in nested_component_fields(model).items():
            for _, spec in component_specs_at(values.get(key), ()):
                component = registry.components[kind].get(spec["type"])
                if component is not None:
                    found.add(component.distribution)
                    if isinstance(spec.get("params"), Mapping):
                        walk(spec["params"], component.params_model)

    walk(resolved, Recipe)
    return found
