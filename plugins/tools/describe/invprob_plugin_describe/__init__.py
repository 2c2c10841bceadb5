"""``invprob-plugin-describe``: ``invprob describe KIND NAME``, a component's params with their
types, defaults, ranges and descriptions, and its examples (the command: :mod:`.plugin`).

:func:`component_params` reads them from the params model's JSON Schema: the one source of
both ``invprob describe`` and the documentation site's generated reference pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from invprob.hints import singular
from invprob.registration import Component
from invprob.registry import default_registry


def _type_of(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short type name for one property's JSON Schema (``float``, ``int | null``, ``"a" | "b"``)."""
    if "$ref" in schema:
        target = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
        return _type_of(target, defs) if "enum" in target else target.get("title", "object")
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(dict.fromkeys(_type_of(s, defs) for s in schema[key]))
    kind = schema.get("type", "any")
    if kind == "array" and "prefixItems" in schema:
        return f"[{', '.join(_type_of(s, defs) for s in schema['prefixItems'])}]"
    if kind == "array":
        return f"list[{_type_of(schema.get('items', {}), defs)}]"
    return {"number": "float", "integer": "int", "string": "str", "boolean": "bool"}.get(kind, str(kind))


def _range_of(schema: dict[str, Any]) -> str:
    """``>= 0``, ``in (0, 1]`` and the like, from the JSON Schema bounds of a property."""
    parts = [s for s in schema.get("anyOf", [schema]) if isinstance(s, dict)]
    for part in parts:
        low = ("[", part["minimum"]) if "minimum" in part else ("(", part["exclusiveMinimum"]) if "exclusiveMinimum" in part else None
        high = ("]", part["maximum"]) if "maximum" in part else (")", part["exclusiveMaximum"]) if "exclusiveMaximum" in part else None
        if low and high:
            return f"in {low[0]}{low[1]}, {high[1]}{high[0]}"
        if low:
            return f"{'>=' if low[0] == '[' else '>'} {low[1]}"
        if high:
            return f"{'<=' if high[0] == ']' else '<'} {high[1]}"
    return ""


def find_component(kind: str, name: str):
    """The registered component, or a ``ValueError`` (exit 2) with the registry's did-you-mean."""
    from invprob.registry import UnknownComponentError

    try:
        return default_registry().get(kind, name)
    except UnknownComponentError as exc:
        raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class ParamInfo:
    """One param of a component as ``invprob describe`` and the site's API reference show it."""

    name: str
    type: str
    default: str  # "required", or the default as JSON
    range: str  # "in [0, 1]", ">= 1", or ""
    description: str


def component_params(component: Component) -> list[ParamInfo]:
    """A component's params, read from its params model's JSON Schema (the one source of both
    ``invprob describe`` and the generated reference pages)."""
    schema = component.params_model.model_json_schema()
    defs, required = schema.get("$defs", {}), set(schema.get("required", []))
    return [
        ParamInfo(field, _type_of(prop, defs), "required" if field in required else json.dumps(prop.get("default")),
                  _range_of(prop), prop.get("description", ""))  # fmt: skip
        for field, prop in schema.get("properties", {}).items()
    ]


def describe_component(kind: str, name: str) -> str:
    """The text ``invprob describe`` prints for one component."""
    registry = default_registry()
    component = find_component(kind, name)
    distribution = registry.distributions.get(component.distribution)
    version = f" {distribution.version}" if distribution is not None else ""
    lines = [f"{component.name} ({singular(kind)}, {component.distribution}{version})"]
    if component.description:
        lines.append(f"  {component.description}")
    params = component_params(component)
    lines.append("params:" if params else "params: none")
    for param in params:
        default = param.default if param.default == "required" else f"default {param.default}"
        lines.append(f"  {param.name}: {', '.join(p for p in (param.type, default, param.range) if p)}")
        if param.description:
            lines.append(f"      {param.description}")
    for index, example in enumerate(getattr(component, "examples", None) or []):
        if index == 0:
            lines.append("examples:")
        lines.append(f"  {json.dumps(example)}")
    return "\n".join(lines)
