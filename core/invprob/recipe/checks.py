"""Checks across components, made before anything is built: what one component needs of another.

A latent solver or prior needs a generator; Yeh's solver and context loss need an operator
that masks pixels; operator params must fit the image shape the generator declares; metrics
named by ``metrics:`` must need no params; ``requires:`` names installed distributions; data
paths must name files (:func:`data_path_problems`, for ``invprob validate`` and a run). The
params models declare what these checks read (``needs_generator``, ``needs_mask``,
``provides_mask``, ``declared_image_shape()``, ``image_shape_problems()``).
"""

from __future__ import annotations

import glob
import importlib.metadata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from invprob.hints import singular, unknown_component_message, with_article
from invprob.params import Params, needs_no_params
from invprob.recipe.problems import RecipeProblem, format_path, short_repr
from invprob.recipe.schema import COMPONENT_SECTIONS, Recipe
from invprob.registry import Registry


def component_specs_at(value: Any, path: tuple[Any, ...]) -> Iterable[tuple[tuple[Any, ...], Mapping[str, Any]]]:
    """``(path, spec)`` for the value of a component field: one spec or a list of them.

    Values not shaped like ``{type: str, ...}`` are skipped: stage 1 reports them.
    """
    items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    for index, spec in items:
        if isinstance(spec, Mapping) and isinstance(spec.get("type"), str):
            yield (path if index is None else (*path, index)), spec


DATA_PATH_FIELDS = ("images", "observation")
"""The fields of ``data`` that name files, checked by :func:`data_path_problems`."""


def data_path_problems(recipe: Recipe) -> list[RecipeProblem]:
    """``data.images``/``data.observation`` that name nothing: a missing file or folder, a glob
    that matches no file. Cheap (nothing is decoded); ``invprob validate`` reports them, and a
    run refuses them before building anything."""
    problems = []
    for name in DATA_PATH_FIELDS:
        value = getattr(recipe.data, name)
        if not isinstance(value, Path):
            continue
        text = str(value)
        try:
            if any(ch in text for ch in "*?["):
                if not glob.glob(text, recursive=True):
                    problems.append(RecipeProblem(f"data.{name}", f"the pattern {text!r} matches no image file{_PATH_HINT}"))
            elif not value.exists():
                problems.append(RecipeProblem(f"data.{name}", f"{value} does not exist{_PATH_HINT}"))
        except OSError as exc:  # a name too long, a loop of links, no permission on a folder
            problems.append(RecipeProblem(f"data.{name}", f"{short_repr(text)} cannot be read: {exc.strerror}"))
    return problems


_PATH_HINT = (
    " (a relative path in the recipe file is read from the recipe's folder, one given on the command line "
    "from the working directory)"
)


def generator_problems(data: Mapping[str, Any], registry: Registry) -> list[RecipeProblem]:
    """What needs a generator, in a recipe without one: components whose params model says
    ``needs_generator`` (a latent solver, a prior on z), and ``data.samples``/``observation``."""
    if data.get("generator") is not None:
        return []
    problems = [
        RecipeProblem(format_path((*path, "type")), f"{singular(kind)} {name!r} works on a generator's latent, and "
                      "the recipe has no 'generator' section: add one")
        for path, kind, name in _declaring(data, registry, "needs_generator")
    ]  # fmt: skip
    data_spec = data.get("data")
    for source in ("samples", "observation"):
        if isinstance(data_spec, Mapping) and data_spec.get(source) is not None:
            problems.append(
                RecipeProblem(
                    f"data.{source}",
                    f"data.{source} needs a generator (it sets the size of the images to recover): add a "
                    "'generator' section or use data.images",
                )
            )
    return problems


def operator_declares_mask(spec: Mapping[str, Any], registry: Registry, depth: int = 0) -> bool | None:
    """Whether operator ``spec`` (``{type, params}``) declares an observed-pixel mask, from its
    params model's ``provides_mask``/``mask_from_first``; ``None`` when that cannot be told (an
    unregistered name or malformed params: the other checks report those)."""
    component = registry.components["operators"].get(spec["type"])
    if component is None:
        return None
    model = component.params_model
    if model.provides_mask:
        return True
    if model.mask_from_first is None:
        return False
    params = spec.get("params")
    inner = params.get(model.mask_from_first) if isinstance(params, Mapping) else None
    first = inner[0] if isinstance(inner, list) and inner else None
    if depth > 50 or not (isinstance(first, Mapping) and isinstance(first.get("type"), str)):
        return None
    return operator_declares_mask(first, registry, depth + 1)


