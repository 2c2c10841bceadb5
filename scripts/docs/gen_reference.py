"""Build-time API reference (mkdocs-gen-files + mkdocstrings): a page per public module of
``invprob``, in the kernel / testing kit / application sections, and a page per first-party
distribution listing its components with their params (what ``invprob describe`` prints).

Both come from what is installed when the site is built: the module list from the ``invprob``
package's files (a module moved or added needs no edit here), the components from the plugin
registry, through the same function as ``invprob describe``
(:func:`invprob_plugin_describe.component_params`).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections import defaultdict
from pathlib import Path

import mkdocs_gen_files

from invprob_plugin_describe import component_params
from invprob.first_party import FIRST_PARTY, PLUGIN_DISTRIBUTIONS
from invprob.hints import singular
from invprob.registration import Component
from invprob.registry import KINDS, Registry, new_registry

sys.path.insert(0, str(Path(__file__).parent))
from repo_pages import plugins  # noqa: E402

SECTIONS = {
    "kernel": ("Kernel", "what plugins import: the contracts, the registry, params, recipes, ops, seeding, "
               "weights, the optimisation loop, image I/O"),  # fmt: skip
    "testing": ("Testing kit", "`invprob.testing`: the conformance suites and fixtures a plugin's tests reuse"),
    "application": ("Application", "`invprob.app`: the `invprob` command and the running of recipes. "
                    "**Not for plugins**: no plugin imports it (`tests/test_layering.py`); "
                    "scripts and notebooks reach it through the façade (`invprob.run`, `invprob.build`)"),  # fmt: skip
}


def public_modules(package: str = "invprob") -> list[str]:
    """The dotted names of ``package`` and its public modules (no part starting with ``_``), from
    the installed package's files."""
    root = Path(importlib.util.find_spec(package).submodule_search_locations[0])
    names = []
    for file in sorted(root.rglob("*.py")):
        parts = file.relative_to(root).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if not any(part.startswith("_") for part in parts) and (file.parent / "__init__.py").is_file():
            names.append(".".join((package, *parts)))
    return sorted(names)


def section(module: str) -> str:
    """Which section of the reference ``module`` belongs to."""
    if module == "invprob.app" or module.startswith("invprob.app."):
        return "application"
    if module == "invprob.testing" or module.startswith("invprob.testing."):
        return "testing"
    return "kernel"


def write_modules() -> dict[str, list[str]]:
    """A page per public module; returns the modules of each section."""
    by_section: dict[str, list[str]] = defaultdict(list)
    for module in public_modules():
        by_section["facade" if module == "invprob" else section(module)].append(module)
        with mkdocs_gen_files.open(f"reference/{module}.md", "w", encoding="utf-8") as page:
            page.write(f"# `{module}`\n\n::: {module}\n    options:\n      show_root_heading: false\n")
    return by_section


def _cell(text: str, code: bool = False) -> str:
    """``text`` fit for one Markdown table cell (a pipe inside a code span needs no escape)."""
    text = " ".join(text.split())
    if code:
        return f"`{text}`" if text else ""
    return text.replace("|", "\\|")


def component_section(kind: str, component: Component) -> str:
    """One component's Markdown: its description, params table, examples and solver defaults."""
    out = [f"### {component.name} {{ #{singular(kind)}-{component.name} }}\n\n"]
    out.append(f"*{singular(kind)}* · `invprob describe {singular(kind)} {component.name}`\n\n")
    if component.description:
        out.append(f"{component.description}\n\n")
    params = component_params(component)
    if params:
        out.append("| param | type | default | range | description |\n|---|---|---|---|---|\n")
        out += [f"| `{p.name}` | {_cell(p.type, code=True)} | {p.default if p.default == 'required' else _cell(p.default, code=True)} "
                f"| {_cell(p.range)} | {_cell(p.description)} |\n" for p in params]  # fmt: skip
        out.append("\n")
    else:
        out.append("No params.\n\n")
    if component.examples:
        out.append("Example params:\n\n" + "".join(f"```json\n{json.dumps(e)}\n```\n\n" for e in component.examples))
    if component.defaults:
        out.append("Losses and priors used when a recipe leaves them out:\n\n```json\n"
                   + json.dumps(dict(component.defaults)) + "\n```\n\n")  # fmt: skip
    return "".join(out)


def first_party_distributions() -> list[str]:
    """The core and every plugin distribution of this repository."""
    return sorted({"invprob-core", *PLUGIN_DISTRIBUTIONS, *(d for names in FIRST_PARTY.values() for d in names.values())})


