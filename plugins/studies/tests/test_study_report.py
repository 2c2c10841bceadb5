"""The study report: numbers, best-of-N, failed cells, a self-contained page, and the page in a
real headless Chromium.

Every test writes a synthetic study directory (what ``invprob study run`` writes: cells.json,
cells.jsonl, results.jsonl and a run directory per cell with tiny PNGs) whose values are known,
so the report's numbers can be checked against arithmetic done by hand.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from invprob.testing.browser import headless_chromium, load_page
from invprob_studies.report import (
    ReportError,
    Stat,
    add_report_arguments,
    read_results,
    report_command,
    select_best,
    write_report,
)

SOLVERS = {
    "csgm": {"type": "csgm", "params": {"steps": 10}},
    "ilo": {"type": "ilo", "params": {"steps": [5, 5]}},
}
FRACTIONS = [0.05, 0.2, 0.5]
RATES = [0.01, 0.1, 1.0]
IMAGES = ["face-a", "face-b", "face-c"]
OFFSETS = [-1.0, 0.0, 2.0]  # added per image: mean 1/3, sample variance 7/3, standard error sqrt(7)/3


def expected_psnr(solver: str, fraction: float, lr: float) -> float:
    """The mean PSNR the synthetic study records for a cell (its images add OFFSETS)."""
    lr_bonus = {0.01: 0.0, 0.1: 1.5, 1.0: -2.0}[lr]
    if solver == "csgm" and fraction == 0.5:
        lr_bonus = {0.01: 3.0, 0.1: 1.5, 1.0: -2.0}[lr]  # the best rate depends on the setting
    return 20 + 10 * fraction + (4.0 if solver == "ilo" else 0.0) + lr_bonus + sum(OFFSETS) / len(OFFSETS)


def _png(path: Path, value: int, size: int = 8) -> None:
    pixels = np.full((size, size, 3), value, np.uint8)
    pixels[0, 0] = (255 - value, 0, 0)
    Image.fromarray(pixels).save(path)


DIRECTIONS = {"psnr": True, "mse": False}
"""What a run's metrics.json declares for these metrics (their components' ``higher_is_better``)."""


def declare(run_dir: Path, directions: dict[str, bool | None], trivial: dict[str, str] | None = None) -> None:
    """The part of a run's metrics.json the report reads: directions and trivial metrics."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.json").write_text(json.dumps({"higher_is_better": directions, **({"trivial": trivial} if trivial else {})}))


def make_study(root: Path, *, failed: str | None = "ilo-0.2-lr1", pending: int = 0) -> Path:
    """A study over solver x operator.params.observed x solver.params.lr with three images.

    The cell ``failed`` failed (its error contains HTML to be escaped); the last ``pending``
    cells of the plan have not run yet.
    """
    study = root / "fig2"
    (study / "runs").mkdir(parents=True)
    (study / "study.yaml").write_text("name: fig2\n")
    plan, finished, results = [], [], []
    for solver, component in SOLVERS.items():
        for fraction in FRACTIONS:
            for lr in RATES:
                cell = f"{solver}-{fraction:g}-lr{lr:g}"
                axes = {"solver": component, "operator.params.observed": fraction, "solver.params.lr": lr}
                labels = {"solver": solver, "operator.params.observed": f"{fraction:g}", "solver.params.lr": f"{lr:g}"}
                plan.append({"cell": cell, "axes": axes, "labels": labels})
    for entry in plan[: len(plan) - pending]:
        cell, axes, labels = entry["cell"], entry["axes"], entry["labels"]
        record = {"cell": cell, "run_dir": f"runs/{cell}", "seconds": 2.0, "axes": axes, "labels": labels,
                  "finished": "2026-11-27T17:00:00+00:00"}  # fmt: skip
        if cell == failed:
            finished.append({**record, "status": "failed", "error": "RuntimeError: <b>boom</b> & co"})
            continue
        finished.append({**record, "status": "done", "error": None})
        run = study / "runs" / cell / "images"
        run.mkdir(parents=True)
        declare(run.parent, DIRECTIONS)
        mean = expected_psnr(labels["solver"], axes["operator.params.observed"], axes["solver.params.lr"])
        for index, (image, offset) in enumerate(zip(IMAGES, OFFSETS)):
            stem = f"{index:04d}_{image}"
            _png(run / f"{stem}_reconstruction.png", 40 * index + 10)
            _png(run / f"{stem}_observed.png", 5)
            _png(run / f"{stem}_ground_truth.png", 200)
            psnr = mean - sum(OFFSETS) / len(OFFSETS) + offset
            for metric, value in (("psnr", psnr), ("mse", 10 ** (-psnr / 10))):
                results.append({"study": "fig2", "cell": cell, "axes": axes, "labels": labels, "image": image,
                                "metric": metric, "value": value, "run_dir": f"runs/{cell}"})  # fmt: skip
    (study / "cells.json").write_text(json.dumps(plan, indent=2))
    (study / "cells.jsonl").write_text("".join(json.dumps(r) + "\n" for r in finished))
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    return study


