"""``invprob describe KIND NAME``: a component's params with types, defaults, ranges and
descriptions, and its examples (``--json``: the params' JSON Schema, as ``invprob schema``
embeds it). Registered through the commands hook; light: the registry is loaded anyway.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from invprob import hookimpl
from invprob.hints import component_kind, singular
from invprob.registry import KINDS, CommandRegistry, default_registry


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


def _component(kind: str, name: str):
    """The registered component, or a ``ValueError`` (exit 2) with the registry's did-you-mean."""
    from invprob.registry import UnknownComponentError

    try:
        return default_registry().get(kind, name)
    except UnknownComponentError as exc:
        raise ValueError(str(exc)) from None


def describe_component(kind: str, name: str) -> str:
    """The text ``invprob describe`` prints for one component."""
    registry = default_registry()
    component = _component(kind, name)
    distribution = registry.distributions.get(component.distribution)
    version = f" {distribution.version}" if distribution is not None else ""
    schema = component.params_model.model_json_schema()
    defs = schema.get("$defs", {})
    lines = [f"{component.name} ({singular(kind)}, {component.distribution}{version})"]
    if component.description:
        lines.append(f"  {component.description}")
    properties = schema.get("properties", {})
    if not properties:
        lines.append("params: none")
    else:
        lines.append("params:")
        required = set(schema.get("required", []))
        for field, prop in properties.items():
            default = "required" if field in required else f"default {json.dumps(prop.get('default'))}"
            detail = ", ".join(p for p in (_type_of(prop, defs), default, _range_of(prop)) if p)
            lines.append(f"  {field}: {detail}")
            if prop.get("description"):
                lines.append(f"      {prop['description']}")
    for index, example in enumerate(getattr(component, "examples", None) or []):
        if index == 0:
            lines.append("examples:")
        lines.append(f"  {json.dumps(example)}")
    return "\n".join(lines)


def _configure_describe(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", help=f"one of {', '.join(KINDS)} (singular or plural)")
    parser.add_argument("name", help="the component's registered name, e.g. inpaint-center")
    parser.add_argument("--json", action="store_true", help="print the params' JSON Schema instead")


def _run_describe(args: argparse.Namespace) -> int:
    kind = component_kind(args.kind, KINDS)
    if args.json:
        component = _component(kind, args.name)
        print(json.dumps(component.params_model.model_json_schema(), indent=2))
    else:
        print(describe_component(kind, args.name))
    return 0


@hookimpl
def invprob_register_commands(registry: CommandRegistry) -> None:
    registry.add("describe", _run_describe, help="a component's params: types, defaults, ranges", configure=_configure_describe)
