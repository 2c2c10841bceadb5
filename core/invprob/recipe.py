"""YAML recipes: their schema, command-line overrides, and two-stage validation.

A recipe names every component as ``{type: <registered name>, params: {...}}``. Validation
runs in two stages and reports *every* problem at once:

1. the shape of the recipe (this module's models, ``extra="forbid"`` everywhere);
2. each component: its name must be registered, and its params must satisfy that
   component's own params model. Components nested in a component's params (fields marked
   with :class:`invprob.params.NestedKind`, such as ``compose``'s ``operators``) are checked
   the same way, recursively.

Each problem carries its full path (``solver.params.steps``, ``losses[1].weight``,
``operator.params.operators[1].params.sigma``), the offending value, and a "did you mean"
where a close name exists. Relative paths resolve against the recipe's folder. ``requires:``
lists plugin distributions with version specifiers, checked before anything runs.

**Solver defaults.** A solver may declare recipe-level defaults when it is registered
(``registry.add("yeh", ..., defaults={"losses": [...], "priors": [...]})``). A recipe that
omits ``losses:`` or ``priors:`` gets the solver's defaults (else ``losses: [mse]`` and
``priors: []``); a section that is written, even as ``[]``, is used exactly as written. The
defaults are validated like written components, and problems in them carry the path
``priors (default of solver 'yeh')[0].type``. :attr:`Recipe.raw` keeps what the user wrote,
:attr:`Recipe.from_solver_defaults` names the sections that were filled in, and
:func:`dump_recipe` writes the resolved components. An override that reaches inside an
omitted section (``priors.0.params.lam=0.01``) first writes out the solver's defaults there.

**Metrics** are names of registered metric components; ``metrics:`` omitted (``None``) means
every installed metric whose params all have defaults (:func:`default_metric_names`).

**Limits.** Whatever is written, validation ends quickly in a recipe or a :class:`RecipeError`
with one line per problem: a recipe file is UTF-8 text of at most :data:`MAX_FILE_BYTES`;
values nest at most :data:`MAX_DEPTH` deep and, with YAML aliases expanded, number at most
:data:`MAX_VALUES`; numbers are finite; every value shown in a message is shortened
(:func:`short_repr`).

Torch is not imported here: validating a recipe is instant.
"""

from __future__ import annotations

import copy
import dataclasses
import glob
import importlib.metadata
import math
import os
import re
import reprlib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from invprob.params import (
    ComponentSpec,
    NestedKind,
    Params,
    RecipePath,
    resolve_against_recipe,
    needs_no_params,
    nested_component_fields,
)
from invprob.hints import singular, suggest, unknown_component_message, with_article
from invprob.registry import Component, Registry, default_registry

MAX_FILE_BYTES = 64 << 10
"""The largest recipe file read: a recipe is a few kilobytes, and PyYAML reads ~100 KiB a second."""
MAX_DEPTH = 50
"""How deeply values may nest (the deepest shipped recipe: 6 levels)."""
MAX_VALUES = 100_000
"""How many values a recipe may hold once YAML aliases are expanded."""
MAX_PROBLEMS = 100
"""The most problems listed from one model's validation; the rest are counted."""
SEED_RANGE = (-(2**63), 2**64)
"""The seeds ``torch.manual_seed`` accepts: ``low <= seed < high``."""

SOLVER_DEFAULT_SECTIONS: tuple[str, ...] = ("losses", "priors")
FALLBACK_DEFAULTS: dict[str, list[dict[str, Any]]] = {"losses": [{"type": "mse"}], "priors": []}
"""What an omitted ``losses:``/``priors:`` means when the solver declares no default for it."""


class LossSpec(ComponentSpec):
    """A loss term with its weight in the measurement loss."""

    weight: float = 1.0


def _images_source(value: Any, info: ValidationInfo) -> Any:
    """``data.images``: a path (resolved against the recipe's folder), or from Python a tensor
    ``[B, C, H, W]`` in [0, 1], kept as it is (checked when it is read: :mod:`invprob.images`)."""
    if type(value).__module__.startswith("torch") and hasattr(value, "shape"):
        return value
    if isinstance(value, (str, os.PathLike)):
        return resolve_against_recipe(Path(value), info)
    raise ValueError(
        "give a path (an image, a folder, a glob, a .zip or an .npz) or, from Python, a tensor [B, C, H, W] in [0, 1]"
    )


def _describe_images_source(value: Any) -> str:
    if isinstance(value, Path):
        return str(value)
    return f"<a tensor {list(value.shape)} {str(value.dtype).removeprefix('torch.')} given from Python>"


ImagesSource = Annotated[
    Any,
    PlainValidator(_images_source),
    PlainSerializer(_describe_images_source),
    WithJsonSchema({"type": "string", "description": "an image, a folder, a glob, a .zip or an .npz"}),
]


FitPolicy = Literal["centre-crop", "pad", "resize", "refuse"]
"""What is done to an image whose size is not the generator's (see :mod:`invprob.images`)."""
FIT_POLICIES: tuple[str, ...] = typing.get_args(FitPolicy)
DEFAULT_FIT: FitPolicy = "centre-crop"