class Page(HTMLParser):
    """The tables, images and links of a page, parsed with the standard library."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.images: list[dict[str, str]] = []
        self.urls: list[str] = []
        self._table: str | None = None
        self._row: dict[str, Any] | None = None
        self._cell: dict[str, Any] | None = None
        self.feed(text)

    def handle_starttag(self, name: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.urls.extend(v for k, v in attributes.items() if k in ("src", "href"))
        if name == "table" and "id" in attributes:
            self._table = attributes["id"]
            self.tables[self._table] = []
        elif name == "tr" and self._table:
            self._row = {"attrs": attributes, "cells": []}
        elif name in ("td", "th") and self._row is not None:
            self._cell = {"attrs": attributes, "text": ""}
        elif name == "img":
            self.images.append(attributes)

    def handle_endtag(self, name: str) -> None:
        if name in ("td", "th") and self._cell is not None and self._row is not None:
            self._row["cells"].append(self._cell)
            self._cell = None
        elif name == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif name == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data

    def body_rows(self, table: str) -> list[dict[str, Any]]:
        return [r for r in self.tables[table] if "data-row" in r["attrs"] or "data-cell" in r["attrs"]]


# -- numbers -----------------------------------------------------------------------------


def test_stat_is_the_mean_and_the_standard_error_over_finite_values() -> None:
    stat = Stat.of([1.0, 2.0, 6.0, None])
    assert stat.mean == pytest.approx(3.0)
    assert stat.se == pytest.approx(math.sqrt(7.0) / math.sqrt(3.0))  # sd sqrt(7), n = 3
    assert (stat.n, stat.missing) == (3, 1)
    assert Stat.of([5.0]).se is None and Stat.of([5.0]).mean == 5.0
    assert Stat.of([None]).mean is None


def test_tables_hold_each_cells_mean_and_standard_error(tmp_path: Path) -> None:
    study_dir = make_study(tmp_path)
    page = Page(write_report(study_dir).read_text())
    rows = {r["attrs"]["data-cell"]: r for r in page.body_rows("cells")}
    assert len(rows) == 18
    study = read_results(study_dir)
    psnr_column = 1 + len(study.axes) + 2  # cell, axes..., status, seconds, then the metrics
    cell = rows["ilo-0.5-lr0.1"]["cells"][psnr_column]
    expected = expected_psnr("ilo", 0.5, 0.1)
    assert float(cell["attrs"]["data-mean"]) == pytest.approx(expected)
    assert cell["text"] == f"{expected:.4g} ± {math.sqrt(7) / 3:.2g}"  # 30.83 ± 0.88
    assert cell["attrs"]["data-n"] == "3"
    # the pivot of PSNR: one row per method, one column per setting of the other axes
    pivot = page.body_rows("means-psnr")
    assert [r["attrs"]["data-row"] for r in pivot] == ["csgm", "ilo"]
    assert len(pivot[0]["cells"]) == 1 + len(FRACTIONS) * len(RATES)


def test_best_of_picks_the_value_with_the_best_mean_per_setting(tmp_path: Path) -> None:
    study = read_results(make_study(tmp_path, failed="csgm-0.05-lr0.1"))
    choices = {dict(c.setting)["operator.params.observed"] + "/" + dict(c.setting)["solver"]: c
               for c in select_best(study, "solver.params.lr", "psnr", higher_is_better=True)}  # fmt: skip
    assert len(choices) == 6
    assert choices["0.2/ilo"].chosen.id == "ilo-0.2-lr0.1"
    assert choices["0.5/csgm"].chosen.id == "csgm-0.5-lr0.01"  # its own best rate
    assert choices["0.05/csgm"].chosen.id == "csgm-0.05-lr0.01"  # the best one failed: never chosen
    lowest = select_best(study, "solver.params.lr", "mse", higher_is_better=False)
    assert [c.chosen.id for c in lowest] == [c.chosen.id for c in choices.values()]


def test_the_report_shows_the_best_of_n_choice_and_uses_it(tmp_path: Path) -> None:
    study_dir = make_study(tmp_path)
    page = Page(write_report(study_dir, best_of="solver.params.lr", metric="psnr").read_text())
    best = page.body_rows("best-of")
    assert {r["attrs"]["data-cell"] for r in best} == {
        "csgm-0.05-lr0.1", "csgm-0.2-lr0.1", "csgm-0.5-lr0.01", "ilo-0.05-lr0.1", "ilo-0.2-lr0.1", "ilo-0.5-lr0.1"}
    pivot = page.body_rows("means-psnr")
    assert len(pivot[0]["cells"]) == 1 + len(FRACTIONS)  # the lr axis is selected away
    means = [float(c["attrs"]["data-mean"]) for c in pivot[1]["cells"][1:]]
    assert means == pytest.approx([expected_psnr("ilo", f, 0.1) for f in FRACTIONS])
    assert all("best" in c["attrs"].get("class", "") for c in pivot[1]["cells"][1:])  # ILO wins every column


def test_failed_and_pending_cells_are_listed(tmp_path: Path) -> None:
    study_dir = make_study(tmp_path, pending=2)
    text = write_report(study_dir).read_text()
    page = Page(text)
    failed = page.body_rows("failed")
    assert [r["attrs"]["data-cell"] for r in failed] == ["ilo-0.2-lr1"]
    assert "RuntimeError: <b>boom</b> & co" in failed[0]["cells"][2]["text"]
    assert "&lt;b&gt;boom&lt;/b&gt; &amp; co" in text and "<b>boom" not in text
    status = {r["attrs"]["data-cell"]: r["attrs"]["data-status"] for r in page.body_rows("cells")}
    assert list(status.values()).count("pending") == 2 and status["ilo-0.2-lr1"] == "failed"
    assert re.search(r'data-done="15" data-failed="1" data-pending="2"', text)


def test_the_report_is_self_contained(tmp_path: Path) -> None:
    study_dir = make_study(tmp_path)
    text = write_report(study_dir, best_of="solver.params.lr").read_text()
    page = Page(text)
    assert not re.search(r"https?:", text)
    assert all(url.startswith("data:") for url in page.urls)
    plots = [i for i in page.images if i.get("class") == "plot"]
    assert [p["data-axis"] for p in plots] == ["operator.params.observed"]
    thumbs = [i for i in page.images if i.get("class") == "thumb"]
    assert len(thumbs) == 3 * 3 * (2 + 2)  # 3 settings x 3 images x (observed, truth, 2 methods)
    shutil.rmtree(study_dir / "runs")  # nothing read from beside the page once written
    assert Page(text).images == page.images


def test_wrong_options_and_directories_are_one_line_errors(tmp_path: Path) -> None:
    study_dir = make_study(tmp_path)
    with pytest.raises(ReportError, match=r"--best-of 'solver.params.rl'.*did you mean 'solver.params.lr'"):
        write_report(study_dir, best_of="solver.params.rl")
    with pytest.raises(ReportError, match=r"--metric 'psrn'.*did you mean 'psnr'"):
        write_report(study_dir, metric="psrn")
    with pytest.raises(ReportError, match="no cells.json"):
        write_report(tmp_path)
    with pytest.raises(ReportError, match="both 'solver'"):
        write_report(study_dir, best_of="solver", method="solver")


def test_a_metric_of_unknown_direction_needs_one_for_best_of(tmp_path: Path) -> None:
    study_dir = make_study(tmp_path)
    lines = (study_dir / "results.jsonl").read_text().replace('"metric": "mse"', '"metric": "sharpness"')
    (study_dir / "results.jsonl").write_text(lines)
    with pytest.raises(ReportError, match="--higher-is-better or --lower-is-better"):
        write_report(study_dir, best_of="solver.params.lr", metric="sharpness")
    page = Page(write_report(study_dir, best_of="solver.params.lr", metric="sharpness",
                             higher_is_better=False).read_text())  # fmt: skip
    assert len(page.body_rows("best-of")) == 6


def test_a_truncated_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    study_dir = make_study(tmp_path)
    with (study_dir / "results.jsonl").open("a") as handle:
        handle.write('{"study": "fig2", "cell": "ilo-0')  # a process killed while writing
    study = read_results(study_dir)
    assert any("results.jsonl line" in w for w in study.warnings)
    assert "results.jsonl line" in write_report(study_dir).read_text()


def test_a_rerun_cell_replaces_its_failure(tmp_path: Path) -> None:
    study_dir = make_study(tmp_path, failed="ilo-0.2-lr1")
    record = {"cell": "ilo-0.2-lr1", "status": "done", "error": None, "run_dir": "runs/ilo-0.2-lr1", "seconds": 1.0}
    with (study_dir / "cells.jsonl").open("a") as handle:
        handle.write(json.dumps(record) + "\n")
    study = read_results(study_dir)
    assert not study.by_status("failed")


def test_the_command_line_options_reach_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    add_report_arguments(parser)
    study_dir = make_study(tmp_path)
    out = tmp_path / "r.html"
    args = parser.parse_args([str(study_dir), "--best-of", "solver.params.lr", "--metric", "mse", "--samples", "0",
                              "--out", str(out)])  # fmt: skip
    assert report_command(args) == 0
    assert capsys.readouterr().out.strip() == f"report: {out}"
    page = Page(out.read_text())
    assert len(page.body_rows("best-of")) == 6 and not [i for i in page.images if i.get("class") == "thumb"]
    assert report_command(parser.parse_args([str(tmp_path)])) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "no cells.json" in error and error.count("\n") == 1


# -- in a real browser -------------------------------------------------------------------


def test_the_report_in_headless_chromium(tmp_path: Path) -> None:
    """The page loads without console errors, its tables have the expected rows and every
    image is decoded (naturalWidth > 0)."""
    report = write_report(make_study(tmp_path), best_of="solver.params.lr")
    with headless_chromium() as browser:
        loaded = load_page(browser, report.as_uri())
        rows = {
            table: loaded.page.eval_on_selector_all(f"#{table} tbody tr", "els => els.length")
            for table in ("cells", "failed", "best-of", "means-psnr", "means-mse")
        }
        headings = loaded.page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
    assert loaded.problems == []
    assert rows == {"cells": 18, "failed": 1, "best-of": 6, "means-psnr": 2, "means-mse": 2}
    assert len(loaded.images) == 1 + 3 * 3 * 4  # the plot and the thumbnails
    assert all(width > 0 for _, width in loaded.images)
    assert headings[0] == "Failed cells (1)" and "Best of 3: solver.params.lr" in headings


def write_study(root: Path, cells: list[tuple[dict[str, Any], dict[str, str], list[float]]]) -> Path:
    """A study directory whose cells (axes, labels, PSNR per image) all finished."""
    study = root / "study"
    (study / "runs").mkdir(parents=True)
    plan = [{"cell": f"c{i}", "axes": axes, "labels": labels} for i, (axes, labels, _) in enumerate(cells)]
    for entry in plan:
        declare(study / "runs" / entry["cell"], {"psnr": True})
    finished = [{**entry, "status": "done", "error": None, "run_dir": f"runs/{entry['cell']}", "seconds": 1.0}
                for entry in plan]  # fmt: skip
    rows = [{"cell": f"c{i}", "image": f"im{k}", "metric": "psnr", "value": v}
            for i, (_, _, values) in enumerate(cells) for k, v in enumerate(values)]  # fmt: skip
    (study / "cells.json").write_text(json.dumps(plan))
    (study / "cells.jsonl").write_text("".join(json.dumps(r) + "\n" for r in finished))
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return study


def test_axes_zipped_with_the_method_are_shown_beside_it_not_as_columns(tmp_path: Path) -> None:
    """Yeh's Table 1: a solver zipped with its priors, times the mask: one row per method
    (its prior beside it), one column per mask."""
    methods = [("csgm", "none", None), ("yeh", "box", [{"type": "box"}]), ("yeh+d", "disc", None)]
    cells = []
    for m, (solver, prior_label, prior) in enumerate(methods):
        for k, mask in enumerate(["center", "random"]):
            axes = {"solver": {"type": solver}, "priors": prior, "operator": {"type": f"inpaint-{mask}"}}
            labels = {"solver": solver, "priors": prior_label, "operator": mask}
            cells.append((axes, labels, [20.0 + m + k, 22.0 + m + k]))
    page = Page(write_report(write_study(tmp_path, cells)).read_text())
    header = page.tables["means-psnr"][0]["cells"]
    assert [c["text"] for c in header] == ["operator", "center", "random"]
    rows = page.body_rows("means-psnr")
    assert [[c["text"] for c in r["cells"][:2]] for r in rows] == [["csgm", "none"], ["yeh", "box"], ["yeh+d", "disc"]]
    assert [float(c["attrs"]["data-mean"]) for c in rows[2]["cells"][2:]] == [23.0, 24.0]


def test_a_numeric_axis_set_for_some_cells_only_is_plotted_for_those(tmp_path: Path) -> None:
    """ILO's Figure 2 as one study: the task zipped with its own numeric axis (null for the
    other tasks); each numeric axis gets a plot over the cells that have it."""
    tasks = [("inpaint", "operator.params.observed", [0.05, 0.2, 0.5]), ("denoise", "operator.params.sigma", [10, 25])]
    cells = []
    for solver in ("csgm", "ilo"):
        for task, axis, xs in tasks:
            for x in xs:
                axes = {"solver": {"type": solver}, "operator": {"type": task},
                        "operator.params.observed": None, "operator.params.sigma": None, axis: x}  # fmt: skip
                labels = {"solver": solver, "operator": task, "operator.params.observed": "-",
                          "operator.params.sigma": "-", axis: str(x)}  # fmt: skip
                cells.append((axes, labels, [20.0 + x, 21.0 + x]))
    page = Page(write_report(write_study(tmp_path, cells)).read_text())
    plots = [i["data-axis"] for i in page.images if i.get("class") == "plot"]
    assert plots == ["operator.params.observed", "operator.params.sigma"]


def test_best_of_also_gives_the_papers_per_image_best(tmp_path: Path) -> None:
    """ILO's points: each image's best value over the runs, averaged -- here 15 and 20 from
    two different rates, while the best mean is the rate 0.1 cell's 15."""
    cells = [
        ({"solver": {"type": "ilo"}, "solver.params.lr": 0.1}, {"solver": "ilo", "solver.params.lr": "0.1"}, [10.0, 20.0]),
        ({"solver": {"type": "ilo"}, "solver.params.lr": 0.3}, {"solver": "ilo", "solver.params.lr": "0.3"}, [15.0, 12.0]),
    ]
    study_dir = write_study(tmp_path, cells)
    (choice,) = select_best(read_results(study_dir), "solver.params.lr", "psnr", higher_is_better=True)
    assert choice.chosen.id == "c0"
    assert choice.per_image.mean == pytest.approx(17.5) and choice.per_image.se == pytest.approx(2.5)
    row = Page(write_report(study_dir, best_of="solver.params.lr").read_text()).body_rows("best-of")[0]
    assert [float(c["attrs"]["data-mean"]) for c in row["cells"] if "data-mean" in c["attrs"]] == [15.0, 17.5]


