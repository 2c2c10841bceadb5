"""The HTML of a study's report: tables, plots and thumbnails in one self-contained page.

:func:`render` turns a :class:`~invprob_studies.report.Results` into the page. Every string that
comes from the study (cell ids, axis labels, errors, metric names) goes through
:func:`html.escape`: HTML is built from :class:`Markup` pieces by :func:`tag`, which escapes
whatever is not already Markup, and the page skeleton is a :class:`string.Template` whose
values are Markup. Images are PNG in ``data:`` URIs, the CSS is inline and there is no
script, so the page needs no network and no file beside it.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
import string
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from invprob_studies.report import (
    MISSING,
    BestChoice,
    CellRecord,
    Results,
    Stat,
    determined_by,
    is_number,
    layout,
    setting,
)

THUMBNAIL = 96
"""Largest side, in pixels, of an embedded sample image (larger ones are scaled down)."""

MAX_GALLERIES = 24
"""Settings shown with sample images at most (a page of thumbnails, not an archive)."""

MAX_PANELS = 12
"""Panels in one plot at most."""

_IMAGE_FILE = re.compile(r"^(?P<index>\d+)_(?P<name>.+)_(?P<kind>reconstruction|observed|ground_truth)\.png$")


class Markup(str):
    """A piece of HTML that is already escaped (never wrap text from the study in it)."""


def escape(value: Any) -> Markup:
    """``value`` as HTML text: Markup stays as it is, anything else is escaped."""
    return value if isinstance(value, Markup) else Markup(html.escape(str(value), quote=True))


def tag(name: str, *children: Any, **attributes: Any) -> Markup:
    """``<name attributes>children</name>`` with every child and attribute value escaped.

    ``class_="x"`` gives ``class="x"``, ``data_cell="a"`` gives ``data-cell="a"``; an
    attribute whose value is None or False is left out; children that are None are skipped
    and lists are flattened.
    """
    attrs = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{escape(value)}"'
        for key, value in attributes.items()
        if value is not None and value is not False
    )
    if name in ("img", "br", "meta", "link"):
        return Markup(f"<{name}{attrs}>")
    return Markup(f"<{name}{attrs}>{''.join(escape(c) for c in _flatten(children))}</{name}>")


def _flatten(children: Iterable[Any]) -> Iterable[Any]:
    for child in children:
        if child is None:
            continue
        if isinstance(child, (list, tuple)):
            yield from _flatten(child)
        else:
            yield child


PAGE = string.Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>$title</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 84em;
       padding: 0 1.5em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
h3 { margin-bottom: 0.3em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 13px; }
div.scroll { overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; vertical-align: top; white-space: nowrap; }
th { background: #f4f4f4; white-space: nowrap; } th.axis { color: #666; font-weight: normal; font-style: italic; }
td.text, th.text { text-align: left; }
td.best { font-weight: bold; background: #eef6ee; } td.trivial { color: #777; }
td.failed { color: #a00; white-space: normal; } td.pending { color: #888; }
pre { white-space: pre-wrap; margin: 0; max-width: 60em; text-align: left; font-size: 12px; }
.summary span { margin-right: 1.5em; } .done { color: #060; } .bad { color: #a00; } .muted { color: #666; }
img.thumb { width: 64px; height: 64px; image-rendering: pixelated; display: block; }
figure { display: inline-block; margin: 0 1em 1em 0; vertical-align: top; }
figcaption { color: #666; font-size: 12px; text-align: center; }
img.plot { max-width: 100%; }
.warning { color: #8a5a00; }
</style>
</head>
<body>
$body
</body>
</html>
""")


def render(
    study: Results,
    *,
    metric: str | None,
    method: str | None,
    best_of: str | None,
    choices: list[BestChoice] | None,
    higher_is_better: bool | None,
    samples: int,
    generated: str,
) -> str:
    """The whole page, as a string."""
    shown, with_method, rows, columns = layout(study, method, best_of, choices)
    body = [
        _header(study, metric, method, best_of, higher_is_better, generated),
        _failed(study),
        _tables(study, shown, rows, columns, best_of),
        _plots(study, shown, with_method, best_of, metric, higher_is_better) if metric else None,
        _best_of(study, best_of, metric, choices) if choices is not None else None,
        _samples(study, shown, rows, columns, samples) if samples else None,
        _all_cells(study),
    ]
    return PAGE.substitute(title=escape(f"Study {study.name}"), body=Markup("\n".join(_flatten(body))))


