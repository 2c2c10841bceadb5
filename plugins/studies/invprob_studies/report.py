"""The report of a study: one self-contained HTML file people would rather look at than read.

``invprob study report STUDY_DIR`` calls :func:`write_report`, which reads what
``invprob study run`` wrote in the study directory and writes ``report.html`` there (and its
tables in Markdown, ``report.md``, for a results file) from:

- ``cells.json``: the plan, ``[{"cell", "axes": {path: value}, "labels": {path: label}}]``;
- ``cells.jsonl``: one line per finished or failed cell (``status``, ``error``, ``run_dir``,
  ``seconds``); a later line for the same cell (a rerun) replaces an earlier one;
- ``results.jsonl``: one line per cell x image x metric (``value`` is ``null`` where the
  metric has no finite value);
- ``runs/<cell>/images/``: each run's observed, reconstructed and true images;
- ``runs/<cell>/metrics.json``: which way each metric is better (``higher_is_better``, as its
  metric component declares it) and which metrics the cell's solver made trivial (``trivial``:
  Yeh's Poisson blending makes the measurement loss 0 by construction).

A metric's direction comes from its metric component, never from its name: a metric that
declares none is shown without a best entry, with a note. A value its solver made trivial is
shown with a footnote and is never bold, ranked or chosen by ``best_of``.

The report holds: the progress of the study (cells done, failed, not run yet) and every failed
cell with its error; for each metric a table of means with standard errors over images (rows:
the method axis, columns: the settings of the other axes) and a table of every cell; with
``best_of``, a best of N as in the ILO paper (Daras et al. 2021): for each setting of the
other axes, the value of the ``best_of`` axis whose cell has the best mean ``metric``, after
which tables, plots and samples show the chosen cells (and, beside it, the paper's own
per-image best: each image's best value over the candidates, averaged); plots of ``metric`` against each
numeric axis with one line per method (ILO Figure 2), drawn with matplotlib and embedded as
PNG; and small thumbnails of sample reconstructions per method beside the observation and the
truth. Everything is inside the file (images as base64 PNG, inline CSS, no script): it opens
offline and can be mailed.

The standard error of a cell's mean is the sample standard deviation over its images divided
by the square root of their number; a cell with one image has none ("n = 1").
"""

from __future__ import annotations

import datetime
import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPORT_NAME = "report.html"

METRIC_ORDER = ("psnr", "psnr_missing", "ssim", "mse", "mse_missing", "lpips", "measurement_loss")
"""The order of the tables of the metrics the project ships; others follow by name."""

MISSING = "—"
"""The label of an axis a cell does not have (a study whose groups vary different fields)."""


class ReportError(ValueError):
    """The study directory or an option cannot make a report; the message says why and what
    to do (the command exits 2)."""


@dataclass(frozen=True)
class CellRecord:
    """One cell of the plan and how it ended: ``done``, ``failed`` or ``pending`` (not run yet)."""

    id: str
    axes: dict[str, Any]
    labels: dict[str, str]
    status: str = "pending"
    error: str | None = None
    run_dir: Path | None = None
    seconds: float | None = None

    def label(self, axis: str) -> str:
        """The short label of this cell's value on ``axis`` (:data:`MISSING` when it has none)."""
        if axis not in self.axes:
            return MISSING
        label = self.labels.get(axis)
        return str(label) if label not in (None, "") else format_value(self.axes[axis])


@dataclass(frozen=True)
class Stat:
    """Mean and standard error of a metric over a cell's images.

    ``n`` counts the finite values; ``missing`` the images whose value was ``null`` (an
    infinite PSNR, a diverged run). ``mean`` is None when ``n`` is 0, ``se`` when ``n < 2``.
    """

    mean: float | None
    se: float | None
    n: int
    missing: int = 0

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Stat:
        finite = [float(v) for v in values if v is not None and math.isfinite(v)]
        n = len(finite)
        mean = statistics.fmean(finite) if n else None
        se = statistics.stdev(finite) / math.sqrt(n) if n >= 2 else None
        return cls(mean, se, n, len(values) - n)