# -- which way is better, and values that say nothing ------------------------------------


def _methods_study(tmp_path: Path, directions: dict[str, bool | None]) -> Path:
    """Yeh's Table 1 in small: CSGM, Yeh and Yeh + blend on two masks, with the measurement
    loss, psnr_missing and a third-party metric; blending makes Yeh's measurement loss 0."""
    study = tmp_path / "methods"
    (study / "runs").mkdir(parents=True)
    plan, finished, rows = [], [], []
    values = {"CSGM": (0.02, 18.0, 0.4), "Yeh": (0.01, 19.0, 0.5), "Yeh + blend": (0.0, 20.0, 0.6)}
    for method, (loss, missing, sharp) in values.items():
        for mask in ("center", "random"):
            cell = f"{method}-{mask}".replace(" + ", "+")
            axes = {"solver": {"type": "yeh" if "Yeh" in method else "csgm"}, "operator": {"type": f"inpaint-{mask}"}}
            plan.append({"cell": cell, "axes": axes, "labels": {"solver": method, "operator": mask}})
            finished.append({"cell": cell, "status": "done", "error": None, "run_dir": f"runs/{cell}", "seconds": 1.0})
            trivial = {"measurement_loss": "0 by construction: Poisson blending"} if method == "Yeh + blend" else None
            declare(study / "runs" / cell, directions, trivial)
            for k, offset in enumerate((-0.5, 0.5)):
                for metric, value in (("measurement_loss", loss * (1 + offset) if loss else 0.0),
                                      ("psnr_missing", missing + offset), ("sharpness", sharp + offset)):
                    rows.append({"cell": cell, "image": f"im{k}", "metric": metric, "value": value})
    (study / "cells.json").write_text(json.dumps(plan))
    (study / "cells.jsonl").write_text("".join(json.dumps(r) + "\n" for r in finished))
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return study


