"""The documentation's notebooks (``docs/notebooks/*.py``, jupytext percent format) run, cell by
cell, in a fresh kernel: a cell that raises fails the test with the notebook's name, the cell's
first lines and the error.

Each notebook runs as a reader's would: read with jupytext, executed with nbclient in ipykernel's
``python3`` kernel of the interpreter running the tests (so it sees the plugins installed here,
and ``INVPROB_STRICT_PLUGINS`` as CI sets it), with a temporary directory as its working directory
and as ``TMPDIR``, so that whatever it writes lands in pytest's temporary folder, never in the
repository. The per-cell timeout stops a hung cell (a Ray worker that never answers); it is no
speed test: each notebook is written to run in under two minutes on the 2-core CI machine, and
is timed by hand (``time pytest tests/test_notebooks.py -k NAME``).
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="pip install -r requirements/docs.txt")
nbclient = pytest.importorskip("nbclient", reason="pip install -r requirements/docs.txt")
pytest.importorskip("ipykernel", reason="pip install -r requirements/docs.txt")

from nbclient.exceptions import CellExecutionError, CellTimeoutError  # noqa: E402

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "docs" / "notebooks").glob("*.py"))
CELL_TIMEOUT_S = 600
"""Far above any cell's time on the loaded 2-core CI machine (the slowest, a whole Ray study,
takes under a minute there): only a cell that hangs reaches it."""


def cell_head(source: str, lines: int = 6) -> str:
    """The first ``lines`` lines of a cell's source, indented, for a failure message."""
    head = source.splitlines()[:lines]
    more = "\n    ..." if len(source.splitlines()) > lines else ""
    return textwrap.indent("\n".join(head), "    ") + more


def run_notebook(path: Path, workdir: Path) -> None:
    """Execute the notebook at ``path`` in a fresh kernel with ``workdir`` as its working directory
    and ``TMPDIR``; a cell that raises or times out fails the calling test, naming the cell."""
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    env = {**os.environ, "TMPDIR": str(workdir)}
    with client.setup_kernel(env=env):
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except (CellExecutionError, CellTimeoutError) as exc:
                error = exc.evalue if isinstance(exc, CellExecutionError) else str(exc)
                name = exc.ename if isinstance(exc, CellExecutionError) else type(exc).__name__
                pytest.fail(
                    f"{path.name}: code cell {index} raised {name}: {error}\n"
                    f"  the cell begins:\n{cell_head(cell.source)}\n\n{exc}",
                    pytrace=False,
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_error(path: Path, tmp_path: Path) -> None:
    run_notebook(path, tmp_path)


def test_the_site_lists_exactly_the_notebooks_run_here() -> None:
    """A notebook in the site's navigation is one this module runs, and the other way round."""
    mkdocs_yml = NOTEBOOKS[0].parents[2] / "mkdocs.yml"
    listed = re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?notebooks/(\S+\.py)\s*$", mkdocs_yml.read_text(encoding="utf-8"), re.M)
    assert sorted(listed) == [p.name for p in NOTEBOOKS]
