"""The ``invprob new-plugin NAME --kind KIND [--out DIR]`` command (the commands hook).

Kept light: the scaffold (:mod:`invprob_plugin_scaffold`) is imported when the command runs
or its options are built.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from invprob import hookimpl
from invprob.registration import CommandRegistry


def _configure(parser: argparse.ArgumentParser) -> None:
    from invprob_plugin_scaffold import KINDS

    parser.add_argument("name", help="the component's name, e.g. my-blur (distribution invprob-plugin-my-blur)")
    parser.add_argument("--kind", required=True, choices=KINDS, help="what the plugin registers")
    parser.add_argument("--out", type=Path, help="folder to create (default: ./invprob-plugin-NAME)")


def _run(args: argparse.Namespace) -> int:
    from invprob.hints import with_article
    from invprob_plugin_scaffold import PluginNames, check_name, write_plugin

    names = PluginNames(check_name(args.name))
    out = args.out or Path(names.distribution)
    written = write_plugin(names.name, args.kind, out)
    print(f"wrote {len(written)} files to {out}/ ({names.distribution}, {with_article(args.kind)} named {names.name!r})")
    print(f"  pip install -e '{out}[test]' && pytest {out}")
    return 0


@hookimpl
def invprob_register_commands(registry: CommandRegistry) -> None:
    registry.add("new-plugin", _run, help="write an installable plugin skeleton with its tests", configure=_configure)