def _bold(page: Page, table: str) -> list[tuple[str, int]]:
    return [(r["attrs"]["data-row"], j) for r in page.body_rows(table)
            for j, c in enumerate(r["cells"]) if "best" in c["attrs"].get("class", "").split()]  # fmt: skip


def test_directions_come_from_what_the_runs_metric_components_declare(tmp_path: Path) -> None:
    study_dir = _methods_study(tmp_path, {"measurement_loss": False, "psnr_missing": True, "sharpness": None})
    study = read_results(study_dir)
    assert study.directions == {"measurement_loss": False, "psnr_missing": True}
    text = write_report(study_dir, samples=0).read_text()
    page = Page(text)
    assert _bold(page, "means-psnr_missing") == [("Yeh + blend", 1), ("Yeh + blend", 2)]
    assert "psnr_missing (higher is better)" in text
    # a metric that declares no direction: nothing bold, and a note that says why
    assert _bold(page, "means-sharpness") == []
    assert re.search(r'data-note="direction">sharpness declares no direction', text)


def test_a_metric_the_solver_made_trivial_is_footnoted_never_bold_or_chosen(tmp_path: Path) -> None:
    study_dir = _methods_study(tmp_path, {"measurement_loss": False, "psnr_missing": True})
    text = write_report(study_dir, samples=0).read_text()
    page = Page(text)
    # Yeh + blend's 0 ± 0 would be the lowest; it is not ranked, Yeh's 0.01 is the best
    assert _bold(page, "means-measurement_loss") == [("Yeh", 1), ("Yeh", 2)]
    blend = next(r for r in page.body_rows("means-measurement_loss") if r["attrs"]["data-row"] == "Yeh + blend")
    assert all("trivial" in c["attrs"].get("class", "") and c["text"].endswith("†") for c in blend["cells"][1:])
    note = re.search(r'data-note="trivial">(.*?)</p>', text).group(1)
    assert "measurement_loss is trivial in 2 cells: solver=Yeh + blend" in note and "Poisson blending" in note
    study = read_results(study_dir)
    (choice,) = [c for c in select_best(study, "solver", "measurement_loss", higher_is_better=False)
                 if dict(c.setting)["operator"] == "center"]  # fmt: skip
    assert choice.chosen.id == "Yeh-center" and choice.per_image.mean == pytest.approx(0.01)