# -- numbers -----------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    """A metric value with four significant digits ("–" for none)."""
    return "–" if value is None else f"{value:.4g}"


def fmt_stat(stat: Stat) -> str:
    """``mean ± se`` (the mean alone when there is one image)."""
    if stat.mean is None:
        return "no value"
    return fmt(stat.mean) if stat.se is None else f"{fmt(stat.mean)} ± {stat.se:.2g}"


TRIVIAL_MARK = "†"
"""Marks a value that the cell's solver made trivial (see the footnote under its table)."""


def _stat_cell(stat: Stat, *, best: bool = False, trivial: str | None = None) -> Markup:
    title = f"n = {stat.n} images" + (f", {stat.missing} without a finite value" if stat.missing else "")
    mean = None if stat.mean is None else repr(stat.mean)
    if trivial is not None:
        return tag("td", fmt_stat(stat), tag("sup", TRIVIAL_MARK), class_="trivial",
                   title=f"{title}; trivial, not ranked: {trivial}", data_mean=mean, data_n=stat.n)  # fmt: skip
    return tag("td", fmt_stat(stat), class_="best" if best else None, title=title, data_mean=mean, data_n=stat.n)


def _best_flags(stats: Sequence[Stat | None], higher_is_better: bool | None) -> list[bool]:
    """Which of ``stats`` hold the best mean (None entries, unranked ones, are never best)."""
    means = [s.mean if s is not None else None for s in stats]
    present = [m for m in means if m is not None]
    if higher_is_better is None or len(present) < 2:
        return [False] * len(stats)
    target = max(present) if higher_is_better else min(present)
    return [m is not None and m == target for m in means]


# -- sections ----------------------------------------------------------------------------


def _header(
    study: Results, metric: str | None, method: str | None, best_of: str | None, better: bool | None, generated: str
) -> list[Markup]:
    done, failed, pending = (len(study.by_status(s)) for s in ("done", "failed", "pending"))
    seconds = sum(c.seconds or 0.0 for c in study.cells)
    facts = [
        tag("span", f"{len(study.cells)} cells:"),
        tag("span", f"{done} done", class_="done"),
        tag("span", f"{failed} failed", class_="bad" if failed else None),
        tag("span", f"{pending} not run yet", class_="muted"),
        tag("span", f"{seconds:.0f} s of cell time"),
    ]
    details = [f"axes: {', '.join(study.axes) or '(none)'}"]
    if metric:
        side = {True: "higher is better", False: "lower is better", None: "direction unknown"}[better]
        details.append(f"plotted metric: {metric} ({side})")
    if method:
        details.append(f"methods: the values of {method}")
    if best_of:
        details.append(f"best of the values of {best_of} by mean {metric}")
    parts = [
        tag("h1", f"Study {study.name}"),
        tag("p", facts, class_="summary", id="progress", data_done=done, data_failed=failed, data_pending=pending),
        tag("p", "; ".join(details), class_="muted"),
        tag("p", f"Generated {generated} from {study.directory}. Means over images ± their standard error "
                 "(sample standard deviation / √n).", class_="muted"),  # fmt: skip
    ]
    if study.warnings:
        parts.append(tag("ul", [tag("li", w, class_="warning") for w in study.warnings], id="warnings"))
    return parts


def _failed(study: Results) -> Markup | None:
    failed = study.by_status("failed")
    if not failed:
        return None
    rows = [
        tag("tr", tag("td", cell.id, class_="text"),
            tag("td", ", ".join(f"{a}={cell.label(a)}" for a in cell.axes), class_="text"),
            tag("td", tag("pre", cell.error or "(no error recorded)"), class_="text failed"),
            class_="failed-cell", data_cell=cell.id)  # fmt: skip
        for cell in failed
    ]
    head = tag("tr", tag("th", "cell", class_="text"), tag("th", "axes", class_="text"), tag("th", "error", class_="text"))
    return Markup(
        tag("h2", f"Failed cells ({len(failed)})", id="failed-cells")
        + _scroll(tag("table", tag("thead", head), tag("tbody", rows), id="failed"))
    )


