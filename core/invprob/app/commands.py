"""The core's own commands: ``describe``, ``example`` and ``new-plugin`` (a default plugin).

- ``invprob describe KIND NAME``: a component's params with types, defaults, ranges and
  descriptions (``--json``: the params' JSON Schema, as ``invprob schema`` embeds it).
- ``invprob example demo [--out DIR]``: copy an example recipe and its images out of the
  installed package, so the demo runs after ``pip install`` without a checkout.
- ``invprob new-plugin NAME --kind KIND [--out DIR]``: write an installable plugin skeleton with
  its conformance tests (:mod:`invprob.app.scaffold`).
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from invprob.hints import component_kind, singular
from invprob.hookspecs import hookimpl
from invprob.registration import Component
from invprob.registry import KINDS, CommandRegistry, default_registry

EXAMPLES_PACKAGE = "invprob.app.examples"


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


@dataclass(frozen=True)
class ParamInfo:
    """One param as ``invprob describe`` and the site's API reference show it: its name, type,
    default ("required" or JSON), range ("in [0, 1]", ">= 1" or "") and description."""

    name: str
    type: str
    default: str
    range: str
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
    component = _component(kind, name)
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
    if component.examples:
        lines += ["examples:", *(f"  {json.dumps(example)}" for example in component.examples)]
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


def example_names() -> list[str]:
    """The examples the installed core ships (folders of :mod:`invprob.app.examples`)."""
    root = resources.files(EXAMPLES_PACKAGE)
    return sorted(entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("_"))


def copy_example(name: str, out: Path) -> list[Path]:
    """Copy example ``name`` into ``out`` (which must not exist); the files written."""
    names = example_names()
    if name not in names:
        raise ValueError(f"unknown example {name!r}; the examples are: {', '.join(names)}")
    if out.exists():
        raise FileExistsError(f"{out} already exists; choose another --out or remove it")
    with resources.as_file(resources.files(EXAMPLES_PACKAGE) / name) as source:
        shutil.copytree(source, out, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return sorted(p for p in out.rglob("*") if p.is_file())


def _configure_example(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the example to copy out (demo)")
    parser.add_argument("--out", type=Path, help="folder to create (default: ./invprob-NAME)")


def _run_example(args: argparse.Namespace) -> int:
    out = args.out or Path(f"invprob-{args.name}")
    written = copy_example(args.name, out)
    recipes = [p for p in written if p.suffix in (".yaml", ".yml")]
    print(f"wrote {len(written)} files to {out}/")
    for recipe in recipes:
        print(f"  run it:  invprob run {recipe}")
    return 0


def _configure_new_plugin(parser: argparse.ArgumentParser) -> None:
    from invprob.app.scaffold import KINDS as PLUGIN_KINDS

    parser.add_argument("name", help="the component's name, e.g. my-blur (distribution invprob-plugin-my-blur)")
    parser.add_argument("--kind", required=True, choices=PLUGIN_KINDS, help="what the plugin registers")
    parser.add_argument("--out", type=Path, help="folder to create (default: ./invprob-plugin-NAME)")


def _run_new_plugin(args: argparse.Namespace) -> int:
    from invprob.hints import with_article
    from invprob.app.scaffold import PluginNames, check_name, write_plugin

    names = PluginNames(check_name(args.name))
    out = args.out or Path(names.distribution)
    written = write_plugin(names.name, args.kind, out)
    print(f"wrote {len(written)} files to {out}/ ({names.distribution}, {with_article(args.kind)} named {names.name!r})")
    print(f"  pip install -e '{out}[test]' && pytest {out}")
    return 0


@hookimpl
def invprob_register_commands(registry: CommandRegistry) -> None:
    registry.add("describe", _run_describe, help="a component's params: types, defaults, ranges", configure=_configure_describe)
    registry.add("example", _run_example, help="copy an example recipe and its images out (demo)", configure=_configure_example)
    registry.add("new-plugin", _run_new_plugin, help="write an installable plugin skeleton with its tests",
                 configure=_configure_new_plugin)  # fmt: skip
