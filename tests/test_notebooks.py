"""The documentation's notebooks (``docs/notebooks/*.py``, jupytext percent format) run, cell by
cell, in a fresh kernel: a cell that raises fails the test with the notebook's name, the cell's
first lines and the error.

Each notebook runs as a reader's would: read with jupytext, executed with nbclient in ipykernel's
``python3`` kernel of the interpreter running the tests (so it sees the plugins installed here,
and ``INVPROB_STRICT_PLUGINS`` as CI sets it), with pytest's temporary directory as its working directory and
a fresh directory under the system's as its ``TMPDIR`` (removed afterwards), so that whatever it
writes lands there, never in the repository. (Not pytest's directory: the path of a Ray socket
under ``TMPDIR`` must stay within the 107 bytes of ``AF_UNIX``.) The per-cell timeout stops a hung cell (a Ray worker that never answers); it is no
speed test: each notebook is written to run in under two minutes on the 2-core CI machine, and
is timed by hand (``time pytest tests/test_notebooks.py -k NAME``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="pip install -r requirements/docs.txt")
nbclient = pytest.importorskip("nbclient", reason="pip install -r requirements/docs.txt")
pytest.importorskip("ipykernel", reason="pip install -r requirements/docs.txt")

from nbclient.exceptions import CellExecutionError, CellTimeoutError  # noqa: E402

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "docs" / "notebooks").glob("*.py"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")
"""The colour codes of an IPython traceback, removed from a failure message."""
RULE = "-" * 18 + "\n"
CELL_TIMEOUT_S = 600
"""Far above any cell's time on the loaded 2-core CI machine (the slowest, a whole Ray study,
takes under a minute there): only a cell that hangs reaches it."""


def cell_head(source: str, lines: int = 6) -> str:
    """The first ``lines`` lines of a cell's source, indented, for a failure message."""
    head = source.splitlines()[:lines]
    more = "\n    ..." if len(source.splitlines()) > lines else ""
    return textwrap.indent("\n".join(head), "    ") + more


def run_notebook(path: Path, workdir: Path, tmpdir: Path) -> None:
    """Execute the notebook at ``path`` in a fresh kernel with ``workdir`` as its working directory
    and ``tmpdir`` as its ``TMPDIR``; a cell that raises or times out fails the calling test,
    naming the cell."""
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    failure = None
    with client.setup_kernel(env=env):
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except (CellExecutionError, CellTimeoutError) as exc:
                if isinstance(exc, CellExecutionError):
                    # nbclient's text repeats the whole cell between two rules, then the traceback
                    error, detail = f"{exc.ename}: {exc.evalue}", ANSI.sub("", exc.traceback).split(RULE, 2)[-1].strip()
                else:
                    error, detail = f"no answer within {CELL_TIMEOUT_S} s", str(exc)
                failure = (
                    f"{path.name}: cell {index + 1} of {len(notebook.cells)} raised {error}\n"
                    f"  the cell begins:\n{cell_head(cell.source)}\n\n{detail}"
                )
                break
    if failure is not None:  # outside the handler: the message alone, without nbclient's chained error
        pytest.fail(failure, pytrace=False)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_error(path: Path, tmp_path: Path) -> None:
    tmpdir = Path(tempfile.mkdtemp(prefix="nb-"))
    try:
        run_notebook(path, tmp_path, tmpdir)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def test_the_site_lists_exactly_the_notebooks_run_here() -> None:
    """A notebook in the site's navigation is one this module runs, and the other way round."""
    mkdocs_yml = NOTEBOOKS[0].parents[2] / "mkdocs.yml"
    listed = re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?notebooks/(\S+\.py)\s*$", mkdocs_yml.read_text(encoding="utf-8"), re.M)
    assert sorted(listed) == [p.name for p in NOTEBOOKS]


def test_a_cell_that_raises_fails_naming_the_notebook_the_cell_and_the_error(tmp_path: Path) -> None:
    """What CI prints when a notebook breaks: where, the cell's first lines, the error and its
    traceback (without the colour codes), and no cell after it runs."""
    notebook = tmp_path / "broken.py"
    notebook.write_text(
        "# %% [markdown]\n# # A notebook\n\n"
        "# %%\nimport pathlib\n\n"
        "# %%\nsettings = {}\nsettings['steps']\n\n"
        "# %%\npathlib.Path('after.txt').write_text('ran')\n"
    )
    with pytest.raises(pytest.fail.Exception) as failed:
        run_notebook(notebook, tmp_path, tmp_path)
    message = str(failed.value)
    assert message.startswith("broken.py: cell 3 of 4 raised KeyError: 'steps'\n  the cell begins:\n    settings = {}\n")
    assert "----> 2 settings['steps']" in message and "\x1b[" not in message
    assert not (tmp_path / "after.txt").exists()