def mask_problems(data: Mapping[str, Any], registry: Registry) -> list[RecipeProblem]:
    """Components whose params model says ``needs_mask`` (Yeh's solver and context loss), in a
    recipe whose operator declares no observed-pixel mask (``provides_mask``)."""
    operator = data.get("operator")
    if not (isinstance(operator, Mapping) and isinstance(operator.get("type"), str)):
        return []
    if operator_declares_mask(operator, registry) is not False:
        return []
    field = registry.components["operators"][operator["type"]].params_model.mask_from_first
    takes = f" (it takes the mask of the first of its {field})" if field else ""
    masking = sorted(name for name, c in registry.components["operators"].items() if c.params_model.provides_mask)
    examples = f" ({', '.join(masking[:3])}{', ...' if len(masking) > 3 else ''})" if masking else ""
    instead = {"solvers": "the csgm solver", "losses": "the mse or l1 loss"}
    return [
        RecipeProblem(format_path((*path, "type")), f"{singular(kind)} {name!r} needs an operator that masks pixels, "
                      f"and operator {operator['type']!r} has no observed-pixel mask{takes}: use an inpainting operator"
                      f"{examples}, or {instead.get(kind, f'{with_article(singular(kind))} that needs no mask')}")
        for path, kind, name in _declaring(data, registry, "needs_mask")
    ]  # fmt: skip


def _declaring(data: Mapping[str, Any], registry: Registry, need: str) -> list[tuple[tuple[Any, ...], str, str]]:
    """``(path, kind, name)`` of the components of recipe ``data`` whose params model declares
    ``need`` (``needs_generator``, ``needs_mask``)."""
    found = []
    for section, kind in COMPONENT_SECTIONS.items():
        for path, spec in component_specs_at(data.get(section), (section,)):
            component = registry.components[kind].get(spec["type"])
            if component is not None and getattr(component.params_model, need):
                found.append((path, kind, spec["type"]))
    return found


def known_image_shape(recipe: Recipe) -> tuple[int, int, int] | None:
    """The ``(C, H, W)`` of the images a validated recipe solves for, when the recipe alone tells it.

    Known means: the recipe has a generator, and its params model's ``declared_image_shape()``
    gives the size from the params (a fixed architecture such as ``dcgan32-celeba``, or the size
    field of a randomly initialised model). Every image is then brought to that size. Without
    a generator, or for a checkpoint whose size only its file tells, the shape is not known
    before the images or the model are read, and the operator's params are checked when it is
    built (exit 2 naming the section). Read from the params validation kept with the generator.
    """
    params = recipe.generator.validated_params if recipe.generator is not None else None
    return params.declared_image_shape() if params is not None else None


def image_shape_problems(data: Mapping[str, Any], validated: Mapping[tuple[Any, ...], Params]) -> list[RecipeProblem]:
    """Operator params that cannot fit the recipe's known image shape (:func:`known_image_shape`):
    a missing box outside the image, a downsampling factor that does not divide its sides, more
    measurements than pixels. The operator's params model says which (``image_shape_problems``);
    the top-level operator and the first operator of a composition (the one that sees the image)
    are checked. ``validated`` holds the params stage 2 validated, by path in the recipe."""
    generator = validated.get(("generator",))
    shape = generator.declared_image_shape() if generator is not None else None
    path: tuple[Any, ...] = ("operator",)
    while shape is not None and (params := validated.get(path)) is not None:
        problems = [
            RecipeProblem(format_path((*path, "params", field)), f"{message} (generator "
                          f"{data['generator']['type']!r} makes {' x '.join(map(str, shape))} images)")
            for field, message in params.image_shape_problems(shape)
        ]  # fmt: skip
        if problems or type(params).mask_from_first is None:
            return problems
        path = (*path, "params", type(params).mask_from_first, 0)  # a composition's first operator sees the image
    return []


def default_metric_names(registry: Registry) -> list[str]:
    """The metrics an omitted ``metrics:`` stands for: every installed one whose params all default."""
    metrics = sorted(registry.components["metrics"].items())
    return [name for name, metric in metrics if needs_no_params(metric.params_model)]


def metric_problems(data: Mapping[str, Any], registry: Registry) -> list[RecipeProblem]:
    metrics = data.get("metrics")
    if not isinstance(metrics, list):
        return []
    problems = []
    for index, name in enumerate(metrics):
        if not isinstance(name, str):
            continue  # stage 1 reports it
        metric = registry.components["metrics"].get(name)
        if metric is None:
            problems.append(RecipeProblem(f"metrics[{index}]", unknown_component_message(registry, "metrics", name)))
        elif not needs_no_params(metric.params_model):
            required = [n for n, f in metric.params_model.model_fields.items() if f.is_required()]
            problems.append(
                RecipeProblem(
                    f"metrics[{index}]",
                    f"metric {name!r} needs params ({', '.join(required)}), which a name in 'metrics' cannot give",
                )
            )
    return problems


def requirement_problems(requires: Any) -> list[RecipeProblem]:
    """Problems with ``requires:``: malformed, missing or wrong-version distributions."""
    from packaging.requirements import InvalidRequirement, Requirement

    if not isinstance(requires, list):
        return []
    problems = []
    for index, text in enumerate(requires):
        path = f"requires[{index}]"
        if not isinstance(text, str):
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            problems.append(
                RecipeProblem(path, "not a valid requirement; write a distribution name and an optional "
                              "version specifier, e.g. 'invprob-plugin-dcgan>=0.1'", text, True)
            )
            continue
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(RecipeProblem(path, f"{requirement.name} is not installed: pip install '{text}'"))
            continue
        if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
            problems.append(
                RecipeProblem(
                    path,
                    f"{requirement.name} {installed} is installed but the recipe needs "
                    f"{requirement.specifier}: pip install '{text}'",
                )
            )
    return problems
