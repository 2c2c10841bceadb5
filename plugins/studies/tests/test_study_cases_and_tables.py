"""Study ``cases`` (settings of some combinations of axis values), the report's ``--metrics`` and
its Markdown tables, ``mse_missing``, and the benchmark study files that replaced the table
scripts and the ILO radius sweep (they plan, where ../shared is present)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from invprob_studies.report import ReportError, write_report
from invprob_studies.spec import StudyError, load_study

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared"
STUDIES = REPO / "benchmarks" / "studies"


def write_study(tmp_path: Path, body: str) -> Path:
    """A study of the toy recipe (the ``toy_recipe`` fixture writes it beside)."""
    path = tmp_path / "study.yaml"
    path.write_text("name: toy-study\nrecipe: recipe.yaml\n" + body)
    return path


AXES = """\
axes:
  - - {label: slow, set: {solver.params.steps: 2}}
    - {label: fast, set: {solver.params.steps: 3}}
  - vary: {operator.params.sigma: [0.0, 0.1]}
"""


def test_a_case_sets_its_fields_in_the_cells_it_names_only_and_leaves_the_other_ids_alone(
    tmp_path, toy_recipe, toy_registry
):
    plain = load_study(write_study(tmp_path, AXES), registry=toy_registry)
    path = write_study(tmp_path, AXES + """\
cases:
  - when: {solver.params.steps: fast, operator.params.sigma: "0.1"}
    set: {solver.params.lr: 0.5, seed: 7}
  - when: {solver.params.steps: [slow, fast], operator.params.sigma: "0.0"}
    set: {solver.params.restarts: 1}
""")
    study = load_study(path, registry=toy_registry)
    by_labels = {(c.labels["solver.params.steps"], c.labels["operator.params.sigma"]): c for c in study.cells}
    fast_noisy = by_labels[("fast", "0.1")]
    assert fast_noisy.recipe["solver"]["params"]["lr"] == 0.5 and fast_noisy.recipe["seed"] == 7
    assert fast_noisy.validated.solver.params["lr"] == 0.5
    slow_noisy = by_labels[("slow", "0.1")]
    assert "lr" not in slow_noisy.recipe["solver"]["params"] and slow_noisy.recipe["seed"] == 0
    assert slow_noisy.recipe["solver"]["params"]["restarts"] == 2  # the recipe's: no case applies
    assert {by_labels[(s, "0.0")].recipe["solver"]["params"]["restarts"] for s in ("slow", "fast")} == {1}
    assert [c.axes for c in study.cells] == [c.axes for c in plain.cells]  # a case adds no axis
    ids = {c.labels["solver.params.steps"] + c.labels["operator.params.sigma"]: c.id for c in study.cells}
    before = {c.labels["solver.params.steps"] + c.labels["operator.params.sigma"]: c.id for c in plain.cells}
    assert ids["slow0.1"] == before["slow0.1"]  # no case applies: the id of the study without cases
    assert ids["fast0.1"] != before["fast0.1"] and ids["slow0.0"] != before["slow0.0"]  # what decides the result changed


def test_a_case_that_could_never_apply_or_sets_no_recipe_field_is_an_error_of_the_study(
    tmp_path, toy_recipe, toy_registry
):
    path = write_study(tmp_path, AXES + """\
cases:
  - when: {solver.params.stepz: fast}
    set: {solver.params.lr: 0.5}
  - when: {solver.params.steps: quick}
    set: {solvr.params.lr: 0.5}
""")
    with pytest.raises(StudyError) as caught:
        load_study(path, registry=toy_registry)
    report = caught.value.report()
    assert "cases[0].when.solver.params.stepz: 'solver.params.stepz' is not an axis of this study; did you mean 'solver.params.steps'?" in report
    assert "cases[1].when.solver.params.steps: no value of axis 'solver.params.steps' has the label 'quick', so this case never applies; its labels: fast, slow" in report
    assert "cases[1].set.solvr.params.lr: 'solvr' is not a recipe field; did you mean 'solver'?" in report
    empty = write_study(tmp_path, AXES + "cases:\n  - {when: {}, set: {seed: 1}}\n")
    with pytest.raises(StudyError, match="cases.0..when: Dictionary should have at least 1 item"):
        load_study(empty, registry=toy_registry)


def test_a_case_whose_value_is_invalid_is_reported_with_its_cell(tmp_path, toy_recipe, toy_registry):
    path = write_study(tmp_path, AXES + """\