@dataclass(frozen=True)
class BestChoice:
    """The best-of-N choice for one setting of the other axes.

    ``setting`` is ``((axis, label), ...)`` of the axes other than the ``best_of`` one;
    ``candidates`` every cell of that setting with its :class:`Stat` of the chosen metric, in
    plan order; ``chosen`` the one with the best mean (None when no candidate has a value).
    ``per_image`` is the ILO paper's own number: for each image the best value over the
    candidates, then the mean (and standard error) of those over images -- each image may
    take its best from another candidate, so it is at least as good as ``chosen``'s mean.
    """

    setting: tuple[tuple[str, str], ...]
    candidates: list[tuple[CellRecord, Stat]]
    chosen: CellRecord | None
    per_image: Stat = Stat(None, None, 0)


@dataclass
class Results:
    """What a study directory holds, read with plain Python (no pandas needed).

    ``axes``: every axis path in plan order; ``cells``: the plan's cells (and any recorded
    cell the plan no longer has) with how they ended; ``values``: ``(cell id, metric)`` ->
    ``{image name: value}``, for done cells; ``metrics``: the metrics recorded, the project's own
    first; ``directions``: which way each metric is better, as the runs' metric components
    declare it (a metric that declares none is absent); ``trivial``: ``(cell id, metric)`` ->
    why that cell's solver made the metric trivial; ``warnings``: lines of the files that were
    skipped, shown in the report.
    """

    directory: Path
    name: str
    axes: list[str]
    cells: list[CellRecord]
    values: dict[tuple[str, str], dict[str, float | None]] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)
    directions: dict[str, bool] = field(default_factory=dict)
    trivial: dict[tuple[str, str], str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def stat(self, cell: CellRecord | str, metric: str) -> Stat:
        """Mean and standard error of ``metric`` over the images of ``cell``."""
        cell_id = cell.id if isinstance(cell, CellRecord) else cell
        return Stat.of(list(self.values.get((cell_id, metric), {}).values()))

    def is_trivial(self, cell: CellRecord | str, metric: str) -> bool:
        """Whether ``cell``'s solver made ``metric`` trivial (never ranked)."""
        cell_id = cell.id if isinstance(cell, CellRecord) else cell
        return (cell_id, metric) in self.trivial

    def by_status(self, status: str) -> list[CellRecord]:
        return [c for c in self.cells if c.status == status]

    def numeric_axes(self) -> list[str]:
        """Axes whose values are numbers (not booleans), at least two distinct ones.

        ``null`` values do not count: a zip group that sets ``operator.params.sigma`` for its
        denoising cells only (``null`` elsewhere) has the numeric axis sigma for those cells.
        """
        out = []
        for axis in self.axes:
            values = [c.axes[axis] for c in self.cells if c.axes.get(axis) is not None]
            if values and all(is_number(v) for v in values) and len(set(values)) > 1:
                out.append(axis)
        return out

    def follows(self, axis: str | None, cells: Sequence[CellRecord]) -> list[str]:
        """The other axes whose label is the same in every cell of ``cells`` with the same
        label on ``axis``: those varied together with it (a zip group: a solver with its
        priors and losses), shown beside it rather than as settings of their own."""
        if axis is None:
            return []
        return [other for other in self.axes if other != axis and determined_by(other, axis, cells)]


    def distinct(self, axes: Sequence[str], cells: Sequence[CellRecord]) -> list[str]:
        """``axes`` without those that repeat an earlier one: an axis whose label, in every
        cell of ``cells`` that has it, is the label of an earlier axis and that changes only with
        it (a named variant labels every field it sets: ``operator`` and
        ``operator.params.sigma`` both "denoising 25"). Nothing that tells cells apart is lost."""
        kept: list[str] = []
        for axis in axes:
            present = [c for c in cells if axis in c.axes]
            if not any(
                all(c.label(axis) == c.label(other) for c in present) and determined_by(axis, other, cells)
                for other in kept
            ):
                kept.append(axis)
        return kept


# -- reading -----------------------------------------------------------------------------


def read_results(study_dir: str | Path) -> Results:
    """Read the plan, the finished cells and the results of the study in ``study_dir``.

    Raises :class:`ReportError` when ``study_dir`` is no study directory or a file in it is
    not what ``invprob study run`` writes. An unreadable line of a ``.jsonl`` file (the last
    line of a killed process) is skipped with a warning that the report shows.
    """
    directory = Path(study_dir)
    if not directory.is_dir():
        raise ReportError(f"{directory} is not a directory; give the study directory that `invprob study run` wrote")
    plan_path = directory / "cells.json"
    if not plan_path.is_file():
        raise ReportError(
            f"{directory} has no cells.json: it is not a study directory (give <out>/<study name> "
            "as written by `invprob study run`)"
        )
    try:
        plan = json.loads(plan_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"cannot read {plan_path}: {exc}") from None
    if not isinstance(plan, list):
        raise ReportError(f"{plan_path}: expected a list of cells, got {type(plan).__name__}")
    warnings: list[str] = []
    cells: dict[str, CellRecord] = {}
    for index, entry in enumerate(plan):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("cell"), str):
            raise ReportError(f"{plan_path}: entry {index} is not a cell ({{'cell': id, 'axes': {{...}}}})")
        cells[entry["cell"]] = _cell(entry)

    for line_no, record in _jsonl(directory / "cells.jsonl", warnings):
        cell_id = record.get("cell")
        if not isinstance(cell_id, str):
            warnings.append(f"cells.jsonl line {line_no}: no 'cell'; skipped")
            continue
        if record.get("status") not in ("done", "failed"):
            continue  # not finished (a future engine's "running" line): the cell is still to run
        base = cells.get(cell_id) or _cell(record)
        run_dir = record.get("run_dir")
        cells[cell_id] = CellRecord(
            cell_id, base.axes or dict(record.get("axes") or {}), base.labels or dict(record.get("labels") or {}),
            status=record["status"], error=record.get("error"),
            run_dir=directory / run_dir if isinstance(run_dir, str) else None,
            seconds=record.get("seconds") if is_number(record.get("seconds")) else None,
        )  # fmt: skip

    values: dict[tuple[str, str, str], float | None] = {}
    directions: dict[str, bool] = {}
    metrics: list[str] = []
    for line_no, row in _jsonl(directory / "results.jsonl", warnings):
        cell_id, image, metric, value = row.get("cell"), row.get("image"), row.get("metric"), row.get("value")
        if not (isinstance(cell_id, str) and isinstance(image, str) and isinstance(metric, str)):
            warnings.append(f"results.jsonl line {line_no}: needs 'cell', 'image' and 'metric'; skipped")
            continue
        if value is not None and not is_number(value):
            warnings.append(f"results.jsonl line {line_no}: value {value!r} is not a number; skipped")
            continue
        values[(cell_id, image, metric)] = value  # a later line (a rerun) replaces an earlier one
        if metric not in metrics:
            metrics.append(metric)
        if isinstance(row.get("higher_is_better"), bool):
            directions[metric] = row["higher_is_better"]

    per_metric: dict[tuple[str, str], dict[str, float | None]] = {}
    for (cell_id, image, metric), value in values.items():
        if cell_id in cells and cells[cell_id].status == "done":
            per_metric.setdefault((cell_id, metric), {})[image] = value

    declared, trivial = _run_declarations(cells.values(), warnings)
    axes: list[str] = []
    for cell in cells.values():
        axes.extend(a for a in cell.axes if a not in axes)
    study_name = directory.resolve().name
    return Results(
        directory, study_name, axes, list(cells.values()), per_metric,
        sorted(metrics, key=_metric_order), {**declared, **directions}, trivial, warnings,
    )  # fmt: skip


