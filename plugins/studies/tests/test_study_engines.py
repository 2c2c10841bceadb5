"""Engines are a registered kind: a plugin adds one through ``invprob_register_study_engines``."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from invprob import hookimpl
from invprob.registry import Registry
from invprob_studies import load_study, run_study
from invprob_studies.cells import execute_cell
from invprob_studies.engines import study_engines
from invprob_studies.report import write_report
from invprob_studies.runner import StudyRunError

STUDY = """\
name: toy-engine-study
recipe: recipe.yaml
overrides: {solver.params.steps: 3, solver.params.restarts: 1, data.samples: 2, outputs.gif: false,
            outputs.latents: false, metrics: [psnr, mse]}
axes:
  - vary: {seed: [1, 2, 3]}
"""


class LastFirstEngine:
    """A toy engine plugin: the cells last first, in this process, at most ``--limit`` of them."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.asked = 0

    @hookimpl
    def invprob_register_study_engines(self, registry) -> None:
        self.asked += 1
        registry.add("last-first", self.run, help="the cells last first", configure=self.configure, check=self.check)

    def configure(self, group: Any) -> None:
        group.add_argument("--limit", type=int, default=None, help="run at most this many cells")

    def check(self, options: Mapping[str, Any]) -> None:
        if options.get("limit") is not None and options["limit"] < 1:
            raise ValueError("--limit must be at least 1")

    def run(self, session, cells, options) -> None:
        for cell in list(reversed(cells))[: options.get("limit")]:
            if session.stopping or session.claim(cell) != "claimed":
                continue
            try:
                session.started(cell)
                result = execute_cell(cell.recipe, cell.base_dir, session.store.path, cell.id,
                                      registry=session.registry, device=session.device)  # fmt: skip
                session.record(cell, result)
                self.ran.append(cell.id)
            finally:
                session.store.unlock(cell.id)


class BrokenEnginePlugin:
    @hookimpl
    def invprob_register_study_engines(self, registry) -> None:
        registry.add("half-registered", lambda session, cells, options: None, help="never kept")
        raise RuntimeError("the engine plugin breaks")


@pytest.fixture
def engine(toy_registry: Registry) -> LastFirstEngine:
    """The toy engine, registered as a plugin of its own distribution on the test's registry."""
    plugin = LastFirstEngine()
    assert toy_registry.register_plugin(plugin, distribution="invprob-toy-engine", version="0.1")
    return plugin


@pytest.fixture
def study_file(tmp_path: Path, toy_recipe: Path) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(STUDY)
    return path


def test_a_plugin_engine_runs_a_study_whose_cells_are_recorded_and_reported(tmp_path, study_file, toy_registry, engine):
    engines = study_engines(toy_registry)
    assert list(engines.by_name) == ["last-first", "local", "ray"]
    assert engines.get("last-first").distribution == "invprob-toy-engine" and engines.get("last-first").options() == ["limit"]
    study = load_study(study_file, registry=toy_registry)
    outcome = run_study(study, tmp_path / "out", engine="last-first", limit=2, show_progress=False, registry=toy_registry)
    assert (outcome.done, outcome.failed, outcome.total) == (2, 0, 3)
    assert engine.ran == [study.cells[2].id, study.cells[1].id]
    directory = tmp_path / "out" / "toy-engine-study"
    cells = [json.loads(line) for line in (directory / "cells.jsonl").read_text().splitlines()]
    assert [c["cell"] for c in cells] == engine.ran and all(c["status"] == "done" for c in cells)
    session = json.loads((directory / "sessions.jsonl").read_text().splitlines()[-1])
    assert session["engine"] == "last-first" and session["options"] == {"limit": 2}

    again = run_study(load_study(study_file, registry=toy_registry), tmp_path / "out", engine="last-first",
                      show_progress=False, registry=toy_registry)  # fmt: skip
    assert (again.done, again.skipped) == (1, 2) and engine.ran[-1] == study.cells[0].id
    page = write_report(directory).read_text()
    assert all(cell.id in page for cell in study.cells) and "psnr" in page


