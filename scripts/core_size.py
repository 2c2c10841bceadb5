"""Measure the core distribution: how big the kernel and the application are.

Issue 22 sets a budget on "non-test lines in the core distribution's kernel +
application": the raw lines of ``core/invprob/**/*.py`` outside tests and the
testing kit. This script prints that number, split into the kernel
(``invprob``, what plugins import) and the application (``invprob.app``, what
no plugin imports), with the testing kit reported beside them but not summed.
It also lists the largest modules, the modules over the module size limit and
the functions over the function size limit (counted from the AST, decorators
and docstrings included), so a change that grows the core shows where.

It asserts nothing: the size limits are enforced by the test suite, this is
the measuring tape.

Run it from anywhere::

    python scripts/core_size.py
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "core" / "invprob"
MODULE_LIMIT = 600
"""Lines above which a module is listed (issue 22: no core module over 600)."""
FUNCTION_LIMIT = 80
"""Lines above which a function is listed (issue 22: no function over 80)."""
LARGEST = 10
"""How many of the largest modules to list."""


@dataclass(frozen=True)
class Module:
    """One source file of the core and its line counts."""

    path: Path
    raw: int
    non_blank: int

    @property
    def name(self) -> str:
        """The path relative to the repository root, for printing."""
        return self.path.relative_to(ROOT).as_posix()


def part_of(path: Path) -> str | None:
    """Which part of the core a file belongs to: kernel, application, testing kit.

    Returns None for tests, which the budget does not count.
    """
    parts = path.relative_to(PACKAGE).parts
    if "tests" in parts:
        return None
    if parts[0] == "app":
        return "application"
    if parts[0] == "testing":
        return "testing kit"
    return "kernel"


def measure(path: Path) -> Module:
    """Count a file's raw and non-blank lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return Module(path, len(lines), sum(1 for line in lines if line.strip()))


def long_functions(module: Module) -> list[tuple[str, int, int]]:
    """The functions of a module longer than FUNCTION_LIMIT lines.

    Returns (qualified name, first line, length) for each, nested functions
    and methods included, lengths counted from the first decorator.
    """
    tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                    length = (child.end_lineno or child.lineno) - first + 1
                    if length > FUNCTION_LIMIT:
                        found.append((name, first, length))
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def main() -> None:
    """Print the counts, the largest modules and what is over the limits."""
    parts: dict[str, list[Module]] = {"kernel": [], "application": [], "testing kit": []}
    for path in sorted(PACKAGE.rglob("*.py")):
        part = part_of(path)
        if part is not None:
            parts[part].append(measure(path))

    print(f"{'part':<14}{'files':>7}{'raw':>9}{'non-blank':>11}")
    for part, modules in parts.items():
        raw = sum(m.raw for m in modules)
        non_blank = sum(m.non_blank for m in modules)
        print(f"{part:<14}{len(modules):>7}{raw:>9}{non_blank:>11}")
    counted = parts["kernel"] + parts["application"]
    raw = sum(m.raw for m in counted)
    non_blank = sum(m.non_blank for m in counted)
    print(f"{'kernel + app':<14}{len(counted):>7}{raw:>9}{non_blank:>11}")

    print(f"\nlargest {LARGEST} modules (raw lines):")
    for module in sorted(counted, key=lambda m: -m.raw)[:LARGEST]:
        print(f"  {module.raw:>6}  {module.name}")

    over = [m for m in counted if m.raw > MODULE_LIMIT]
    print(f"\nmodules over {MODULE_LIMIT} lines: {len(over)}")
    for module in over:
        print(f"  {module.raw:>6}  {module.name}")

    functions = [
        (module, found) for module in counted for found in long_functions(module)
    ]
    print(f"\nfunctions over {FUNCTION_LIMIT} lines: {len(functions)}")
    for module, (name, line, length) in functions:
        print(f"  {length:>6}  {module.name}:{line} {name}")


if __name__ == "__main__":
    main()
