"""Reading recipe text: a small UTF-8 YAML file, parsed by a hardened safe loader, within limits.

Whatever is written, reading ends quickly in data or a :class:`RecipeError` with one line per
problem: a recipe file is UTF-8 text of at most :data:`MAX_FILE_BYTES`; values nest at most
:data:`MAX_DEPTH` deep and, with YAML aliases expanded, number at most :data:`MAX_VALUES`
(:func:`check_shape`, also run on recipes given as Python dicts); numbers are finite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from invprob.recipe.problems import NOT_FINITE, RecipeError, RecipeProblem, format_path, one_line, short_repr

MAX_FILE_BYTES = 64 << 10
"""The largest recipe file read: a recipe is a few kilobytes, and PyYAML reads ~100 KiB a second."""
MAX_DEPTH = 50
"""How deeply values may nest (the deepest shipped recipe: 6 levels)."""
MAX_VALUES = 100_000
"""How many values a recipe may hold once YAML aliases are expanded."""


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
            reason = one_line(str(exc), 120) if isinstance(exc, (ValueError, OverflowError)) else "not a valid value"
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
    return one_line(f"{where}{problem}", 300)


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


class _ShapeError(Exception):
    """The first shape problem :func:`check_shape` meets; it ends the walk."""


def check_shape(data: Any, source: Path | None) -> list[RecipeProblem]:
    """Raise :class:`RecipeError` on a shape problem of raw recipe data; else return the
    non-finite numbers found.

    Shape problems (the walk stops at the first): a value that contains itself (YAML
    ``&a [*a]``), nesting deeper than :data:`MAX_DEPTH`, more than :data:`MAX_VALUES` values
    once a shared value (a YAML alias) is counted every time it appears. Each distinct
    container is walked once, so an alias bomb costs no more than its text; the walk recurses
    at most :data:`MAX_DEPTH` deep.
    """
    not_finite: list[RecipeProblem] = []
    walked: dict[int, tuple[int, int]] = {}  # container id -> (its values, aliases expanded; containers deep)
    on_path: set[int] = set()

    def refuse(at: tuple[Any, ...], message: str) -> None:
        raise _ShapeError(RecipeProblem(format_path(at), message))

    def walk(node: Any, path: tuple[Any, ...], depth: int) -> tuple[int, int]:
        on_path.add(id(node))
        count, height = 1, 1
        items = node.items() if isinstance(node, Mapping) else enumerate(node) if isinstance(node, (list, tuple)) else ()
        for key, child in items:
            at = (*path, key)
            if not isinstance(child, (Mapping, list, tuple)):
                if isinstance(child, float) and not math.isfinite(child):
                    not_finite.append(RecipeProblem(format_path(at), NOT_FINITE, child, True))
                size, deep = 1, 0
            elif id(child) in on_path:
                refuse(at, "a value contains itself (a YAML alias inside its own anchor)")
            elif depth + (walked[id(child)][1] if id(child) in walked else 1) > MAX_DEPTH:
                refuse(at, f"values nest more than {MAX_DEPTH} levels deep")
            else:  # a shared value (a YAML alias) walked before is counted, not walked again
                size, deep = walked[id(child)] if id(child) in walked else walk(child, at, depth + 1)
            count, height = count + size, max(height, deep + 1)
            if count > MAX_VALUES:
                refuse(at[:1], f"holds more than {MAX_VALUES} values once YAML aliases are expanded; a recipe is small")
        on_path.discard(id(node))
        walked[id(node)] = (count, height)
        return count, height

    try:
        walk(data, (), 1)
    except _ShapeError as exc:
        raise RecipeError([exc.args[0]], source=source) from None
    return not_finite
