"""The ``invprob describe KIND NAME [--json]`` command (the commands hook); ``--json`` prints the
params' JSON Schema, as ``invprob schema`` embeds it."""

from __future__ import annotations

import argparse
import json

from invprob import hookimpl
from invprob.hints import component_kind
from invprob.registry import KINDS, CommandRegistry


def _configure_describe(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", help=f"one of {', '.join(KINDS)} (singular or plural)")
    parser.add_argument("name", help="the component's registered name, e.g. inpaint-center")
    parser.add_argument("--json", action="store_true", help="print the params' JSON Schema instead")


def _run_describe(args: argparse.Namespace) -> int:
    from invprob_plugin_describe import describe_component, find_component

    kind = component_kind(args.kind, KINDS)
    if args.json:
        component = find_component(kind, args.name)
        print(json.dumps(component.params_model.model_json_schema(), indent=2))
    else:
        print(describe_component(kind, args.name))
    return 0


@hookimpl
def invprob_register_commands(registry: CommandRegistry) -> None:
    registry.add("describe", _run_describe, help="a component's params: types, defaults, ranges", configure=_configure_describe)
