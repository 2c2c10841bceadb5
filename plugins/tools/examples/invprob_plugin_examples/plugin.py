"""The command ``invprob example demo [--out DIR]``: copy an example recipe and its images out
of the installed package, so the demo runs after ``pip install`` without a checkout.
"""

from __future__ import annotations

import argparse
import shutil
from importlib import resources
from pathlib import Path

from invprob import hookimpl
from invprob.registry import CommandRegistry

EXAMPLES_PACKAGE = "invprob_plugin_examples"


def example_names() -> list[str]:
    """The examples this distribution ships (folders of :mod:`invprob_plugin_examples`)."""
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


@hookimpl
def invprob_register_commands(registry: CommandRegistry) -> None:
    registry.add("example", _run_example, help="copy an example recipe and its images out (demo)", configure=_configure_example)