def _best_of(study: Results, axis: str | None, metric: str | None, choices: list[BestChoice]) -> Markup:
    others = study.distinct([a for a in study.axes if a != axis], study.cells)
    head = tag("tr", [_axis_th(a, study, class_="text") for a in others],
               tag("th", f"best {(axis or '').rsplit('.', 1)[-1]}", title=axis, class_="text"),
               tag("th", f"its mean {metric}"), tag("th", "per-image best", title="mean over images of each image's "
                                                    "best value over the candidates (the ILO paper's points)"),
               tag("th", "candidates (value: mean)", class_="text"))  # fmt: skip
    rows = []
    for choice in choices:
        labels = dict(choice.setting)
        chosen_stat = next((s for c, s in choice.candidates if c is choice.chosen), None)
        candidates = " · ".join(
            f"{cell.label(axis or '')}: {fmt(s.mean) if cell.status == 'done' else cell.status}"
            for cell, s in choice.candidates
        )
        rows.append(tag(
            "tr", [tag("td", labels[a], class_="text") for a in others],
            tag("td", choice.chosen.label(axis or "") if choice.chosen else _nothing_chosen(choice), class_="text"),
            _stat_cell(chosen_stat) if chosen_stat else tag("td", "–"),
            _stat_cell(choice.per_image) if choice.per_image.n else tag("td", "–"),
            tag("td", candidates, class_="text"),
            class_="best-row", data_cell=choice.chosen.id if choice.chosen else None,
        ))  # fmt: skip
    n = max((len(c.candidates) for c in choices), default=0)
    return Markup(
        tag("h2", f"Best of {n}: {axis}", id="best-of-section")
        + tag("p", f"For each setting of the other axes, the value of {axis} whose cell has the best mean {metric} "
                   "over its images. The tables, plots and samples show these cells. The ILO paper's points "
                   "are the per-image best: for each image the best value over the candidates, then the mean "
                   "over images (each image may take its best from another run).", class_="muted")  # fmt: skip
        + _scroll(tag("table", tag("thead", head), tag("tbody", rows), id="best-of"))
    )


def _axis_th(axis: str, study: Results, **attributes: Any) -> Markup:
    """A header cell naming ``axis`` by its last path segment when no other axis ends the same
    way (``operator.params.sigma`` -> ``sigma``), the full path on hover."""
    last = axis.rsplit(".", 1)[-1]
    unique = sum(a.rsplit(".", 1)[-1] == last for a in study.axes) == 1
    return tag("th", last if unique else axis, title=axis, **attributes)


def _scroll(table: Markup) -> Markup:
    return tag("div", table, class_="scroll")


def _nothing_chosen(choice: BestChoice) -> str:
    if all(cell.status == "pending" for cell, _ in choice.candidates):
        return "not run yet"
    return "none: no cell has a value"


def _columns(cells: Sequence[CellRecord], axes: Sequence[str]) -> list[tuple[tuple[str, str], ...]]:
    columns: list[tuple[tuple[str, str], ...]] = []
    for cell in cells:
        key = setting(cell, axes)
        if key not in columns:
            columns.append(key)
    return columns


Key = tuple[tuple[str, str], ...]


def _row_name(key: Key) -> str:
    """The labels of a setting, each once (a variant gives its label to every field it sets),
    without those of axes the cell does not have."""
    return " / ".join(dict.fromkeys(label for _, label in key if label != MISSING)) or "all cells"