def _run_declarations(
    cells: Iterable[CellRecord], warnings: list[str]
) -> tuple[dict[str, bool], dict[tuple[str, str], str]]:
    """What the done cells' ``metrics.json`` declare: each metric's direction, and the metrics
    each cell's solver made trivial. Two runs that disagree on a direction make it unknown."""
    directions: dict[str, bool | None] = {}
    trivial: dict[tuple[str, str], str] = {}
    for cell in cells:
        path = cell.run_dir / "metrics.json" if cell.status == "done" and cell.run_dir is not None else None
        if path is None or not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            warnings.append(f"cannot read {path}; the directions of its metrics are not taken from it")
            continue
        if not isinstance(data, Mapping):
            continue
        for metric, better in dict(data.get("higher_is_better") or {}).items():
            if not isinstance(better, bool):
                continue
            if directions.setdefault(metric, better) not in (better, None):
                warnings.append(f"runs disagree on which way {metric} is better ({path}); it is not ranked")
                directions[metric] = None
        for metric, reason in dict(data.get("trivial") or {}).items():
            trivial[(cell.id, str(metric))] = str(reason)
    return {m: d for m, d in directions.items() if d is not None}, trivial


def determined_by(axis: str, other: str, cells: Sequence[CellRecord]) -> bool:
    """Whether the label of ``axis`` is the same in every cell of ``cells`` with the same label
    on ``other`` (it changes only with ``other``)."""
    seen: dict[str, str] = {}
    return all(seen.setdefault(c.label(other), c.label(axis)) == c.label(axis) for c in cells)