cases:
  - when: {solver.params.steps: fast}
    set: {solver.params.lr: -1}
""")
    with pytest.raises(StudyError) as caught:
        load_study(path, registry=toy_registry)
    problems = [str(p) for p in caught.value.problems]
    assert len(problems) == 2 and all("(solver.params.steps=fast " in p and "solver.params.lr" in p for p in problems)


def _study_dir(root: Path) -> Path:
    """A finished study of two methods x two tasks, two images each, with known values."""
    study = root / "tables"
    (study / "runs").mkdir(parents=True)
    plan, lines, rows = [], [], []
    for method in ("LCM", "GLO"):
        for task in ("inpainting", "x4"):
            cell = f"{method}-{task}"
            plan.append({"cell": cell, "axes": {"solver": {"type": method.lower()}, "operator": {"type": task}},
                         "labels": {"solver": method, "operator": task}})  # fmt: skip
            lines.append({"cell": cell, "status": "done", "run_dir": f"runs/{cell}", "seconds": 1.0})
            for image, mse in (("a", 0.01), ("b", 0.03 if method == "LCM" else 0.05)):
                for metric, value, better in (("mse_missing", mse, False), ("psnr_missing", -10 * math.log10(mse), True),
                                              ("ssim", 0.5, True)):  # fmt: skip
                    rows.append({"cell": cell, "image": image, "metric": metric, "value": value, "higher_is_better": better})
    (study / "cells.json").write_text(json.dumps(plan))
    (study / "cells.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (study / "results.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return study


def test_the_report_writes_its_tables_in_markdown_for_the_metrics_asked_in_their_order(tmp_path):
    study = _study_dir(tmp_path)
    page = write_report(study, metrics=["psnr_missing", "mse_missing"], samples=0)
    assert page == study / "report.html"
    tables = (study / "report.md").read_text(encoding="utf-8")
    assert tables.index("## psnr_missing (higher is better)") < tables.index("## mse_missing (lower is better)")
    assert "ssim" not in tables and 'id="means-ssim"' not in page.read_text(encoding="utf-8")
    # LCM: 0.01 and 0.03, mean 0.02, sample sd sqrt(2) * 0.01, se 0.01; GLO: 0.01 and 0.05, se 0.02
    assert "| solver | inpainting | x4 |" in tables
    assert "| LCM | 0.02 ± 0.01 (2) | 0.02 ± 0.01 (2) |" in tables
    assert "| GLO | 0.03 ± 0.02 (2) | 0.03 ± 0.02 (2) |" in tables
    lcm_psnr = (20 + -10 * math.log10(0.03)) / 2
    assert f"| LCM | {lcm_psnr:.4g} ± " in tables
    write_report(study, samples=0, out=tmp_path / "elsewhere.html")
    every = (tmp_path / "elsewhere.md").read_text(encoding="utf-8")
    assert "## ssim" in every and "## mse_missing" in every  # by default every metric


def test_the_command_takes_the_metrics_comma_separated_and_a_column_without_values_is_left_out(tmp_path, capsys):
    import argparse

    from invprob_studies.report import add_report_arguments, report_command

    study = _study_dir(tmp_path)
    rows = [json.loads(line) for line in (study / "results.jsonl").read_text().splitlines()]
    kept = [r for r in rows if not (r["metric"] == "mse_missing" and r["cell"].endswith("-x4"))]  # x4 has no hole
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    parser = argparse.ArgumentParser()
    add_report_arguments(parser)
    args = parser.parse_args([str(study), "--metrics", "mse_missing, ssim", "--samples", "0"])
    assert args.metrics == ["mse_missing", "ssim"]
    assert report_command(args) == 0 and "report: " in capsys.readouterr().out
    tables = (study / "report.md").read_text(encoding="utf-8")
    hole = tables[tables.index("## mse_missing"):tables.index("## ssim")]
    assert "Columns: operator; 1 column(s) without a value left out." in hole
    assert "| solver | inpainting |" in hole and "x4" not in hole
    assert "| solver | inpainting | x4 |" in tables[tables.index("## ssim"):]


def test_metrics_the_study_does_not_have_are_refused_with_a_suggestion(tmp_path):
    study = _study_dir(tmp_path)
    with pytest.raises(ReportError, match="'mse_mising' is not a metric of study 'tables'; did you mean 'mse_missing'"):
        write_report(study, metrics=["mse_mising"])
    with pytest.raises(ReportError, match="--metrics needs at least one metric name"):
        write_report(study, metrics=[])


def test_mse_missing_is_the_mse_over_the_missing_pixels_and_matches_psnr_missing():
    from invprob.default_plugins.image_quality import mse_in_region, psnr_in_region

    truth = torch.zeros(2, 1, 4, 4)
    reconstruction = truth.clone()
    reconstruction[0, 0, :2, :2] = 1.0  # inside the hole: 4 pixels off by 1/2 on [0, 1]
    reconstruction[1, 0, 3, 3] = 1.0  # outside it
    hole = torch.zeros(1, 1, 4, 4)
    hole[..., :2, :] = 1.0  # 8 missing pixels
    mse = mse_in_region(reconstruction, truth, hole)
    torch.testing.assert_close(mse, torch.tensor([4 * 0.25 / 8, 0.0], dtype=torch.float64))
    torch.testing.assert_close(psnr_in_region(reconstruction, truth, hole)[:1], -10 * torch.log10(mse[:1]))


BENCHMARK_STUDIES = {
    "lcm-table1.yaml": 18,
    "lcm-table1-procedures.yaml": 6,
    "ilo-table-dcgan64.yaml": 9,
    "ilo-classifier-radius.yaml": 9,
}


@pytest.mark.skipif(not (SHARED / "data" / "celeba64").is_dir(), reason="../shared absent")
@pytest.mark.parametrize("name", sorted(BENCHMARK_STUDIES))
def test_the_benchmark_studies_that_replaced_the_table_scripts_plan(name, installed_registry):
    study = load_study(STUDIES / name)
    assert len(study.cells) == BENCHMARK_STUDIES[name] and not study.warnings


@pytest.mark.skipif(not (SHARED / "data" / "celeba64").is_dir(), reason="../shared absent")
def test_the_cases_of_the_table_studies_give_each_method_its_own_setting_per_task(installed_registry):
    cells = {tuple(dict.fromkeys(c.labels.values())): c.validated for c in load_study(STUDIES / "ilo-table-dcgan64.yaml").cells}
    assert cells[("ILO", "denoising σ=25")].solver.params["sna"] == 25.0
    assert cells[("ILO, earlier variant", "denoising σ=25")].solver.params["sna"] == 25.0
    assert "sna" not in cells[("ILO", "super-resolution x4")].solver.params
    lcm = {tuple(dict.fromkeys(c.labels.values())): c.validated for c in load_study(STUDIES / "lcm-table1.yaml").cells}
    assert [s.type for s in lcm[("LCM", "centre inpainting 25x25")].losses] == ["band-mse", "lap-l1"]
    assert [s.type for s in lcm[("LCM", "colorization")].losses] == ["mse", "lap-l1"]
    assert lcm[("DCGAN + Yeh", "centre inpainting 25x25")].solver.type == "yeh"
    assert [s.type for s in lcm[("DCGAN + Yeh", "centre inpainting 25x25")].losses] == ["context"]
    assert lcm[("DCGAN + Yeh", "super-resolution x4")].solver.type == "csgm"


def test_a_numeric_axis_from_0_over_a_wide_range_is_plotted_on_a_symlog_scale(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    from invprob_studies.report import read_results
    from invprob_studies.report_html import plot_metric

    study = tmp_path / "radius"
    study.mkdir()
    radii = [0, 2, 20, 100]
    plan = [{"cell": f"r{r}", "axes": {"solver.params.radius_features": r}, "labels": {}} for r in radii]
    (study / "cells.json").write_text(json.dumps(plan))
    (study / "cells.jsonl").write_text("".join(json.dumps({"cell": f"r{r}", "status": "done"}) + "\n" for r in radii))
    (study / "results.jsonl").write_text("".join(
        json.dumps({"cell": f"r{r}", "image": "a", "metric": "measurement_loss", "value": 100.0 / (1 + r)}) + "\n" for r in radii
    ))  # fmt: skip
    scales = []
    monkeypatch.setattr(Axes, "set_xscale", lambda self, value, **kw: scales.append((value, kw)))
    results = read_results(study)
    axis = "solver.params.radius_features"
    assert plot_metric(results, results.cells, axis, [], None, "measurement_loss", False) is not None
    assert scales == [("symlog", {"linthresh": 2})]  # linear from 0 to the smallest positive radius, then log
    scales.clear()
    plot_metric(results, results.cells[1:], axis, [], None, "measurement_loss", False)
    assert scales == [("log", {})]