def _tables(
    study: Results, shown: Sequence[CellRecord], row_axes: Sequence[str], column_axes: Sequence[str], best_of: str | None
) -> Markup:
    """One table per metric: a row per method (with the axes varied together with it), a
    column per setting of the other axes."""
    columns = _columns(shown, column_axes)
    rows = _columns(shown, row_axes)
    index: dict[tuple[Key, Key], CellRecord] = {}
    clashes = []
    for cell in shown:
        position = (setting(cell, row_axes), setting(cell, column_axes))
        if position in index:
            clashes.append(f"cells {index[position].id} and {cell.id} have the same labels; the tables show {index[position].id}")
        index.setdefault(position, cell)
    parts = [tag("h2", "Means and standard errors", id="means")]
    if best_of:
        parts.append(tag("p", f"The cells chosen over {best_of} (see Best of N below).", class_="muted"))
    if clashes:
        parts.append(tag("ul", [tag("li", c, class_="warning") for c in clashes]))
    if not study.metrics:
        parts.append(tag("p", "No results yet.", class_="muted"))
    span = max(1, len(row_axes))
    for metric in study.metrics:
        better = study.directions.get(metric)
        head = [
            tag("tr", _axis_th(axis, study, class_="axis text", colspan=span), [tag("th", dict(c)[axis]) for c in columns])
            for axis in column_axes
        ]
        corner = [_axis_th(a, study, class_="axis text") for a in row_axes] or [tag("th", "")]
        head.append(tag("tr", corner, [tag("th", metric if not column_axes else "") for _ in columns]))
        stats = {
            (i, j): study.stat(index[(r, c)], metric) if (r, c) in index and index[(r, c)].status == "done" else None
            for i, r in enumerate(rows) for j, c in enumerate(columns)
        }  # fmt: skip
        trivial = {
            (i, j): study.trivial.get((index[(r, c)].id, metric)) if (r, c) in index else None
            for i, r in enumerate(rows) for j, c in enumerate(columns)
        }  # fmt: skip
        ranked = {key: None if trivial[key] is not None else stat for key, stat in stats.items()}
        best = {j: _best_flags([ranked[(i, j)] for i in range(len(rows))], better) for j in range(len(columns))}
        body = []
        for i, r in enumerate(rows):
            tds = []
            for j, c in enumerate(columns):
                cell = index.get((r, c))
                if cell is None:
                    tds.append(tag("td", ""))
                elif cell.status == "done":
                    tds.append(_stat_cell(stats[(i, j)] or Stat(None, None, 0), best=best[j][i], trivial=trivial[(i, j)]))
                else:
                    text = "failed" if cell.status == "failed" else "not run yet"
                    tds.append(tag("td", text, class_=cell.status, title=cell.error))
            names = [tag("th", label, class_="text") for _, label in r] or [tag("th", "all cells", class_="text")]
            body.append(tag("tr", names, tds, data_row=_row_name(r)))
        side = {True: " (higher is better)", False: " (lower is better)", None: ""}[better]
        parts.append(tag("h3", f"{metric}{side}"))
        parts.append(_scroll(tag("table", tag("thead", head), tag("tbody", body), class_="means", id=f"means-{metric}",
                                 data_metric=metric)))  # fmt: skip
        parts.extend(_metric_notes(study, metric, [c for c in shown if c.status == "done"]))
    return Markup("".join(parts))


def _metric_notes(study: Results, metric: str, cells: Sequence[CellRecord]) -> list[Markup]:
    """The notes under a metric's table: that it declares no direction (nothing is bold), and a
    footnote per reason some cells' values are trivial (not ranked)."""
    notes = []
    if study.directions.get(metric) is None:
        notes.append(tag("p", f"{metric} declares no direction (its metric component says neither higher nor lower "
                              "is better), so no entry is marked best.", class_="muted note", data_note="direction"))  # fmt: skip
    reasons: dict[str, list[CellRecord]] = {}
    for cell in cells:
        reason = study.trivial.get((cell.id, metric))
        if reason is not None:
            reasons.setdefault(reason, []).append(cell)
    for reason, trivial in reasons.items():
        shared = [f"{a}={trivial[0].label(a)}" for a in study.axes
                  if len({c.label(a) for c in trivial}) == 1 and trivial[0].axes.get(a) is not None]  # fmt: skip
        which = f"{len(trivial)} cell{'s' if len(trivial) != 1 else ''}" + (f": {', '.join(shared)}" if shared else "")
        notes.append(tag("p", tag("sup", TRIVIAL_MARK), f" {metric} is trivial in {which}, so it is neither ranked "
                              f"nor marked best there: {reason}.", class_="muted note", data_note="trivial"))  # fmt: skip
    return notes


def _all_cells(study: Results) -> Markup:
    axes = study.distinct(study.axes, study.cells)
    head = tag("tr", tag("th", "cell", class_="text"), [_axis_th(a, study, class_="text") for a in axes],
               tag("th", "status", class_="text"), tag("th", "seconds"), [tag("th", m) for m in study.metrics])  # fmt: skip
    rows = []
    for cell in study.cells:
        metrics = [
            _stat_cell(study.stat(cell, m), trivial=study.trivial.get((cell.id, m))) if cell.status == "done"
            else tag("td", "") for m in study.metrics
        ]  # fmt: skip
        rows.append(tag(
            "tr", tag("td", cell.id, class_="text"), [tag("td", cell.label(a), class_="text") for a in axes],
            tag("td", cell.status, class_=f"text {cell.status}"), tag("td", fmt(cell.seconds)), metrics,
            class_="cell-row", data_cell=cell.id, data_status=cell.status,
        ))  # fmt: skip
    return Markup(
        tag("h2", "Every cell", id="every-cell")
        + _scroll(tag("table", tag("thead", head), tag("tbody", rows), id="cells"))
    )


