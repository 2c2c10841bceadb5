"""The code in docs/solvers.md runs as written (its python blocks, in order, in one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "solvers.md"


def test_every_python_block_of_the_solver_guide_runs():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) >= 6
    namespace: dict = {"__name__": "docs_solvers"}
    for index, block in enumerate(blocks):
        exec(compile(block, f"{DOC.name} python block {index + 1}", "exec"), namespace)  # noqa: S102
