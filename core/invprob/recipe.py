"""YAML recipes: their schema, command-line overrides, and two-stage validation.

A recipe names every component as ``{type: <registered name>, params: {...}}``. Validation
runs in two stages and reports *every* problem at once:

1. the shape of the recipe (this module's pydantic models, ``extra="forbid"`` everywhere);
2. each component: its name must be registered, and its params must satisfy that
   component's own params model.

Each problem carries its full path (``solver.params.steps``, ``losses[1].weight``), the
offending value, and a "did you mean" where a close name exists. Relative paths resolve
against the recipe's folder. ``requires:`` lists plugin distributions with version
specifiers, checked before anything runs.

Torch is not imported here: validating a recipe is instant.
"""

from __future__ import annotations

import importlib.metadata
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from invprob.params import RecipePath
from invprob.registry import Registry, default_registry, suggest

METRICS: tuple[str, ...] = ("psnr", "ssim", "mse", "lpips")
COMPONENT_SECTIONS: dict[str, str] = {
    "generator": "generators",
    "operator": "operators",
    "priors": "priors",
    "losses": "losses",
    "solver": "solvers",
}


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ComponentSpec(StrictModel):
    """A component: a registered ``type`` name and its ``params``."""

    type: str
    params: dict[str, Any] = Field(default_factory=dict)


class LossSpec(ComponentSpec):
    """A loss term with its weight in the measurement loss."""

    weight: float = 1.0