# -- studies written with named variants -------------------------------------------------


def _variant_cells() -> list[tuple[dict[str, Any], dict[str, str], list[float]]]:
    """ILO's Figure 2 written with variants: each task variant sets its operator and its own
    numeric field (no null padding), labelled once for both; each method sets its solver and,
    for Yeh, its priors, all with the method's label."""
    methods = [("CSGM", {"solver": {"type": "csgm"}}), ("Yeh", {"solver": {"type": "yeh"}, "priors": None})]
    tasks = [(f"inpainting {x:g}", {"operator": {"type": "inpaint-random"}, "operator.params.observed": x}) for x in (0.05, 0.2, 0.5)]
    tasks += [(f"denoising {s}", {"operator": {"type": "denoise"}, "operator.params.sigma": s}) for s in (10, 25)]
    cells = []
    for m, (method, sets) in enumerate(methods):
        for t, (task, fields) in enumerate(tasks):
            axes = {**sets, **fields}
            labels = {**{p: method for p in sets}, **{p: task for p in fields}}
            cells.append((axes, labels, [20.0 + m + t, 21.0 + m + t]))
    return cells


def test_a_variant_labels_every_field_it_sets_once_in_tables_and_plots(tmp_path: Path) -> None:
    from invprob_studies.report_html import plot_panels

    study_dir = write_study(tmp_path, _variant_cells())
    page = Page(write_report(study_dir).read_text())
    header = [[c["text"] for c in row["cells"]] for row in page.tables["means-psnr"] if "data-row" not in row["attrs"]]
    assert header[0] == ["operator", "inpainting 0.05", "inpainting 0.2", "inpainting 0.5", "denoising 10", "denoising 25"]
    assert len(header) == 2  # the task's own numeric fields repeat its label: no header rows of their own
    rows = page.body_rows("means-psnr")
    assert [[c["text"] for c in r["cells"] if c["attrs"].get("data-mean") is None] for r in rows] == [["CSGM"], ["Yeh"]]
    study = read_results(study_dir)
    assert [i["data-axis"] for i in page.images if i.get("class") == "plot"] == ["operator.params.observed", "operator.params.sigma"]
    panels, titles = plot_panels(study, study.cells, "operator.params.observed", ["solver", "priors"], None, "psnr")
    (key,) = panels  # one panel: the task's label moves with its x, it does not split the plot
    assert sorted(panels[key]) == ["CSGM", "Yeh"] and len(panels[key]["Yeh"]) == 3 and titles[key] == ""
    every = [c["text"] for c in page.tables["cells"][0]["cells"]]
    assert every[:3] == ["cell", "solver", "operator"] and "sigma" not in every  # a repeated label is shown once


