"""The core's waist, read from the source (no module is imported): the application
(:mod:`invprob.app`) uses the kernel, never the other way round; plugins use the kernel and
the ``invprob`` façade, never the application; the core's modules import each other without
circles and without reaching for each other's private names.

Imports are read with :mod:`ast`, at module level and inside functions alike (a function-level
import runs too, only later); those under ``if TYPE_CHECKING:`` are skipped (they never run).
Every check is also fed a small synthetic tree that breaks it, so that each can fail.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "core"
PLUGIN_ROOTS = (REPO / "plugins", REPO / "examples")
APP = "invprob.app"
APP_NAMED = re.compile(r"\binvprob[./]app\b")
FACADE = {"invprob", "invprob.__main__"}  # the public names, pointing into the app lazily
PLUGIN_PACKAGES = ("invprob_plugin_", "invprob_studies")



@dataclass(frozen=True)
class Import:
    """One import statement's target: ``where`` is ``file:line``, ``text`` the statement."""

    module: str  # the importing module, dotted (relative to the root it was read under)
    target: str  # the module imported (dotted), or the module a name is imported from
    where: str
    text: str


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node below ``node`` except those under ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield child
        yield from _runtime_nodes(child)


def module_name(path: Path, root: Path) -> str:
    """``core/invprob/app/cli.py`` -> ``invprob.app.cli``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, root: Path, modules: set[str] = frozenset()) -> list[Import]:
    """The runtime imports of the file ``path`` (a module under ``root``).

    ``from pkg import name`` targets ``pkg.name`` when that is one of ``modules`` (a submodule),
    else ``pkg``; relative imports are resolved against the module's package.
    """
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    rel = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    found = []
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        where = f"{rel}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(name, alias.name, where, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            text = f"from {'.' * node.level}{node.module or ''} import {', '.join(a.name for a in node.names)}"
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append(Import(name, sub if sub in modules else base, where, text))
    return found


def python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if ".venv" not in p.parts and "build" not in p.parts)


def core_imports(core: Path) -> tuple[set[str], list[Import]]:
    files = python_files(core)
    modules = {module_name(p, core) for p in files}
    return modules, [i for p in files for i in imports(p, core, modules)]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


# -- the checks ------------------------------------------------------------------------------


def plugin_violations(roots: tuple[Path, ...], core: Path = CORE) -> list[str]:
    """Imports of the application, and strings naming it (``python -m invprob.app.cli``, a
    ``monkeypatch.setattr("invprob.app....")``), in plugin code and plugin tests."""
    modules, _ = core_imports(core)
    problems = []
    for root in roots:
        for path in python_files(root):
            rel = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else path.as_posix()
            problems += [f"{i.where}: {i.text}" for i in imports(path, path.parent, modules) if _within(i.target, APP)]
            for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and APP_NAMED.search(node.value):
                    problems.append(f"{rel}:{node.lineno}: the string {node.value!r} names the application")
    return problems


def kernel_violations(core: Path) -> list[str]:
    """Imports of the application or of a plugin package by a kernel module (every module of
    ``invprob`` outside ``invprob.app`` and the façade)."""
    _, found = core_imports(core)
    problems = []
    for imp in found:
        if _within(imp.module, APP) or imp.module in FACADE:
            continue
        if not _within(imp.module, "invprob"):
            continue
        if _within(imp.target, APP) or imp.target.startswith(PLUGIN_PACKAGES):
            problems.append(f"{imp.where}: {imp.text} (the kernel module {imp.module} imports {imp.target})")
    return problems


def cycles(core: Path) -> list[str]:
    """Import circles between the core's modules, each with the imports that close it."""
    modules, found = core_imports(core)
    edges: dict[str, dict[str, Import]] = {m: {} for m in modules}
    for imp in found:
        if imp.target in modules and imp.target != imp.module:
            edges[imp.module].setdefault(imp.target, imp)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in edges[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                components.append(sorted(members))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    problems = []
    for members in components:
        closing = [
            f"{imp.where}: {imp.text}" for m in members for t, imp in sorted(edges[m].items()) if t in members
        ]
        problems.append(f"circle between {', '.join(members)}: " + "; ".join(closing))
    return problems


def private_crossings(core: Path) -> list[str]:
    """Another core module's private (``_name``) names, imported (``from invprob.x import _y``)
    or reached through the module (``x._y`` after ``from invprob import x``)."""
    modules, found = core_imports(core)
    problems, seen = [], set()
    for imp in found:
        if not imp.text.startswith("from ") or imp.target not in modules or imp.target == imp.module:
            continue
        names = imp.text.split(" import ", 1)[1].split(", ")
        private = [n.split(" as ")[0] for n in names if n.startswith("_") and not n.startswith("__")]
        if private and (imp.where, imp.text) not in seen:  # one Import per name: each statement once
            seen.add((imp.where, imp.text))
            problems.append(f"{imp.where}: {imp.text} (private to {imp.target}: {', '.join(private)})")
    for path in python_files(core):
        this = module_name(path, core)
        aliases = {}  # local name -> the core module it is bound to
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _runtime_nodes(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if f"{node.module}.{alias.name}" in modules:
                        aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in modules:
                        aliases[alias.asname] = alias.name
        for node in _runtime_nodes(tree):
            if (
                isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and node.attr.startswith("_") and not node.attr.startswith("__") and aliases[node.value.id] != this
            ):  # fmt: skip
                rel = path.relative_to(REPO) if path.is_relative_to(REPO) else path
                problems.append(f"{rel}:{node.lineno}: {node.value.id}.{node.attr} (private to {aliases[node.value.id]})")
    return problems


# -- the repository holds them ---------------------------------------------------------------


def test_no_plugin_imports_the_application():
    problems = plugin_violations(PLUGIN_ROOTS)
    assert not problems, "\n".join(problems)


def test_the_kernel_imports_neither_the_application_nor_a_plugin():
    problems = kernel_violations(CORE)
    assert not problems, "\n".join(problems)


def test_no_import_circle_in_the_core():
    problems = cycles(CORE)
    assert not problems, "\n".join(problems)


def test_no_core_module_imports_another_ones_private_names():
    problems = private_crossings(CORE)
    assert not problems, "\n".join(problems)


def test_the_trees_read_are_the_real_ones():
    """The checks above read something: the core's modules, and plugins that import invprob."""
    modules, found = core_imports(CORE)
    assert {"invprob", "invprob.registry", "invprob.app.cli", "invprob.app.execute"} <= modules
    assert any(i.module == "invprob.app.execute" and i.target == "invprob.registry" for i in found)
    plugin_files = [p for root in PLUGIN_ROOTS for p in python_files(root)]
    assert len(plugin_files) > 50 and any("invprob_plugin_ilo" in p.parts for p in plugin_files)


# -- each check can fail ---------------------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def bad_core(tmp_path: Path) -> Path:
    return _tree(tmp_path / "core", {
        "invprob/__init__.py": "from invprob.hookspecs import hookimpl\n",
        "invprob/hookspecs.py": "hookimpl = None\n",
        "invprob/app/__init__.py": "",
        "invprob/app/cli.py": "from invprob import registry\n",
        "invprob/registry.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from invprob.app import cli\n"  # skipped: never runs
            "def f():\n    from invprob.hints import _private\n"
        ),
        "invprob/hints.py": "import invprob.registry\n_private = 1\n",
        "invprob/metrics.py": "def g():\n    from invprob.app.outputs import save\n    import invprob_plugin_x.y\n",
        "invprob/app/outputs.py": "def _join():\n    pass\n",
        "invprob/app/execute.py": "from invprob.app import outputs\nfrom invprob.app.outputs import _join, _join\nx = outputs._join()\n",
    })  # fmt: skip


def test_kernel_check_names_file_line_and_import(bad_core: Path):
    problems = kernel_violations(bad_core)
    assert len(problems) == 2, problems
    assert "invprob/metrics.py:2: from invprob.app.outputs import save" in problems[0]
    assert "invprob/metrics.py:3: import invprob_plugin_x.y" in problems[1]


def test_cycle_check_finds_function_level_circles_and_skips_type_checking(bad_core: Path):
    problems = cycles(bad_core)
    assert len(problems) == 1, problems
    assert problems[0].startswith("circle between invprob.hints, invprob.registry: ")
    assert "invprob/hints.py:1: import invprob.registry" in problems[0]
    assert "invprob/registry.py:5: from invprob.hints import _private" in problems[0]
    assert "invprob.app" not in problems[0]  # the TYPE_CHECKING import of the app closes no circle


def test_private_check_names_the_crossing(bad_core: Path):
    problems = private_crossings(bad_core)
    assert len(problems) == 3, problems
    assert "invprob/app/execute.py:2: from invprob.app.outputs import _join, _join (private to invprob.app.outputs: _join, _join)" in problems[0]
    assert "invprob/registry.py:5: from invprob.hints import _private" in problems[1]
    assert problems[2].endswith("invprob/app/execute.py:3: outputs._join (private to invprob.app.outputs)")


def test_plugin_check_catches_imports_and_strings(tmp_path: Path):
    root = _tree(tmp_path / "plugins", {
        "solvers/x/invprob_plugin_x/plugin.py": "from invprob.app.data import load_images\nimport invprob\n",
        "solvers/x/invprob_plugin_x/other.py": "from invprob import app\nfrom invprob import run\n",
        "solvers/x/tests/test_x.py": "import subprocess\nCMD = ['python', '-m', 'invprob.app.cli']\n",
        "solvers/x/tests/test_ok.py": "import invprob\nfrom invprob.images import save_tiles\nCMD = ['python', '-m', 'invprob']\n",
    })  # fmt: skip
    problems = plugin_violations((root,))  # `from invprob import app` is the subpackage: the real core says so
    assert len(problems) == 3, problems
    assert problems[0].endswith("other.py:1: from invprob import app")
    assert problems[1].endswith("plugin.py:1: from invprob.app.data import load_images")
    assert problems[2].endswith("test_x.py:2: the string 'invprob.app.cli' names the application")
