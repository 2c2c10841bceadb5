"""The tables of a study's report in Markdown (``report.md`` beside ``report.html``).

The same tables as the page's "Means and standard errors" (:func:`~invprob_studies.report.layout`:
a row per method, a column per setting of the other axes), one per metric, each entry the mean
over images ± its standard error with the number of images, as plain text that a results
file in the repository can be, diffed and read in a terminal. A column where no cell has a
value of the metric (``mse_missing`` of a task without a mask) is left out of its table.
"""

from __future__ import annotations

from collections.abc import Sequence

from invprob_studies.report import MISSING, CellRecord, Results, Stat, setting


def fmt_md(stat: Stat) -> str:
    """``mean ± se (n)``: four significant digits, the standard error to two ("n = 1": no s.e.)."""
    if stat.mean is None:
        return "no value"
    se = f" ± {stat.se:.2g}" if stat.se is not None else ""
    return f"{stat.mean:.4g}{se} ({stat.n})"


def _label(key: tuple[tuple[str, str], ...]) -> str:
    """The labels of a setting, each once, joined by ``/`` (``all cells`` for none)."""
    return " / ".join(dict.fromkeys(label for _, label in key if label != MISSING)) or "all cells"


def _text(value: str) -> str:
    """A table entry: a ``|`` would end the cell."""
    return value.replace("|", "\\|")


def _without(study: Results, metric: str, cells: Sequence[CellRecord | None]) -> bool:
    """Whether every one of ``cells`` is done and has no value of ``metric`` (a metric that
    these cells' task does not record, as ``mse_missing`` without a mask): a column to leave out."""
    return all(c is None or (c.status == "done" and study.stat(c, metric).n == 0) for c in cells)


def render_markdown(
    study: Results, shown: Sequence[CellRecord], rows: Sequence[str], columns: Sequence[str], generated: str
) -> str:
    """The Markdown of the means tables of ``study`` for the metrics in ``study.metrics``."""
    done = len(study.by_status("done"))
    lines = [
        f"# Study {study.name}",
        "",
        f"{done} of {len(study.cells)} cells done; generated {generated} by `invprob study report`. "
        "Entries: mean over images ± standard error (sample standard deviation / √n), with n, the "
        "number of images with a finite value, in brackets.",
    ]
    row_keys = list(dict.fromkeys(setting(cell, rows) for cell in shown))
    column_keys = list(dict.fromkeys(setting(cell, columns) for cell in shown))
    index: dict[tuple, CellRecord] = {}
    for cell in shown:
        index.setdefault((setting(cell, rows), setting(cell, columns)), cell)
    corner = " / ".join(rows) or "cells"
    for metric in study.metrics:
        side = {True: " (higher is better)", False: " (lower is better)", None: ""}[study.directions.get(metric)]
        lines += ["", f"## {metric}{side}", ""]
        kept = [c for c in column_keys if not _without(study, metric, [index.get((r, c)) for r in row_keys])]
        if not kept:
            lines.append("No cell has a value.")
            continue
        if columns:
            lines.append(f"Columns: {' / '.join(columns)}" + (
                f"; {len(column_keys) - len(kept)} column(s) without a value left out." if len(kept) < len(column_keys) else "."
            ))  # fmt: skip
            lines.append("")
        lines.append("| " + " | ".join(_text(t) for t in [corner, *(_label(c) for c in kept)]) + " |")
        lines.append("|---" * (len(kept) + 1) + "|")
        for row in row_keys:
            entries = []
            for column in kept:
                cell = index.get((row, column))
                if cell is None:
                    entries.append("")
                elif cell.status != "done":
                    entries.append("failed" if cell.status == "failed" else "not run yet")
                else:
                    mark = " †" if study.is_trivial(cell, metric) else ""
                    entries.append(fmt_md(study.stat(cell, metric)) + mark)
            lines.append("| " + " | ".join(_text(t) for t in [_label(row), *entries]) + " |")
        if any(study.is_trivial(cell, metric) for cell in shown):
            lines += ["", "† trivial: the cell's solver makes this value trivial (see report.html)."]
    return "\n".join(lines) + "\n"
