"""The core stays readable: no module over 600 lines, no function over 80 (issue 22, item 7).

A module that grows past the limit is split by job (the recipe package: schema, reading,
overrides, loading, validation, checks, problems), a function by the steps it takes, not by
cutting it in half.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "core" / "invprob"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def core_modules() -> list[Path]:
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 20, f"found only {len(modules)} modules under {CORE}"
    return modules


def long_functions(source: str, name: str) -> list[str]:
    """``name:line function (N lines)`` for every function or method of ``source``, nested ones
    included, over the limit; a function's lines run from its ``def`` to its last line,
    docstring included."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
            if length > MAX_FUNCTION_LINES:
                found.append(f"{name}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_core_module_is_over_600_lines():
    sizes = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in core_modules()}
    assert [f"{p.relative_to(CORE)} ({n} lines)" for p, n in sizes.items() if n > MAX_MODULE_LINES] == []


def test_no_core_function_is_over_80_lines():
    found = [long_functions(p.read_text(encoding="utf-8"), str(p.relative_to(CORE))) for p in core_modules()]
    assert [line for lines in found for line in lines] == []


def test_the_function_limit_counts_every_line_of_a_function():
    lines = [f"x{i} = {i}" for i in range(MAX_FUNCTION_LINES - 1)]
    fits = "def fits():\n" + "".join(f"    {line}\n" for line in lines)  # 80 lines: allowed
    long = "class A:\n    def long(self):\n" + "".join(f"        {line}\n" for line in [*lines, "y = 0"])
    assert long_functions(fits + "\n\n" + long, "m.py") == ["m.py:84 long (81 lines)"]