class DataSpec(Params):
    """The data to solve for: exactly one of ``images``, ``samples`` or ``observation``.

    - ``images``: ground-truth images, observed through the operator: an image file, a
      folder of images, a glob pattern, or an ``.npz`` with an array ``npz_key`` of uint8
      images (``[N, H, W, C]``); from Python also a tensor ``[B, C, H, W]`` in [0, 1]. They
      are fitted to the generator's output size by ``fit``; without a generator each image
      keeps its own size.
    - ``fit``: what is done to an image of another size than the generator's:
      ``centre-crop`` (default: crop to the target's aspect ratio, then resize), ``pad``
      (pad with grey to its aspect ratio, then resize), ``resize`` (stretch) or ``refuse``
      (an error). One line on the terminal says what was done to which images.
    - ``samples``: that many draws from the generator, observed through the operator.
    - ``observation``: real measurements, used as they are, with no ground truth: an image
      file, folder or glob sized to the operator's *output* (a low-resolution photo, a damaged
      image whose mask comes with the operator), or ``.npy``/``.pt``/``.safetensors``
      measurement tensors. Metrics that need the truth are skipped.

    ``select`` is a Python slice over the sorted files (``"-64:"`` is the last 64).
    """

    images: ImagesSource | None = None
    samples: int | None = Field(default=None, gt=0)
    observation: RecipePath | None = None
    npz_key: str = "images"
    select: str | None = None
    batch_size: int = Field(default=8, gt=0)
    fit: FitPolicy = Field(
        default=DEFAULT_FIT,
        description="images of another size than the generator's: centre-crop (keep the aspect ratio, lose the "
        "borders), pad (keep everything, grey bars), resize (stretch) or refuse",
    )

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        given = [x for x in (self.images, self.samples, self.observation) if x is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'images' (ground-truth image files), 'samples' (draws from the "
                "generator) or 'observation' (measurements without ground truth)"
            )
        return self

    @field_validator("select")
    @classmethod
    def _slice_syntax(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()  # "" and "  " keep every file
        index = r"-?[0-9]{1,18}"
        if value and not re.fullmatch(rf"{index}|({index})?\s*:\s*({index})?", value):
            raise ValueError(
                "select must be one index or a Python slice start:stop of integers, such as '3', '0:64' "
                "or '-64:' (no step)"
            )
        return value


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


class OutputSpec(Params):
    """What a run writes besides metrics and images."""

    dir: RecipePath | None = None
    latents: bool = True
    gif: bool = False
    gif_every: int = Field(default=10, gt=0)


def _solver_defaults_are_optional(schema: dict[str, Any]) -> None:
    schema["required"] = [name for name in schema.get("required", []) if name not in SOLVER_DEFAULT_SECTIONS]


class Recipe(Params):
    """A complete experiment: model, forward model, priors, losses, solver, data, outputs.

    Build one with :func:`load_recipe` or :func:`validate_recipe`, which fill in the solver's
    defaults for omitted ``losses``/``priors`` before validating (the model itself requires
    them, so a recipe never silently falls back to a loss its solver does not expect).
    """

    model_config = ConfigDict(json_schema_extra=_solver_defaults_are_optional)

    version: Literal[1]
    name: str | None = None
    description: str | None = None
    requires: list[str] = Field(default_factory=list)
    seed: int = Field(default=0, description="an integer in [-2**63, 2**64): torch.manual_seed's range")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    generator: Annotated[ComponentSpec | None, NestedKind("generators")] = None
    operator: Annotated[ComponentSpec, NestedKind("operators")]
    priors: Annotated[
        list[ComponentSpec], NestedKind("priors"), Field(description="omitted: the solver's default priors, else none")
    ]
    losses: Annotated[
        list[LossSpec], NestedKind("losses"), Field(description="omitted: the solver's default losses, else [mse]")
    ]
    solver: Annotated[ComponentSpec, NestedKind("solvers")]
    data: DataSpec
    metrics: list[str] | None = Field(
        default=None, description="metric names; omitted: every installed metric whose params all have defaults"
    )
    outputs: OutputSpec = Field(default_factory=OutputSpec)

    @field_validator("seed", mode="before")
    @classmethod
    def _seed_is_not_a_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a seed is an integer, not true/false")
        return value

    @field_validator("seed")
    @classmethod
    def _seed_in_torch_range(cls, value: int) -> int:
        low, high = SEED_RANGE
        if not low <= value < high:
            raise ValueError("a seed must be in [-2**63, 2**64), the range torch.manual_seed accepts")
        return value

    _source: Path | None = PrivateAttr(default=None)
    _live: dict[tuple[str, str], Any] = PrivateAttr(default_factory=dict)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    _from_solver_defaults: tuple[str, ...] = PrivateAttr(default=())
    _overrides: tuple[str, ...] = PrivateAttr(default=())

    @property
    def source(self) -> Path | None:
        """The recipe file, when it was loaded from one."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """The folder relative paths resolve against (the recipe's folder)."""
        return self._base_dir

    @property
    def live_components(self) -> dict[tuple[str, str], Any]:
        """``{(kind, name): object}`` for the components given as Python objects
        (:mod:`invprob.user_modules`); the recipe names them ``python:<name>``."""
        return self._live

    def registry_with_live_components(self, registry: Registry) -> Registry:
        """``registry``, plus the components given as Python objects when there are any."""
        if not self._live:
            return registry
        from invprob.user_modules import with_live_components

        return with_live_components(registry, self._live)

    @property
    def raw(self) -> dict[str, Any]:
        """The recipe as written, after overrides, before any default is filled in."""
        return self._raw

    @property
    def from_solver_defaults(self) -> tuple[str, ...]:
        """The sections (``"losses"``, ``"priors"``) that the recipe omitted and the solver filled in."""
        return self._from_solver_defaults

    @property
    def overrides(self) -> tuple[str, ...]:
        """The overrides applied to the file or dict, in order (already part of :attr:`raw`)."""
        return self._overrides

    def with_overrides(self, overrides: Iterable[str], registry: Registry | None = None) -> Recipe:
        """This recipe with ``overrides`` applied to what was written, validated once.

        The overrides apply to :attr:`raw`, so omitted sections still follow the (possibly
        overridden) solver; source and base folder are kept. Without overrides: ``self``.
        Raises :class:`RecipeError` like :func:`load_recipe`.
        """
        overrides = list(overrides)
        if not overrides:
            return self
        registry = self.registry_with_live_components(registry if registry is not None else default_registry())
        recipe = _load(self.raw, overrides, registry, base_dir=self.base_dir, source=self.source)
        recipe._live = self._live
        recipe._overrides = self.overrides + recipe.overrides
        return recipe


COMPONENT_SECTIONS: dict[str, str] = nested_component_fields(Recipe)
"""Recipe section -> component kind: ``{"generator": "generators", "operator": "operators", ...}``."""


# -- problems and their report ---------------------------------------------------------------


@dataclass(frozen=True)
class RecipeProblem:
    """One thing wrong with a recipe: where, what, the value found, and a hint."""

    path: str
    message: str
    value: Any = None
    has_value: bool = False

    def __str__(self) -> str:
        got = f" (got: {short_repr(self.value)})" if self.has_value else ""
        return _one_line(f"{self.path or '<recipe>'}: {self.message}{got}")


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


class _ShortRepr(reprlib.Repr):
    """:mod:`reprlib` that also shortens integers without ever writing all their digits."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxstring, self.maxother, self.maxlong = 3, 60, 60, 40

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 1000:  # about 300 digits; repr() refuses more than 4300
            return f"<an integer of about {int(x.bit_length() * math.log10(2)) + 1} digits>"
        return super().repr_int(x, level)


_SHORT_REPR = _ShortRepr()


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` in at most ``limit`` characters, built without writing the whole repr
    (a value may be a YAML alias bomb that expands to billions of items)."""
    try:
        text = _SHORT_REPR.repr(value)
    except Exception:  # noqa: BLE001 - a repr that raises shows as its type
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_line(text: str, limit: int = 600) -> str:
    text = " ".join(text.split()) if "\n" in text or "\r" in text else text
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _path_part(part: Any) -> str:
    if isinstance(part, str) and part.isprintable() and len(part) <= 40:
        return part
    return short_repr(part, 40)


def format_path(loc: Iterable[Any]) -> str:
    """``("losses", 1, "weight")`` -> ``losses[1].weight``; odd keys as a short repr."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{short_repr(part, 40)}]"
        else:
            out += ("." if out else "") + _path_part(part)
    return out


def problems_from_validation_error(
    error: ValidationError, model: type[BaseModel], prefix: Sequence[Any] = ()
) -> list[RecipeProblem]:
    """Readable problems, with did-you-mean for unknown keys and bad literal values.

    Pydantic's internals are translated into the recipe's words: the names it gives the
    members of a union (``steps.int``, ``size.tuple[int, int]``) are dropped from the path and
    the members' messages joined into one problem; "a valid dictionary or instance of
    LossSpec" becomes what to write.
    """
    problems: list[RecipeProblem] = []
    union_paths: dict[str, int] = {}
    """path -> index in ``problems`` of a problem about a union's value, joined by its siblings."""
    items = error.errors(include_url=False)
    for item in items[:MAX_PROBLEMS]:
        own_loc, in_union = _user_loc(model, item["loc"])
        loc = tuple(prefix) + own_loc
        kind = item["type"]
        value = item.get("input")
        if kind == "extra_forbidden":
            key = str(item["loc"][-1]) if isinstance(item["loc"][-1], str) else short_repr(item["loc"][-1])
            allowed = _field_names_at(model, own_loc[:-1])
            hint = suggest(key, allowed) if len(key) <= 100 else []
            message = f"unknown field {short_repr(key)}"
            if hint:
                message += f"; did you mean {hint[0]!r}?"
            elif allowed:
                message += f"; allowed fields: {', '.join(sorted(allowed))}"
            problems.append(RecipeProblem(format_path(loc), message))
            continue
        if kind == "missing":
            problems.append(RecipeProblem(format_path(loc), "required field is missing"))
            continue
        message = NOT_FINITE if kind == "finite_number" else item["msg"]
        if kind in ("model_type", "model_attributes_type", "dict_type"):
            message = _mapping_message(_field_names_at(model, own_loc), value)
        if kind == "literal_error":
            expected = re.findall(r"'([^']*)'", str(item.get("ctx", {}).get("expected", "")))
            hint = suggest(value, expected) if isinstance(value, str) and len(value) <= 100 else []
            if hint:
                message += f"; did you mean {hint[0]!r}?"
        message = _strip_pydantic_prefix(message)
        path = format_path(loc)
        if in_union and path in union_paths:
            first = problems[union_paths[path]]
            joined = f"{first.message} or {_without_parse_detail(message).removeprefix('Input should be ')}"
            problems[union_paths[path]] = dataclasses.replace(first, message=joined)
            continue
        if in_union:
            union_paths[path] = len(problems)
            message = _without_parse_detail(message)
        problems.append(RecipeProblem(path, message, value, True))
    if len(items) > MAX_PROBLEMS:
        problems.append(RecipeProblem(format_path(prefix), f"and {len(items) - MAX_PROBLEMS} more problems"))
    return problems


def _user_loc(model: type[BaseModel], loc: Sequence[Any]) -> tuple[tuple[Any, ...], bool]:
    """``loc`` without pydantic's names of union members, and whether it had any.

    Pydantic reports a value that fits no member of ``int | list[int]`` once per member, at
    ``steps.int`` and ``steps.list[int]``; the recipe has one field, ``steps``.
    """
    annotation: Any = model
    out: list[Any] = []
    dropped = False
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part) if isinstance(part, str) else None
            annotation = field.annotation if field is not None else Any
        elif typing.get_origin(annotation) in (typing.Union, types.UnionType) and isinstance(part, str):
            annotation, dropped = _union_member(annotation, part), True
            continue
        elif isinstance(part, int) and not isinstance(part, bool):
            args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
            annotation = args[min(part, len(args) - 1)] if typing.get_origin(annotation) is tuple and args else (
                args[0] if args else Any)  # fmt: skip
        else:
            annotation = Any
        out.append(part)
    return tuple(out), dropped


def _union_member(union: Any, tag: str) -> Any:
    """The member of ``union`` that pydantic calls ``tag`` (``"list[int]"`` -> ``list[int]``), else Any."""
    base = tag.split("[", 1)[0]
    for member in typing.get_args(union):
        origin = typing.get_origin(member) or member
        if getattr(origin, "__name__", None) == base:
            return member
    return Any


def _mapping_message(fields: Sequence[str], value: Any) -> str:
    """What to write where a mapping was expected (pydantic: "a valid dictionary or instance of X")."""
    if {"type", "params"} <= set(fields):
        example = f"{{type: {value}}}" if isinstance(value, str) and value.isprintable() and len(value) <= 40 else "{type: NAME, params: {...}}"
        return f"Input should be a component, a mapping such as {example}"
    return f"Input should be a mapping of {', '.join(fields)}" if fields else "Input should be a mapping (key: value)"


def _without_parse_detail(message: str) -> str:
    """``"... a valid integer, unable to parse string as an integer"`` -> ``"... a valid integer"``."""
    return re.sub(r", unable to parse [^;]*$", "", message)


NOT_FINITE = "must be a finite number (.inf and .nan are not allowed in a recipe)"


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


def split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[[0-9]+\]", path):
        digits = token[1:-1] if token.startswith("[") else token
        if re.fullmatch(r"[0-9]+", digits):
            if len(digits) > 18:
                raise OverrideError(f"override {short_repr(path)}: list index {short_repr(digits, 24)} is too large")
            parts.append(int(digits))
        else:
            parts.append(token)
    if not parts:
        raise OverrideError(f"override {short_repr(path)} names no field")
    if len(parts) > MAX_DEPTH:
        raise OverrideError(f"override {short_repr(path)} is {len(parts)} fields deep; a recipe nests at most {MAX_DEPTH}")
    return parts


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` (value parsed as YAML) and ``~a.b`` (delete) to a copy of ``data``.

    List items are addressed by index: ``losses.0.weight=2`` or ``losses[0].weight=2``.
    """
    import copy

    result = copy.deepcopy(dict(data))
    for override in overrides:
        if override.startswith("~"):
            parts = split_path(override[1:])
            parent = _walk(result, parts[:-1], override, create=False)
            try:
                last = parts[-1]
                del parent[_list_index(last) if isinstance(parent, list) else last]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                raise OverrideError(f"cannot delete {short_repr(override[1:])}: there is no such field in the recipe") from None
            continue
        if "=" not in override:
            raise OverrideError(f"override {short_repr(override)} must look like 'a.b.c=value' or '~a.b'")
        path, raw_value = override.split("=", 1)
        parts = split_path(path.strip())
        try:
            value = parse_yaml(raw_value) if raw_value.strip() else ""
        except yaml.YAMLError as exc:
            raise OverrideError(f"value of override {short_repr(path)} is not valid YAML: {yaml_problem(exc)}") from None
        parent = _walk(result, parts[:-1], override, create=True)
        key = parts[-1]
        if isinstance(parent, list):
            key = _list_index(key)  # type: ignore[assignment]
            if not isinstance(key, int) or not -len(parent) <= key <= len(parent):
                raise OverrideError(f"override {short_repr(override)}: index {key} is outside the list of {len(parent)}")
            if key == len(parent):
                parent.append(value)
            else:
                parent[key] = value
        else:
            parent[key] = value
    return result


def _list_index(part: str | int) -> int | None:
    """A path part as a list index: ``3``, or ``"-1"`` (the last item); None if it is a name."""
    if isinstance(part, int):
        return part
    return int(part) if re.fullmatch(r"-[0-9]{1,18}", part) else None


def _walk(data: Any, parts: Sequence[str | int], override: str, *, create: bool) -> Any:
    node = data
    for i, part in enumerate(parts):
        if isinstance(node, list):
            index = _list_index(part)
            if index is None or not -len(node) <= index < len(node):
                raise OverrideError(f"override {short_repr(override)}: {format_path(parts[: i + 1])} is not in the recipe")
            node = node[index]
        elif isinstance(node, dict):
            if part not in node or node[part] is None:
                if not create:
                    raise OverrideError(f"override {short_repr(override)}: {format_path(parts[: i + 1])} is not in the recipe")
                node[part] = {}
            node = node[part]
        else:
            raise OverrideError(f"override {short_repr(override)}: {format_path(parts[:i])} is a value, not a section")
    if not isinstance(node, (dict, list)):
        raise OverrideError(f"override {short_repr(override)}: {format_path(parts)} is a value, not a section")
    return node


# -- loading and validation -----------------------------------------------------------------


class _RecipeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, hardened for recipes.

    It refuses nesting deeper than :data:`MAX_DEPTH` while composing (PyYAML recurses per
    level), reports what its constructors raise besides ``YAMLError`` (``!!float abc`` is a
    ``ValueError``, ``!!timestamp nope`` an ``AttributeError``, ``!!bool maybe`` a ``KeyError``,
    an integer of more than 4300 digits a ``ValueError``) as a YAML error at the value, and
    keeps one entry per key when merging (``<<: [*a, *a]``), so that nested merges cannot
    double a mapping at every level.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"values nest more than {MAX_DEPTH} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError) as exc:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            value = short_repr(node.value) if isinstance(node, yaml.ScalarNode) else "this"
            reason = _one_line(str(exc), 120) if isinstance(exc, (ValueError, OverflowError)) else "not a valid value"
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {value} as {tag}: {reason}", node.start_mark
            ) from None

    def flatten_mapping(self, node: Any) -> None:
        super().flatten_mapping(node)
        seen: set[tuple[str, Any]] = set()
        kept = []
        for key, value in reversed(node.value):  # the last entry of a key is the one that counts
            if isinstance(key, yaml.ScalarNode):
                if (key.tag, key.value) in seen:
                    continue
                seen.add((key.tag, key.value))
            kept.append((key, value))
        node.value = kept[::-1]


def parse_yaml(text: str) -> Any:
    """``text`` parsed as YAML by the hardened safe loader (only ``yaml.YAMLError`` escapes)."""
    loader = _RecipeLoader(text)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise yaml.YAMLError(f"values nest too deeply (at most {MAX_DEPTH} levels)") from None
    finally:
        loader.dispose()


def yaml_problem(exc: yaml.YAMLError) -> str:
    """One line saying what is wrong and where: ``line 3, column 7: found unhashable key``."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return _one_line(f"{where}{problem}", 300)


def read_recipe_file(path: str | Path) -> dict[str, Any]:
    """Parse a YAML recipe file into a dict (a :class:`RecipeError` on anything but a small
    UTF-8 YAML mapping)."""
    path = Path(path)
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise RecipeError([RecipeProblem("", f"recipe file not found: {path}")]) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise RecipeError([RecipeProblem("", f"cannot read recipe file {path}: {reason}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        message = f"the file is larger than {MAX_FILE_BYTES // 1024} KiB; a recipe is a small YAML text file"
        raise RecipeError([RecipeProblem("", message)], source=path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = (
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "a recipe is a YAML text file, saved as UTF-8"
        )
        raise RecipeError([RecipeProblem("", message)], source=path) from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise RecipeError([RecipeProblem("", f"not valid YAML: {yaml_problem(exc)}")], source=path) from None
    if not isinstance(data, dict):
        raise RecipeError([RecipeProblem("", "a recipe must be a YAML mapping (key: value lines)")], source=path)
    return data


def _walk_values(data: Any) -> tuple[list[RecipeProblem], list[RecipeProblem]]:
    """``(shape problems, non-finite numbers)`` of raw recipe data, without recursion.

    Shape problems (the walk stops at the first): a value that contains itself (YAML
    ``&a [*a]``), nesting deeper than :data:`MAX_DEPTH`, more than :data:`MAX_VALUES` values
    once a shared value (a YAML alias) is counted every time it appears. Each distinct
    container is visited once, so an alias bomb costs no more than its text.
    """
    not_finite: list[RecipeProblem] = []
    size: dict[int, int] = {}  # of each container walked: its values, aliases expanded
    height: dict[int, int] = {}  # and how many containers deep it goes
    on_path = {id(data)}
    stack = [_Frame(data, (), _children(data))]  # the containers from the top to here

    def too_many(at: tuple[Any, ...]) -> list[RecipeProblem]:
        message = f"holds more than {MAX_VALUES} values once YAML aliases are expanded; a recipe is small"
        return [RecipeProblem(format_path(at[:1]), message)]

    while stack:
        frame = stack[-1]
        if not frame.todo:
            stack.pop()
            on_path.discard(id(frame.node))
            size[id(frame.node)], height[id(frame.node)] = frame.count, frame.height + 1
            if stack:
                stack[-1].count += frame.count
                stack[-1].height = max(stack[-1].height, frame.height + 1)
                if stack[-1].count > MAX_VALUES:
                    return too_many(frame.path), []
            continue
        key, child = frame.todo.pop()
        path = (*frame.path, key)
        if not isinstance(child, (Mapping, list, tuple)):
            if isinstance(child, float) and not math.isfinite(child):
                not_finite.append(RecipeProblem(format_path(path), NOT_FINITE, child, True))
            frame.count += 1
        elif id(child) in on_path:
            return [RecipeProblem(format_path(path), "a value contains itself (a YAML alias inside its own anchor)")], []
        elif id(child) in size:  # walked before: a shared value (a YAML alias)
            if len(stack) + height[id(child)] > MAX_DEPTH:
                return [RecipeProblem(format_path(path), f"values nest more than {MAX_DEPTH} levels deep")], []
            frame.count += size[id(child)]
            frame.height = max(frame.height, height[id(child)])
        elif len(stack) >= MAX_DEPTH:
            return [RecipeProblem(format_path(path), f"values nest more than {MAX_DEPTH} levels deep")], []
        else:
            on_path.add(id(child))
            stack.append(_Frame(child, path, _children(child)))
        if frame.count > MAX_VALUES:
            return too_many(path), []
    return [], not_finite


@dataclass
class _Frame:
    """A container being walked by :func:`_walk_values`."""

    node: Any
    path: tuple[Any, ...]
    todo: list[tuple[Any, Any]]  # (key, value) still to walk, the next one last
    count: int = 1
    height: int = 0


def _children(value: Any) -> list[tuple[Any, Any]]:
    if isinstance(value, Mapping):
        items = list(value.items())
    else:
        items = list(enumerate(value)) if isinstance(value, (list, tuple)) else []
    return items[::-1]


def _check_shape(data: Any, source: Path | None) -> list[RecipeProblem]:
    """Raise :class:`RecipeError` on a shape problem; else the non-finite numbers found."""
    shape, not_finite = _walk_values(data)
    if shape:
        raise RecipeError(shape, source=source)
    return not_finite


def load_recipe(
    source: str | Path | Mapping[str, Any],
    overrides: Iterable[str] = (),
    *,
    registry: Registry | None = None,
    base_dir: str | Path | None = None,
) -> Recipe:
    """Load a recipe from a YAML file or a dict, apply overrides, and validate it, once.

    Raises :class:`RecipeError` listing every problem (also for bad overrides).
    """
    live: dict[tuple[str, str], Any] = {}
    if isinstance(source, Mapping):
        data, path = dict(source), None
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        if _holds_objects(data):
            from invprob.user_modules import extract_live_components, with_live_components

            try:
                data, live = extract_live_components(data)
            except TypeError as exc:
                raise RecipeError([RecipeProblem("", str(exc))]) from None
            registry = with_live_components(registry if registry is not None else default_registry(), live)
    else:
        path = Path(source)
        data = read_recipe_file(path)
        base = Path(base_dir) if base_dir is not None else path.resolve().parent
    recipe = _load(data, overrides, registry, base_dir=base, source=path)
    recipe._live = live
    return recipe


def _holds_objects(data: Mapping[str, Any]) -> bool:
    """Whether a component section of a recipe dict holds a Python object (a live component)."""
    plain = (Mapping, str, int, float, bool, list, tuple, type(None))
    for section in COMPONENT_SECTIONS:
        value = data.get(section)
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, plain) or (isinstance(item, Mapping) and not isinstance(item.get("type"), plain)):
                return True
    return False


def _load(
    data: Mapping[str, Any], overrides: Iterable[str], registry: Registry | None, *, base_dir: Path, source: Path | None
) -> Recipe:
    registry = registry if registry is not None else default_registry()
    overrides = list(overrides)
    _check_shape(data, source)  # before overrides copy the data
    try:
        data = _apply_overrides(data, overrides, registry)
    except OverrideError as exc:
        raise RecipeError([RecipeProblem("", str(exc))], source=source) from None
    recipe = validate_recipe(data, base_dir=base_dir, registry=registry, source=source)
    recipe._overrides = tuple(overrides)
    return recipe


def _apply_overrides(data: Mapping[str, Any], overrides: Iterable[str], registry: Registry) -> dict[str, Any]:
    """:func:`apply_overrides`, writing out the solver's defaults where one reaches inside them."""
    result = dict(data)
    for override in overrides:
        path = override[1:] if override.startswith("~") else override.split("=", 1)[0]
        parts = split_path(path.strip())
        if len(parts) > 1 and parts[0] in SOLVER_DEFAULT_SECTIONS and parts[0] not in result:
            result[parts[0]] = solver_default(result, str(parts[0]), registry)[0]
        result = apply_overrides(result, [override])
    return result


def solver_default(
    data: Mapping[str, Any], section: str, registry: Registry
) -> tuple[list[dict[str, Any]], str | None]:
    """What an omitted ``section`` (``"losses"`` or ``"priors"``) of recipe ``data`` stands for.

    Returns the component specs and the name of the solver that declared them, or the
    fallback (``[mse]`` / ``[]``) and ``None`` when the solver declares no such default or is
    not a known solver (that is reported on its own).
    """
    solver = _solver_component(data, registry)
    if solver is not None and section in solver.defaults:
        return copy.deepcopy([dict(spec) for spec in solver.defaults[section]]), solver.name
    return copy.deepcopy(FALLBACK_DEFAULTS[section]), None


def _solver_component(data: Mapping[str, Any], registry: Registry) -> Component | None:
    solver = data.get("solver")
    name = solver.get("type") if isinstance(solver, Mapping) else None
    return registry.components["solvers"].get(name) if isinstance(name, str) else None


def validate_recipe(
    data: Mapping[str, Any],
    *,
    base_dir: str | Path | None = None,
    registry: Registry | None = None,
    source: Path | None = None,
) -> Recipe:
    """Both validation stages on a recipe dict (as written); a :class:`RecipeError` with every problem.

    Omitted ``losses``/``priors`` are filled in from the solver's defaults first, and checked.
    """
    registry = registry if registry is not None else default_registry()
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    not_finite = _check_shape(data, source)
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
    problems += component_problems(resolved, Recipe, registry, base_dir=base)
    problems += _metric_problems(resolved, registry)
    problems += requirement_problems(data.get("requires") or [])
    problems += _generator_problems(resolved, registry)
    problems += _mask_problems(resolved, registry)
    problems += _image_shape_problems(resolved, registry, base)
    reported = {problem.path for problem in problems}
    problems += [problem for problem in not_finite if problem.path not in reported]
    if problems or recipe is None:
        raise RecipeError(_unique(_label_defaults(problems, defaulted)), source=source)
    recipe._source = source
    recipe._base_dir = base
    recipe._raw = copy.deepcopy(dict(data))
    recipe._from_solver_defaults = tuple(defaulted)
    return recipe


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


def _specs_at(value: Any, path: tuple[Any, ...]) -> Iterable[tuple[tuple[Any, ...], Mapping[str, Any]]]:
    """``(path, spec)`` for the value of a component field: one spec or a list of them.

    Values not shaped like ``{type: str, ...}`` are skipped: stage 1 reports them.
    """
    items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    for index, spec in items:
        if isinstance(spec, Mapping) and isinstance(spec.get("type"), str):
            yield (path if index is None else (*path, index)), spec


def component_problems(
    data: Mapping[str, Any],
    model: type[BaseModel],
    registry: Registry,
    *,
    base_dir: Path | None = None,
    prefix: tuple[Any, ...] = (),
) -> list[RecipeProblem]:
    """Stage 2 for every component field of ``model`` found in ``data``, recursively.

    A component field is one marked with :class:`~invprob.params.NestedKind` (the recipe's
    sections, ``compose``'s ``operators``): its names must be registered, its params must
    satisfy the component's params model, and the components nested in those params are
    checked in turn. Paths start with ``prefix``.
    """
    problems = []
    for key, kind in nested_component_fields(model).items():
        for path, spec in _specs_at(data.get(key), (*prefix, key)):
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
                component.validate_params(params, base_dir=base_dir)
            except ValidationError as exc:
                problems += problems_from_validation_error(exc, component.params_model, prefix=(*path, "params"))
            except Exception as exc:  # noqa: BLE001 - a plugin's validator failing is still a one-line problem
                problems.append(
                    RecipeProblem(
                        format_path((*path, "params")),
                        f"the params check of {singular(kind)} {name!r} ({component.distribution}) failed on these "
                        f"params with {type(exc).__name__}: {_one_line(str(exc), 200)}; please report it to its authors",
                    )
                )
                continue
            problems += component_problems(
                params, component.params_model, registry, base_dir=base_dir, prefix=(*path, "params")
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
            for _, spec in _specs_at(values.get(key), ()):
                component = registry.components[kind].get(spec["type"])
                if component is not None:
                    found.add(component.distribution)
                    if isinstance(spec.get("params"), Mapping):
                        walk(spec["params"], component.params_model)

    walk(resolved, Recipe)
    return found


def _generator_problems(data: Mapping[str, Any], registry: Registry) -> list[RecipeProblem]:
    """What needs a generator, in a recipe without one: components whose params model says
    ``needs_generator`` (a latent solver, a prior on z), and ``data.samples``/``observation``."""
    if data.get("generator") is not None:
        return []
    problems = []
    for section, kind in COMPONENT_SECTIONS.items():
        for path, spec in _specs_at(data.get(section), (section,)):
            component = registry.components[kind].get(spec["type"])
            if component is not None and component.params_model.needs_generator:
                problems.append(
                    RecipeProblem(
                        format_path((*path, "type")),
                        f"{singular(kind)} {spec['type']!r} works on a generator's latent, and the recipe has no "
                        "'generator' section: add one",
                    )
                )
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


def _mask_problems(data: Mapping[str, Any], registry: Registry) -> list[RecipeProblem]:
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
    problems = []
    for section, kind in COMPONENT_SECTIONS.items():
        for path, spec in _specs_at(data.get(section), (section,)):
            component = registry.components[kind].get(spec["type"])
            if component is not None and component.params_model.needs_mask:
                other = instead.get(kind, f"{with_article(singular(kind))} that needs no mask")
                problems.append(
                    RecipeProblem(
                        format_path((*path, "type")),
                        f"{singular(kind)} {spec['type']!r} needs an operator that masks pixels, and operator "
                        f"{operator['type']!r} has no observed-pixel mask{takes}: use an inpainting operator{examples}, "
                        f"or {other}",
                    )
                )
    return problems


def _validated_params(spec: Mapping[str, Any], kind: str, registry: Registry, base_dir: Path) -> Params | None:
    """Component ``spec``'s params model, or None when it does not validate (reported elsewhere)."""
    component = registry.components[kind].get(spec["type"])
    params = spec.get("params") or {}
    if component is None or not isinstance(params, Mapping):
        return None
    try:
        return component.validate_params(params, base_dir=base_dir)
    except Exception:  # noqa: BLE001 - stage 2 reports every way params fail
        return None


def known_image_shape(data: Mapping[str, Any], registry: Registry, base_dir: Path) -> tuple[int, int, int] | None:
    """The ``(C, H, W)`` of the images a recipe solves for, when the recipe alone tells it.

    Known means: the recipe has a generator, and its params model's ``declared_image_shape()``
    gives the size from the params (a fixed architecture such as ``dcgan32-celeba``, or the size
    field of a randomly initialised model). Every image is then brought to that size. Without
    a generator, or for a checkpoint whose size only its file tells, the shape is not known
    before the images or the model are read, and the operator's params are checked when it is
    built (exit 2 naming the section).
    """
    generator = data.get("generator")
    if not (isinstance(generator, Mapping) and isinstance(generator.get("type"), str)):
        return None
    params = _validated_params(generator, "generators", registry, base_dir)
    return params.declared_image_shape() if params is not None else None


def _image_shape_problems(data: Mapping[str, Any], registry: Registry, base_dir: Path) -> list[RecipeProblem]:
    """Operator params that cannot fit the recipe's known image shape: a missing box outside the
    image, a downsampling factor that does not divide its sides, more measurements than pixels.
    The operator's params model says which (``image_shape_problems``); the top-level operator
    and the first operator of a composition (the one that sees the image) are checked."""
    shape = known_image_shape(data, registry, base_dir)
    operator = data.get("operator")
    if shape is None or not (isinstance(operator, Mapping) and isinstance(operator.get("type"), str)):
        return []
    path: tuple[Any, ...] = ("operator",)
    for _ in range(50):  # down the chain of first operators of compositions
        params = _validated_params(operator, "operators", registry, base_dir)
        if params is None:
            return []
        problems = [
            RecipeProblem(format_path((*path, "params", field)), f"{message} (generator "
                          f"{data['generator']['type']!r} makes {' x '.join(map(str, shape))} images)")
            for field, message in params.image_shape_problems(shape)
        ]
        nested = type(params).mask_from_first
        inner = (operator.get("params") or {}).get(nested) if nested else None
        if problems or not (isinstance(inner, list) and inner and isinstance(inner[0], Mapping)
                            and isinstance(inner[0].get("type"), str)):
            return problems
        operator, path = inner[0], (*path, "params", nested, 0)
    return []


def default_metric_names(registry: Registry) -> list[str]:
    """The metrics an omitted ``metrics:`` stands for: every installed one whose params all default."""
    metrics = sorted(registry.components["metrics"].items())
    return [name for name, metric in metrics if needs_no_params(metric.params_model)]


def _metric_problems(data: Mapping[str, Any], registry: Registry) -> list[RecipeProblem]:
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


def dump_recipe(recipe: Recipe) -> str:
    """The resolved recipe as YAML: every default filled in, the solver's default components included."""
    data = recipe.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False)