def test_a_16_bit_sample_image_is_shown_at_its_grey_level_not_clipped_white(tmp_path: Path) -> None:
    import io

    from invprob_studies.report_html import thumbnail

    Image.fromarray(np.full((8, 8), 32896, np.uint16)).save(tmp_path / "deep.png")  # 128 * 257: mid-grey
    with Image.open(io.BytesIO(thumbnail(tmp_path / "deep.png"))) as picture:
        assert set(np.asarray(picture).reshape(-1).tolist()) == {128}


def test_a_study_run_with_yeh_and_blending_footnotes_the_blended_measurement_loss(tmp_path: Path, toy_recipe: Path, toy_registry) -> None:
    """End to end: the run's metrics.json declares directions and the trivial value, the report reads them."""
    pytest.importorskip("invprob_plugin_yeh")
    from invprob_studies import load_study, run_study

    path = tmp_path / "study.yaml"
    path.write_text("""\
name: yeh-blend
recipe: recipe.yaml
overrides: {data.samples: 2, outputs.gif: false, outputs.latents: false, metrics: [psnr], operator: {type: inpaint-center}}
axes:
  - - {label: Yeh, set: {solver: {type: yeh, params: {steps: 2, blend: false}}}}
    - {label: Yeh + blend, set: {solver: {type: yeh, params: {steps: 2}}}}
""")
    study = load_study(path, registry=toy_registry)
    # the toy recipe's explicit losses and priors were written for toy-descent: they carry into the Yeh cells
    assert sorted(w.split(" ", 1)[0] for w in study.warnings) == ["losses", "priors"]
    outcome = run_study(study, tmp_path / "out", show_progress=False, registry=toy_registry)
    assert outcome.done == 2
    results = read_results(tmp_path / "out" / "yeh-blend")
    assert results.directions == {"psnr": True, "psnr_missing": True, "measurement_loss": False}
    assert list(results.trivial) == [(study.cells[1].id, "measurement_loss")]
    text = write_report(tmp_path / "out" / "yeh-blend", samples=0).read_text()
    row = next(r for r in Page(text).body_rows("means-measurement_loss") if r["attrs"]["data-row"] == "Yeh + blend")
    assert "trivial" in row["cells"][1]["attrs"]["class"] and 'data-note="trivial"' in text