def _cell(entry: Mapping[str, Any]) -> CellRecord:
    axes = entry.get("axes") or {}
    labels = entry.get("labels") or {}
    return CellRecord(str(entry["cell"]), dict(axes), {str(k): str(v) for k, v in dict(labels).items()})


def _jsonl(path: Path, warnings: list[str]) -> Iterable[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        return
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"cannot read {path}: {exc}") from None
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            warnings.append(f"{path.name} line {line_no} is not JSON (a process killed while writing it?); skipped")
            continue
        if isinstance(record, dict):
            yield line_no, record
        else:
            warnings.append(f"{path.name} line {line_no} is not a JSON object; skipped")


def _metric_order(metric: str) -> tuple[int, str]:
    return (METRIC_ORDER.index(metric) if metric in METRIC_ORDER else len(METRIC_ORDER), metric)


def is_number(value: Any) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_value(value: Any) -> str:
    """A short label for an axis value: numbers and strings as they are, a component by its
    type, anything else as compact JSON."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (str, int, bool)) or value is None:
        return str(value)
    if isinstance(value, Mapping) and isinstance(value.get("type"), str):
        return value["type"]
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return text if len(text) <= 40 else text[:39] + "…"


# -- choosing ----------------------------------------------------------------------------


def resolve_axis(study: Results, axis: str, option: str) -> str:
    """``axis`` if the study varies it, else a :class:`ReportError` naming the axes there are."""
    if axis in study.axes:
        return axis
    from invprob.hints import suggest

    close = suggest(axis, study.axes)
    hint = f"did you mean {close[0]!r}?" if close else f"the study's axes: {', '.join(study.axes) or '(none)'}"
    raise ReportError(f"{option} {axis!r} is not an axis of study {study.name!r}; {hint}")


def resolve_metric(study: Results, metric: str | None) -> str | None:
    """The metric plots and best-of use: ``metric``, else PSNR, else the first one recorded."""
    if metric is None:
        return study.metrics[0] if study.metrics else None
    if metric in study.metrics:
        return metric
    from invprob.hints import suggest

    close = suggest(metric, study.metrics)
    hint = f"did you mean {close[0]!r}?" if close else f"recorded: {', '.join(study.metrics) or '(none yet)'}"
    raise ReportError(f"--metric {metric!r} is not a metric of study {study.name!r}; {hint}")


def default_method_axis(study: Results, exclude: Iterable[str] = ()) -> str | None:
    """The axis whose values are the methods, one line per value in the plots: ``solver``
    when the study varies it, else the first axis that is not numeric, else None."""
    excluded = set(exclude)
    candidates = [a for a in study.axes if a not in excluded]
    if "solver" in candidates:
        return "solver"
    numeric = set(study.numeric_axes())
    return next((a for a in candidates if a not in numeric), None)


def setting(cell: CellRecord, axes: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``((axis, label), ...)`` of ``cell`` on ``axes``."""
    return tuple((axis, cell.label(axis)) for axis in axes)