class DataSpec(StrictModel):
    """The images to solve for: files (``images``) or samples from the generator (``samples``).

    ``images`` is an image file, a folder of images, a glob pattern, or an ``.npz`` with an
    array ``npz_key`` of uint8 images (``[N, H, W, C]``). ``select`` is a Python slice over
    the sorted images (``"-64:"`` is the last 64). Images are resized to the generator's
    output size.
    """

    images: RecipePath | None = None
    samples: int | None = Field(default=None, gt=0)
    observation: RecipePath | None = None
    npz_key: str = "images"
    select: str | None = None
    batch_size: int = Field(default=8, gt=0)

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if [self.images, self.samples, self.observation].count(None) != 2:
            raise ValueError(
                "give exactly one of 'images' (files), 'samples' (draws from the generator) or "
                "'observation' (measurements without ground truth)"
            )
        return self

    @field_validator("select")
    @classmethod
    def _slice_syntax(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\s*-?\d*\s*(:\s*-?\d*\s*)?", value):
            raise ValueError("select must be a Python slice such as '0:64' or '-64:'")
        return value


class OutputSpec(StrictModel):
    """What a run writes besides metrics and images."""

    dir: RecipePath | None = None
    latents: bool = True
    gif: bool = False
    gif_every: int = Field(default=10, gt=0)


class Recipe(StrictModel):
    """A complete experiment: model, forward model, priors, losses, solver, data, outputs."""

    version: Literal[1]
    name: str | None = None
    description: str | None = None
    requires: list[str] = Field(default_factory=list)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    generator: ComponentSpec | None = None
    operator: ComponentSpec
    priors: list[ComponentSpec] = Field(default_factory=list)
    losses: list[LossSpec] = Field(default_factory=lambda: [LossSpec(type="mse")])
    solver: ComponentSpec
    data: DataSpec
    metrics: list[str] = Field(default_factory=lambda: list(METRICS))
    outputs: OutputSpec = Field(default_factory=OutputSpec)

    _source: Path | None = PrivateAttr(default=None)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> Path | None:
        """The recipe file, when it was loaded from one."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """The folder relative paths resolve against (the recipe's folder)."""
        return self._base_dir

    @property
    def raw(self) -> dict[str, Any]:
        """The recipe as written, after overrides, before defaults."""
        return self._raw


# -- problems and their report ---------------------------------------------------------------


@dataclass(frozen=True)
class RecipeProblem:
    """One thing wrong with a recipe: where, what, the value found, and a hint."""

    path: str
    message: str
    value: Any = None
    has_value: bool = False

    def __str__(self) -> str:
        got = f" (got: {_short_repr(self.value)})" if self.has_value else ""
        return f"{self.path or '<recipe>'}: {self.message}{got}"


class RecipeError(ValueError):
    """A recipe is invalid; ``problems`` lists every reason, each with its path."""

    def __init__(self, problems: Sequence[RecipeProblem], source: str | Path | None = None):
        self.problems = list(problems)
        self.source = source
        super().__init__(self.report())

    def report(self) -> str:
        where = f"{self.source}: " if self.source else ""
        count = len(self.problems)
        header = f"{where}invalid recipe, {count} error{'s' if count != 1 else ''}:"
        return "\n".join([header, *(f"  {p}" for p in self.problems)])


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_path(loc: Iterable[Any]) -> str:
    """``("losses", 1, "weight")`` -> ``losses[1].weight``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def problems_from_validation_error(
    error: ValidationError, model: type[BaseModel], prefix: Sequence[Any] = ()
) -> list[RecipeProblem]:
    """Readable problems, with did-you-mean for unknown keys and bad literal values."""
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(prefix) + tuple(item["loc"])
        kind = item["type"]
        value = item.get("input")
        if kind == "extra_forbidden":
            key = str(item["loc"][-1])
            allowed = _field_names_at(model, item["loc"][:-1])
            hint = suggest(key, allowed)
            message = f"unknown field {key!r}"
            if hint:
                message += f"; did you mean {hint[0]!r}?"
            elif allowed:
                message += f"; allowed fields: {', '.join(sorted(allowed))}"
            problems.append(RecipeProblem(format_path(loc), message))
            continue
        if kind == "missing":
            problems.append(RecipeProblem(format_path(loc), "required field is missing"))
            continue
        message = item["msg"]
        if kind == "literal_error":
            expected = re.findall(r"'([^']*)'", str(item.get("ctx", {}).get("expected", "")))
            hint = suggest(str(value), expected) if isinstance(value, str) else []
            if hint:
                message += f"; did you mean {hint[0]!r}?"
        problems.append(RecipeProblem(format_path(loc), _strip_pydantic_prefix(message), value, True))
    return problems


def _strip_pydantic_prefix(message: str) -> str:
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _field_names_at(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """Field names of the (nested) model found at ``loc`` inside ``model``, if any."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(part, int):
            args = typing.get_args(annotation)
            annotation = args[0] if args else Any
            continue
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and part in annotation.model_fields:
            annotation = annotation.model_fields[part].annotation
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """Drop ``Optional``/``Annotated`` wrappers."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(members[0]) if len(members) == 1 else annotation
    return annotation


# -- overrides ---------------------------------------------------------------------------


class OverrideError(ValueError):
    """A command-line override is malformed or points nowhere."""


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        parts.append(int(token[1:-1]) if token.startswith("[") else (int(token) if token.isdigit() else token))
    if not parts:
        raise OverrideError(f"override {path!r} names no field")
    return parts


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` (value parsed as YAML) and ``~a.b`` (delete) to a copy of ``data``.

    List items are addressed by index: ``losses.0.weight=2`` or ``losses[0].weight=2``.
    """
    import copy

    result = copy.deepcopy(dict(data))
    for override in overrides:
        if override.startswith("~"):
            parts = _split_path(override[1:])
            parent = _walk(result, parts[:-1], override, create=False)
            try:
                del parent[parts[-1]]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                raise OverrideError(f"cannot delete {override[1:]!r}: there is no such field in the recipe") from None
            continue
        if "=" not in override:
            raise OverrideError(f"override {override!r} must look like 'a.b.c=value' or '~a.b'")
        path, raw_value = override.split("=", 1)
        parts = _split_path(path.strip())
        try:
            value = yaml.safe_load(raw_value) if raw_value.strip() else ""
        except yaml.YAMLError as exc:
            raise OverrideError(f"value of override {path!r} is not valid YAML: {exc}") from None
        parent = _walk(result, parts[:-1], override, create=True)
        key = parts[-1]
        if isinstance(parent, list):
            if not isinstance(key, int) or not -len(parent) <= key <= len(parent):
                raise OverrideError(f"override {override!r}: index {key} is outside the list of {len(parent)}")
            if key == len(parent):
                parent.append(value)
            else:
                parent[key] = value
        else:
            parent[key] = value
    return result


def _walk(data: Any, parts: Sequence[str | int], override: str, *, create: bool) -> Any:
    node = data
    for i, part in enumerate(parts):
        if isinstance(node, list):
            if not isinstance(part, int) or not -len(node) <= part < len(node):
                raise OverrideError(f"override {override!r}: {format_path(parts[: i + 1])} is not in the recipe")
            node = node[part]
        elif isinstance(node, dict):
            if part not in node or node[part] is None:
                if not create:
                    raise OverrideError(f"override {override!r}: {format_path(parts[: i + 1])} is not in the recipe")
                node[part] = {}
            node = node[part]
        else:
            raise OverrideError(f"override {override!r}: {format_path(parts[:i])} is a value, not a section")
    if not isinstance(node, (dict, list)):
        raise OverrideError(f"override {override!r}: {format_path(parts)} is a value, not a section")
    return node


# -- loading and validation -----------------------------------------------------------------


def read_recipe_file(path: str | Path) -> dict[str, Any]:
    """Parse a YAML recipe file into a dict (a :class:`RecipeError` on bad YAML)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError([RecipeProblem("", f"recipe file not found: {path}")]) from None
    except OSError as exc:
        raise RecipeError([RecipeProblem("", f"cannot read recipe file {path}: {exc.strerror}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RecipeError([RecipeProblem("", f"not valid YAML: {where}{problem}")], source=path) from None
    if not isinstance(data, dict):
        raise RecipeError([RecipeProblem("", "a recipe must be a YAML mapping (key: value lines)")], source=path)
    return data


def load_recipe(
    source: str | Path | Mapping[str, Any],
    overrides: Iterable[str] = (),
    *,
    registry: Registry | None = None,
    base_dir: str | Path | None = None,
) -> Recipe:
    """Load a recipe from a YAML file or a dict, apply overrides, and validate it fully.

    Raises :class:`RecipeError` listing every problem (also for bad overrides).
    """
    if isinstance(source, Mapping):
        data, path = dict(source), None
        base = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        path = Path(source)
        data = read_recipe_file(path)
        base = Path(base_dir) if base_dir is not None else path.resolve().parent
    try:
        data = apply_overrides(data, overrides)
    except OverrideError as exc:
        raise RecipeError([RecipeProblem("", str(exc))], source=path) from None
    return validate_recipe(data, base_dir=base, registry=registry, source=path)


def validate_recipe(
    data: Mapping[str, Any],
    *,
    base_dir: str | Path | None = None,
    registry: Registry | None = None,
    source: Path | None = None,
) -> Recipe:
    """Both validation stages on a recipe dict; a :class:`RecipeError` with every problem."""
    registry = registry if registry is not None else default_registry()
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    problems: list[RecipeProblem] = []
    recipe: Recipe | None = None
    try:
        recipe = Recipe.model_validate(dict(data), context={"base_dir": base})
    except ValidationError as exc:
        problems += problems_from_validation_error(exc, Recipe)
    problems += _component_problems(data, registry, base)
    problems += _metric_problems(data)
    problems += requirement_problems(data.get("requires") or [])
    if problems or recipe is None:
        raise RecipeError(_unique(problems), source=source)
    recipe._source = source
    recipe._base_dir = base
    recipe._raw = dict(data)
    return recipe


def _unique(problems: list[RecipeProblem]) -> list[RecipeProblem]:
    seen: set[str] = set()
    out = []
    for problem in problems:
        if str(problem) not in seen:
            seen.add(str(problem))
            out.append(problem)
    return out


def _component_specs(data: Mapping[str, Any]) -> Iterable[tuple[tuple[Any, ...], str, Mapping[str, Any]]]:
    """``(path, kind, spec)`` for every component section shaped like ``{type: str, ...}``."""
    for section, kind in COMPONENT_SECTIONS.items():
        value = data.get(section)
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, spec in items:
            if isinstance(spec, Mapping) and isinstance(spec.get("type"), str):
                path = (section,) if index is None else (section, index)
                yield path, kind, spec


def _component_problems(data: Mapping[str, Any], registry: Registry, base_dir: Path) -> list[RecipeProblem]:
    problems = []
    for path, kind, spec in _component_specs(data):
        name = spec["type"]
        if name not in registry.components[kind]:
            message = registry.unknown_component_message(kind, name)
            problems.append(RecipeProblem(format_path((*path, "type")), message))
            continue
        params = spec.get("params") or {}
        if not isinstance(params, Mapping):
            continue  # stage 1 reports that params must be a mapping
        component = registry.components[kind][name]
        try:
            component.validate_params(params, base_dir=base_dir)
        except ValidationError as exc:
            problems += problems_from_validation_error(exc, component.params_model, prefix=(*path, "params"))
    return problems


def _metric_problems(data: Mapping[str, Any]) -> list[RecipeProblem]:
    metrics = data.get("metrics")
    if not isinstance(metrics, list):
        return []
    problems = []
    for index, name in enumerate(metrics):
        if isinstance(name, str) and name not in METRICS:
            hint = suggest(name, METRICS)
            tail = f"did you mean {hint[0]!r}?" if hint else f"available: {', '.join(METRICS)}"
            problems.append(RecipeProblem(f"metrics[{index}]", f"unknown metric {name!r}; {tail}"))
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


def dump_recipe(recipe: Recipe) -> str:
    """The resolved recipe (every default filled in) as YAML."""
    data = recipe.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False)
