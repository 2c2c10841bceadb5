"""Command-line overrides: ``a.b.c=value`` (the value read as YAML) and ``~a.b`` (delete).

A path names mapping keys and list indices (``losses.0.weight``, ``losses[0].weight``,
``priors.-1``); an override that is malformed or points nowhere is an :class:`OverrideError`
that says which and why. Applying them to a recipe (the solver's defaults written out where an
override reaches inside an omitted section) is :func:`invprob.recipe.loading.load_recipe`'s job.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from invprob.params import declares_path
from invprob.recipe.problems import format_path, short_repr
from invprob.recipe.reading import MAX_DEPTH, parse_yaml, yaml_problem
from invprob.recipe.schema import COMPONENT_SECTIONS
from invprob.registry import Registry


class OverrideError(ValueError):
    """A command-line override is malformed or points nowhere."""


def split_path(path: str) -> list[str | int]:
    """``"losses[0].weight"`` -> ``["losses", 0, "weight"]``; an :class:`OverrideError` for a path that
    names nothing, an index too large, or more levels than a recipe may nest."""
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


RECIPE_PATH_FIELDS: frozenset[tuple[str, ...]] = frozenset({("data", "images"), ("data", "observation"), ("outputs", "dir")})
"""The recipe's own path fields; a component's are the fields its params model declares as paths."""


def with_absolute_path(override: str, data: Mapping[str, Any], registry: Registry, folder: Path) -> str:
    """``override`` with a relative path value made absolute against ``folder``, when it sets a
    path field of ``data`` (the recipe as overridden so far); else ``override`` as it is.

    A path written in the recipe file resolves against the file's folder; one typed on the
    command line (``data.images=photos/``) means what the shell means: the working directory,
    which the command line passes as ``folder``. Path fields are ``data.images``,
    ``data.observation``, ``outputs.dir`` and the params a component's params model declares as
    paths (:func:`invprob.params.declares_path`). A malformed override is returned as it is:
    applying it reports why.
    """
    if override.startswith("~") or "=" not in override:
        return override
    path, raw = override.split("=", 1)
    try:
        parts = split_path(path.strip())
        value = parse_yaml(raw) if raw.strip() else ""
    except (OverrideError, yaml.YAMLError):
        return override
    if not isinstance(value, str) or not value or os.path.isabs(value) or value.startswith("~"):
        return override
    if not is_path_field(data, parts, registry):
        return override
    return f"{path}={json.dumps(os.path.abspath(folder / value))}"


def is_path_field(data: Mapping[str, Any], parts: Sequence[Any], registry: Registry) -> bool:
    """Whether ``parts`` (``["operator", "params", "path"]``) names a path field of recipe ``data``:
    one of :data:`RECIPE_PATH_FIELDS`, or a path param of a top-level component (or of an item of
    a list section); components nested in a component's params are not looked into."""
    if tuple(parts) in RECIPE_PATH_FIELDS:
        return True
    if len(parts) < 3 or parts[-2] != "params" or parts[0] not in COMPONENT_SECTIONS:
        return False
    spec: Any = data
    for part in parts[:-2]:
        if isinstance(spec, Mapping):
            spec = spec.get(part)
        elif isinstance(spec, list) and isinstance(part, int) and -len(spec) <= part < len(spec):
            spec = spec[part]
        else:
            return False
    if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), str):
        return False
    if len(parts) > 4 or (len(parts) == 4 and not isinstance(parts[1], int)):
        return False  # a component nested in a component's params: not looked into
    component = registry.components[COMPONENT_SECTIONS[str(parts[0])]].get(spec["type"])
    field = component.params_model.model_fields.get(str(parts[-1])) if component is not None else None
    return field is not None and declares_path(field)