# -- plots -------------------------------------------------------------------------------


def _plots(
    study: Results, shown: Sequence[CellRecord], row_axes: Sequence[str], best_of: str | None, metric: str,
    better: bool | None,
) -> Markup | None:  # fmt: skip
    axes = [a for a in study.numeric_axes() if a not in (*row_axes, best_of)]
    if not axes:
        return None
    parts = [tag("h2", f"{metric} against each numeric axis", id="plots"),
             tag("p", "Means over images ± standard error; one line per method.", class_="muted")]
    for x_axis in axes:
        png = plot_metric(study, shown, x_axis, row_axes, best_of, metric, better)
        if png is None:
            continue
        parts.append(tag("figure",
                         tag("img", src=data_uri(png), alt=f"{metric} against {x_axis}, one line per method",
                             class_="plot", data_axis=x_axis),
                         tag("figcaption", f"{metric} against {x_axis}")))  # fmt: skip
    return Markup("".join(parts)) if len(parts) > 2 else None


def plot_panels(
    study: Results, cells: Sequence[CellRecord], x_axis: str, row_axes: Sequence[str], best_of: str | None, metric: str
) -> tuple[dict[Key, dict[str, list[tuple[float, Stat]]]], dict[Key, str]]:
    """The panels of :func:`plot_metric`: ``{panel key: {line: [(x, Stat)]}}`` and each panel's
    title. Axes that change only with ``x_axis`` (a variant's label) do not split panels."""
    points = [c for c in cells if c.status == "done" and is_number(c.axes.get(x_axis))]
    rest = [a for a in study.axes if a not in (x_axis, *row_axes, best_of)]
    changing = [a for a in rest if len({c.label(a) for c in points}) > 1]
    with_x = {a for a in changing if determined_by(a, x_axis, points)}  # a variant's label moves with its x
    varying = [a for a in changing if a not in with_x]
    panels: dict[Key, dict[str, list[tuple[float, Stat]]]] = {}
    titles: dict[Key, str] = {}
    for cell in points:
        stat = study.stat(cell, metric)
        if stat.mean is None:
            continue
        key = setting(cell, varying)
        line = _row_name(setting(cell, row_axes)) if row_axes else metric
        panels.setdefault(key, {}).setdefault(line, []).append((float(cell.axes[x_axis]), stat))
        titles.setdefault(key, ", ".join(f"{a.rsplit('.', 1)[-1]}={cell.label(a)}" for a in rest
                                         if cell.axes.get(a) is not None and a not in with_x))  # fmt: skip
    return panels, titles