def test_an_engine_refuses_options_it_does_not_declare_and_checks_its_own(tmp_path, study_file, toy_registry, engine):
    study = load_study(study_file, registry=toy_registry)
    with pytest.raises(StudyRunError, match="--limit is an option of engine 'last-first', not of engine 'ray'"):
        run_study(study, tmp_path / "out", engine="ray", limit=1, show_progress=False, registry=toy_registry)
    with pytest.raises(StudyRunError, match="--limit must be at least 1"):
        run_study(study, tmp_path / "out", engine="last-first", limit=0, show_progress=False, registry=toy_registry)
    with pytest.raises(StudyRunError, match=r"unknown engine 'last-frist'; did you mean 'last-first'\?"):
        run_study(study, tmp_path / "out", engine="last-frist", show_progress=False, registry=toy_registry)
    assert not (tmp_path / "out").exists()


def test_the_command_line_offers_a_plugin_engine_and_its_options(toy_registry, engine, monkeypatch, swap_default_registry):

    from invprob_studies.cli import configure_run

    swap_default_registry(toy_registry)  # the registry `invprob study run` uses
    parser = argparse.ArgumentParser(prog="invprob study run")
    configure_run(parser)
    help_text = parser.format_help()
    assert "registered: last-first, local, ray" in help_text
    assert "options of the last-first engine [invprob-toy-engine]" in help_text and "--limit" in help_text
    args = parser.parse_args(["study.yaml", "--engine", "last-first", "--limit", "2"])
    assert (args.engine, args.limit, args.workers) == ("last-first", 2, None)


def test_the_study_run_command_asks_the_engine_plugins_once(tmp_path, study_file, toy_registry, engine,
                                                           swap_default_registry, capsys):
    import invprob

    swap_default_registry(toy_registry)
    command = ["study", "run", str(study_file), "--out", str(tmp_path / "out"), "--engine", "last-first", "--quiet"]
    assert invprob.main([*command, "--limit", "1"]) == 0
    assert engine.ran == [load_study(study_file, registry=toy_registry).cells[2].id]
    assert engine.asked == 1  # the parser's engines are the ones the command runs with
    assert "1 done, 0 failed" in capsys.readouterr().out


def test_an_engine_plugin_that_raises_registers_nothing_and_is_recorded_once(toy_registry):
    toy_registry.register_plugin(BrokenEnginePlugin(), distribution="invprob-broken-engine")
    for _ in range(3):  # asked again (a notebook, a second study): one failure, recorded once
        engines = study_engines(toy_registry)
    assert "half-registered" not in engines.by_name and {"local", "ray"} <= set(engines.by_name)
    (failure,) = [f for f in toy_registry.failures if f.distribution == "invprob-broken-engine"]
    assert failure.error == "RuntimeError: the engine plugin breaks"


def test_two_distributions_registering_one_engine_name_leave_it_out_with_a_warning(toy_registry, engine):
    toy_registry.register_plugin(LastFirstEngine(), distribution="invprob-other-engine")
    engines = study_engines(toy_registry)
    assert "last-first" not in engines.by_name
    assert engines.warnings == (
        "study engine 'last-first' is registered by both invprob-toy-engine and invprob-other-engine; it is left out",
    )


def test_an_optional_engine_hook_loads_where_no_distribution_declares_it():
    class OptionalEngine:
        @hookimpl(optionalhook=True)
        def invprob_register_study_engines(self, registry) -> None:
            raise AssertionError("never called: nothing declares the hook here")

    class RequiredEngine:
        @hookimpl
        def invprob_register_study_engines(self, registry) -> None:
            raise AssertionError("never called")

    bare = Registry()  # no entry points loaded: no distribution declared the engines hook
    assert bare.register_plugin(OptionalEngine(), distribution="optional-engine")
    assert not bare.register_plugin(RequiredEngine(), distribution="required-engine")
    assert "unknown hook 'invprob_register_study_engines'" in bare.failures[0].error


def test_the_readmes_engine_example_runs_as_written(tmp_path, study_file, toy_registry):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "invprob_register_study_engines" in b]
    namespace: dict[str, Any] = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the documentation's own code
    plugin = SimpleNamespace(invprob_register_study_engines=namespace["invprob_register_study_engines"])
    assert toy_registry.register_plugin(plugin, distribution="invprob-readme-engine")
    study = load_study(study_file, registry=toy_registry)
    outcome = run_study(study, tmp_path / "out", engine="last-first", show_progress=False, registry=toy_registry)
    assert (outcome.done, outcome.failed) == (3, 0)
    cells = [json.loads(line)["cell"] for line in (tmp_path / "out" / "toy-engine-study" / "cells.jsonl").read_text().splitlines()]
    assert cells == [cell.id for cell in reversed(study.cells)]
