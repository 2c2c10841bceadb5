"""What is wrong with a recipe, said in the recipe's words.

A :class:`RecipeProblem` is one problem with its full path (``solver.params.steps[3]``,
``operator.params.operators[1].params.sigma``); a :class:`RecipeError` lists every problem
found at once. :func:`problems_from_validation_error` translates pydantic's errors (union
member names dropped from paths, did-you-mean for unknown keys and bad literal values, what to
write where a mapping was expected); every value shown is shortened (:func:`short_repr`), so a
message stays one line whatever was written.
"""

from __future__ import annotations

import dataclasses
import math
import re
import reprlib
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from invprob.hints import suggest

MAX_PROBLEMS = 100
"""The most problems listed from one model's validation; the rest are counted."""
NOT_FINITE = "must be a finite number (.inf and .nan are not allowed in a recipe)"


@dataclass(frozen=True)
class RecipeProblem:
    """One thing wrong with a recipe: where, what, the value found, and a hint."""

    path: str
    message: str
    value: Any = None
    has_value: bool = False

    def __str__(self) -> str:
        got = f" (got: {short_repr(self.value)})" if self.has_value else ""
        return one_line(f"{self.path or '<recipe>'}: {self.message}{got}")


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


def one_line(text: str, limit: int = 600) -> str:
    """``text`` on one line (whitespace runs joined) of at most ``limit`` characters."""
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
        _, own_loc, in_union = _walk(model, item["loc"])
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


def _walk(model: type[BaseModel], loc: Sequence[Any]) -> tuple[Any, tuple[Any, ...], bool]:
    """``(the annotation at loc, loc without pydantic's names of union members, whether it had any)``.

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
    return _unwrap(annotation), tuple(out), dropped


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



def _strip_pydantic_prefix(message: str) -> str:
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _field_names_at(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """Field names of the (nested) model found at ``loc`` inside ``model``, if any."""
    annotation = _walk(model, loc)[0]
    return list(annotation.model_fields) if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []


def _unwrap(annotation: Any) -> Any:
    """Drop ``Optional``/``Annotated`` wrappers."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(members[0]) if len(members) == 1 else annotation
    return annotation