def plot_metric(
    study: Results, cells: Sequence[CellRecord], x_axis: str, row_axes: Sequence[str], best_of: str | None,
    metric: str, better: bool | None,
) -> bytes | None:  # fmt: skip
    """A PNG: mean ``metric`` (± standard error over images) against ``x_axis``, one line per
    method (the labels of ``row_axes``) and one panel per setting of the axes left that vary
    among the cells with a value of ``x_axis`` (ILO's Figure 2). None when nothing to draw."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels, titles = plot_panels(study, cells, x_axis, row_axes, best_of, metric)
    if not panels:
        return None
    keys = list(panels)[:MAX_PANELS]
    ncols = min(3, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    figure = Figure(figsize=(3.6 * ncols, 2.9 * nrows), dpi=100)
    FigureCanvasAgg(figure)
    side = {True: " (higher is better)", False: " (lower is better)", None: ""}[better]
    for n, key in enumerate(keys):
        ax = figure.add_subplot(nrows, ncols, n + 1)
        xs_all: list[float] = []
        for line, line_points in panels[key].items():
            line_points.sort(key=lambda p: p[0])
            xs = [x for x, _ in line_points]
            xs_all.extend(xs)
            ys = [s.mean for _, s in line_points]
            errors = [s.se if s.se is not None else 0.0 for _, s in line_points]
            ax.errorbar(xs, ys, yerr=errors, marker="o", markersize=4, capsize=3, label=line)
        positive = [x for x in xs_all if x > 0]
        if positive and max(positive) / min(positive) >= 50:
            if min(xs_all) > 0:
                ax.set_xscale("log")
            elif min(xs_all) == 0:  # 0 and a wide range (ILO's radius 0, 2, ..., 100): linear up to the first
                ax.set_xscale("symlog", linthresh=min(positive))
        if titles[key]:
            ax.set_title(titles[key], fontsize=9)
        ax.set_xlabel(x_axis, fontsize=9)
        ax.set_ylabel(metric + side, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


# -- samples -----------------------------------------------------------------------------


def data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URI, for an ``<img>`` that needs no file beside the page."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def thumbnail(path: Path) -> bytes | None:
    """The image at ``path`` as PNG bytes, scaled down to :data:`THUMBNAIL` pixels at most
    (None when it cannot be read)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            if image.mode.startswith("I"):  # 16-bit grey: to 8 bits by value, not clipped at 255
                import numpy as np

                picture = Image.fromarray((np.asarray(image, dtype=np.float64) / 257).round().clip(0, 255).astype(np.uint8))
            else:
                picture = image.convert("RGB") if image.mode not in ("L", "RGB") else image.copy()
    except (OSError, UnidentifiedImageError):
        return None
    if max(picture.size) > THUMBNAIL:
        picture.thumbnail((THUMBNAIL, THUMBNAIL), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def run_images(run_dir: Path | None) -> dict[str, dict[str, Path]]:
    """``{image name: {"reconstruction" | "observed" | "ground_truth": path}}`` of a run
    directory's ``images/``, in the run's order."""
    found: list[tuple[int, str, str, Path]] = []
    folder = run_dir / "images" if run_dir is not None else None
    if folder is None or not folder.is_dir():
        return {}
    for path in folder.iterdir():
        match = _IMAGE_FILE.match(path.name)
        if match:
            found.append((int(match["index"]), match["name"], match["kind"], path))
    out: dict[str, dict[str, Path]] = {}
    for _, name, kind, path in sorted(found):
        out.setdefault(name, {})[kind] = path
    return out


def _img(path: Path | None, alt: str) -> Markup:
    png = thumbnail(path) if path is not None else None
    if png is None:
        return tag("td", "–", class_="text")
    return tag("td", tag("img", src=data_uri(png), alt=alt, class_="thumb"))


def _samples(
    study: Results, shown: Sequence[CellRecord], row_axes: Sequence[str], column_axes: Sequence[str], samples: int
) -> Markup | None:
    done = [c for c in shown if c.status == "done" and c.run_dir is not None]
    if not done:
        return None
    groups: dict[Key, list[CellRecord]] = {}
    for cell in done:
        groups.setdefault(setting(cell, column_axes), []).append(cell)
    parts = [tag("h2", "Sample reconstructions", id="samples"),
             tag("p", f"The first {samples} images of each setting: observed, ground truth and each method's "
                      "reconstruction (shown at 64 px).", class_="muted")]  # fmt: skip
    for n, (key, cells) in enumerate(groups.items()):
        if n == MAX_GALLERIES:
            parts.append(tag("p", f"… and {len(groups) - MAX_GALLERIES} more settings (not shown).", class_="muted"))
            break
        images = {cell.id: run_images(cell.run_dir) for cell in cells}
        names: list[str] = []
        for cell in cells:
            names.extend(name for name in images[cell.id] if name not in names)
        names = names[:samples]
        if not names:
            continue
        methods = [_row_name(setting(cell, row_axes)) if row_axes else cell.id for cell in cells]
        head = tag("tr", tag("th", "image", class_="text"), tag("th", "observed"), tag("th", "ground truth"),
                   [tag("th", m) for m in methods])  # fmt: skip
        rows = []
        for name in names:
            first = next((images[c.id][name] for c in cells if name in images[c.id]), {})
            rows.append(tag(
                "tr", tag("td", name, class_="text"),
                _img(first.get("observed"), f"{name} observed"), _img(first.get("ground_truth"), f"{name} ground truth"),
                [_img(images[c.id].get(name, {}).get("reconstruction"), f"{name} by {m}") for c, m in zip(cells, methods)],
            ))  # fmt: skip
        title = ", ".join(f"{a.rsplit('.', 1)[-1]}={v}" for a, v in key if cells[0].axes.get(a) is not None)
        parts.append(tag("h3", title or "all cells"))
        parts.append(_scroll(tag("table", tag("thead", head), tag("tbody", rows), class_="samples")))
    return Markup("".join(parts))