def select_best(study: Results, axis: str, metric: str, higher_is_better: bool) -> list[BestChoice]:
    """For each setting of the axes other than ``axis``, the cell whose mean ``metric`` is best.

    Settings come in plan order; a tie goes to the candidate first in the plan. Cells that
    failed, have no value of ``metric`` or whose solver made ``metric`` trivial are never
    chosen (a setting where no cell has one has ``chosen=None``).
    """
    others = [a for a in study.axes if a != axis]
    groups: dict[tuple[tuple[str, str], ...], list[tuple[CellRecord, Stat]]] = {}
    for cell in study.cells:
        groups.setdefault(setting(cell, others), []).append((cell, study.stat(cell, metric)))
    sign = 1.0 if higher_is_better else -1.0
    choices = []
    for key, candidates in groups.items():
        scored = [(cell, s) for cell, s in candidates if s.mean is not None and not study.is_trivial(cell, metric)]
        chosen = max(scored, key=lambda pair: sign * pair[1].mean)[0] if scored else None  # type: ignore[operator]
        per_image: dict[str, list[float]] = {}
        for cell, _ in candidates:
            if study.is_trivial(cell, metric):
                continue
            for image, value in study.values.get((cell.id, metric), {}).items():
                if value is not None and math.isfinite(value):
                    per_image.setdefault(image, []).append(value)
        bests = [max(v, key=lambda x: sign * x) for v in per_image.values()]
        choices.append(BestChoice(key, candidates, chosen, Stat.of(bests)))
    return choices


def shown_cells(study: Results, choices: list[BestChoice] | None) -> list[CellRecord]:
    """Cells of the tables, plots and samples: with best-of, the chosen ones, and for a
    setting where nothing could be chosen one of its cells (a failed one if any), shown as
    failed or not run yet."""
    if choices is None:
        return list(study.cells)
    shown = []
    for choice in choices:
        cells = [cell for cell, _ in choice.candidates]
        shown.append(choice.chosen or next((c for c in cells if c.status == "failed"), cells[0]))
    return shown


def layout(
    study: Results, method: str | None, best_of: str | None, choices: list[BestChoice] | None
) -> tuple[list[CellRecord], list[str], list[str], list[str]]:
    """How the tables are laid out, in HTML and Markdown alike: ``(shown, with_method, rows,
    columns)``, the cells shown (:func:`shown_cells`), the method axis with the axes varied
    together with it, the axes of the rows (those of them that tell cells apart) and the axes
    of the columns (every other axis but ``best_of``)."""
    shown = shown_cells(study, choices)
    with_method = [] if method is None else [method, *(a for a in study.follows(method, shown) if a != best_of)]
    rows = study.distinct(with_method, shown)
    columns = study.distinct([a for a in study.axes if a not in (*with_method, best_of)], shown)
    return shown, with_method, rows, columns


def direction(study: Results, metric: str, higher_is_better: bool | None, *, needed: bool) -> bool | None:
    """Which way ``metric`` is better: the option, else what its metric component declared in
    the runs; a :class:`ReportError` when ``needed`` and nobody knows."""
    if higher_is_better is not None:
        return higher_is_better
    known = study.directions.get(metric)
    if known is None and needed:
        raise ReportError(
            f"metric {metric!r} declares no direction (its component has no higher_is_better); "
            "pass --higher-is-better or --lower-is-better"
        )
    return known


# -- the report --------------------------------------------------------------------------