def python_api(distribution: str) -> str:
    """The ``__all__`` names of a plugin distribution's package (``from_deepinv``, ``run_study``):
    its Python API, rendered from their docstrings where they are defined; "" when it has none."""
    if distribution == "invprob-core":
        return ""  # the core's Python API is the façade and the modules above
    package = importlib.import_module(distribution.replace("-", "_"))
    names = getattr(package, "__all__", [])
    if not names:
        return ""
    where = [f"{getattr(package, name).__module__}.{name}" for name in names]
    return "## Python API\n\n" + "".join(f"::: {path}\n    options:\n      heading_level: 3\n\n" for path in where)


def write_components(registry: Registry) -> list[str]:
    """A page per first-party distribution: its components and commands. Returns the pages' names."""
    missing = [d for d in first_party_distributions() if d not in registry.distributions]
    if missing:
        raise RuntimeError(f"the API reference documents every first-party distribution, and these were not loaded: "
                           f"{', '.join(missing)} (install them: pip install -r requirements/test.txt; "
                           f"and leave INVPROB_LOAD_PLUGINS and INVPROB_DISABLE_PLUGINS unset)")  # fmt: skip
    readme = {plugin.distribution: plugin for plugin in plugins()}
    written = []
    for distribution in first_party_distributions():
        components = [(k, c) for k in KINDS for c in sorted(registry.components[k].values(), key=lambda c: c.name)
                      if c.distribution == distribution]  # fmt: skip
        commands = sorted((words, c) for words, c in registry.commands.items() if c.distribution == distribution)
        lines = [f"# {distribution}\n\n"]
        if distribution in readme:
            lines.append(f"{readme[distribution].description} Its README: [{distribution}](../../{readme[distribution].page}).\n\n")
        else:  # the core: its default plugins
            lines.append("The core's own components, registered through the same entry points as any plugin's.\n\n")
        if not components and not commands:
            lines.append("It registers no component and no command: it is used from Python (see its README).\n")
        if commands:
            lines.append("## Commands\n\n" + "".join(f"- `invprob {' '.join(w)}`: {c.help}\n" for w, c in commands) + "\n")
        for kind in KINDS:
            of_kind = [c for k, c in components if k == kind]
            if of_kind:
                lines.append(f"## {kind.capitalize()}\n\n" + "".join(component_section(kind, c) for c in of_kind))
        lines.append(python_api(distribution))
        with mkdocs_gen_files.open(f"reference/components/{distribution}.md", "w", encoding="utf-8") as page:
            page.writelines(lines)
        written.append(distribution)
    return written


def write_index(by_section: dict[str, list[str]], distributions: list[str]) -> None:
    """The reference's front page and its navigation (mkdocs-literate-nav's SUMMARY.md)."""
    index = ["# API reference\n\nGenerated from the docstrings and the plugin registry each time the site is built. "
             "The core has a waist: the **kernel** is what plugins build on, the **application** is the command "
             "and the running of recipes, and no plugin imports it.\n\n"
             "- [The façade `invprob`](invprob.md): the names a script or notebook starts from "
             "(`invprob.run`, `invprob.build_operator`, `invprob.adapt_generator`, …).\n"]  # fmt: skip
    summary = ["* [Overview](index.md)\n", "* [Façade: invprob](invprob.md)\n"]
    for key, (title, what) in SECTIONS.items():
        index.append(f"- **{title}**: {what}. Modules: "
                     + ", ".join(f"[`{m}`]({m}.md)" for m in by_section[key]) + ".\n")  # fmt: skip
        summary.append(f"* {title}\n" + "".join(f"    * [{m}]({m}.md)\n" for m in by_section[key]))
    index.append("- **[Components](components/index.md)** of every first-party distribution, with their params "
                 "(types, defaults, ranges), as `invprob describe KIND NAME` prints them.\n")  # fmt: skip
    summary.append("* Components\n    * [All distributions](components/index.md)\n"
                   + "".join(f"    * [{d}](components/{d}.md)\n" for d in distributions))  # fmt: skip
    with mkdocs_gen_files.open("reference/index.md", "w", encoding="utf-8") as page:
        page.writelines(index)
    with mkdocs_gen_files.open("reference/components/index.md", "w", encoding="utf-8") as page:
        page.write("# Components\n\nEvery component a first-party distribution registers, by distribution. "
                   "A recipe names one as `{type: NAME, params: {...}}`.\n\n"
                   + "".join(f"- [{d}]({d}.md)\n" for d in distributions))  # fmt: skip
    with mkdocs_gen_files.open("reference/SUMMARY.md", "w", encoding="utf-8") as nav:
        nav.writelines(summary)


def main() -> None:
    by_section = write_modules()
    write_index(by_section, write_components(new_registry(strict=True)))


main()