def write_report(
    study_dir: str | Path,
    *,
    best_of: str | None = None,
    metric: str | None = None,
    method: str | None = None,
    higher_is_better: bool | None = None,
    samples: int = 3,
    out: str | Path | None = None,
    metrics: Sequence[str] | None = None,
) -> Path:
    """Write the HTML report of the study in ``study_dir`` and return its path; its tables in
    Markdown go beside it (``report.md``: the HTML's path with the suffix ``.md``).

    ``best_of``: an axis (a dotted path, e.g. ``solver.params.lr``) to select over, keeping
    for each setting of the other axes the value with the best mean ``metric``. ``metric``: the
    metric of the plots and of the selection (default: PSNR when recorded). ``method``: the
    axis whose values are the lines of the plots and the rows of the tables (default:
    ``solver`` when varied, else the first non-numeric axis). ``higher_is_better``: which way
    ``metric`` is better, for metrics the report does not know. ``samples``: thumbnails per
    method and setting. ``out``: where to write (default ``study_dir/report.html``).
    ``metrics``: the metrics of the tables, in this order (default: every metric recorded); the
    first is the default ``metric``.

    Raises :class:`ReportError` for a directory that is no study or an axis or metric that
    the study does not have.
    """
    from invprob_studies.report_html import render
    from invprob_studies.report_md import render_markdown

    if samples < 0:
        raise ReportError(f"--samples must be 0 or more, got {samples}")
    study = read_results(study_dir)
    if metrics is not None:
        if not metrics:
            raise ReportError("--metrics needs at least one metric name")
        study.metrics = list(dict.fromkeys(resolve_metric(study, name) or name for name in metrics))
    chosen_metric = resolve_metric(study, metric)
    if best_of is not None:
        best_of = resolve_axis(study, best_of, "--best-of")
        if chosen_metric is None:
            raise ReportError(f"--best-of {best_of!r} needs results, and study {study.name!r} has none yet")
    if method is not None:
        method = resolve_axis(study, method, "--method")
        if method == best_of:
            raise ReportError(f"--method and --best-of are both {method!r}; the method axis must be another one")
    else:
        method = default_method_axis(study, exclude=[best_of] if best_of else [])
    better = (
        direction(study, chosen_metric, higher_is_better, needed=best_of is not None) if chosen_metric else None
    )
    if chosen_metric is not None and higher_is_better is not None:
        study.directions[chosen_metric] = higher_is_better  # the tables rank by it too
    choices = None
    if best_of is not None and chosen_metric is not None and better is not None:
        choices = select_best(study, best_of, chosen_metric, better)
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = render(
        study, metric=chosen_metric, method=method, best_of=best_of, choices=choices,
        higher_is_better=better, samples=samples, generated=generated,
    )  # fmt: skip
    shown, _, rows, columns = layout(study, method, best_of, choices)
    tables = render_markdown(study, shown, rows, columns, generated)
    target = Path(out) if out is not None else study.directory / REPORT_NAME
    from invprob.images import atomic_path

    for path, text in ((target, page), (target.with_suffix(".md"), tables)):
        try:
            with atomic_path(path) as tmp:
                tmp.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ReportError(f"cannot write the report to {path}: {exc.strerror or exc}") from None
    return target


# -- the command line --------------------------------------------------------------------


def add_report_arguments(parser: Any) -> None:
    """The options of ``invprob study report`` on an ``argparse`` parser (the study CLI adds
    them, then calls :func:`report_command`)."""
    parser.add_argument("study_dir", metavar="STUDY_DIR", help="the study directory: <out>/<study name>")
    parser.add_argument("--best-of", metavar="AXIS",
                        help="select over this axis (a dotted path): per setting of the others, the value "
                             "with the best mean --metric, as the ILO paper's best of N")  # fmt: skip
    parser.add_argument("--metric", help="the metric of the plots and of --best-of (default: psnr when recorded)")
    parser.add_argument("--method", metavar="AXIS",
                        help="the axis whose values are the lines of the plots and the rows of the tables "
                             "(default: solver when varied, else the first non-numeric axis)")  # fmt: skip
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--higher-is-better", dest="higher_is_better", action="store_const", const=True,
                       help="--metric is better when higher (needed only for a metric that declares no direction)")
    which.add_argument("--lower-is-better", dest="higher_is_better", action="store_const", const=False,
                       help="--metric is better when lower")  # fmt: skip
    parser.add_argument("--metrics", type=_names, metavar="A,B",
                        help="the metrics of the tables, in this order (default: every metric recorded; "
                             "the first is the default --metric)")  # fmt: skip
    parser.add_argument("--samples", type=int, default=3, help="sample thumbnails per method and setting (default 3)")
    parser.add_argument("--out", help="write the report here (default: STUDY_DIR/report.html)")


def _names(text: str) -> list[str]:
    """``psnr_missing,mse`` -> ``["psnr_missing", "mse"]`` (spaces around names ignored)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def report_command(args: Any) -> int:
    """Run ``invprob study report`` from the parsed :func:`add_report_arguments`: print the
    report's path and return 0, or print the one-line error and return 2."""
    import sys

    try:
        path = write_report(
            args.study_dir, best_of=args.best_of, metric=args.metric, method=args.method,
            higher_is_better=args.higher_is_better, samples=args.samples, out=args.out, metrics=args.metrics,
        )  # fmt: skip
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report: {path}")
    return 0
