"""Running studies: the study directory, resume, failure isolation, locks, signals, Ray."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from invprob_studies import StudyDirectory, load_study, run_study
from invprob_studies.ray_engine import ray_task_options
from invprob_studies.runner import StudyRunError



QUICK = {"solver.params.steps": 3, "solver.params.restarts": 1, "data.samples": 2, "outputs.gif": False,
         "outputs.latents": False, "metrics": ["psnr", "mse"]}  # fmt: skip


def write_study(tmp_path: Path, axes: str, **overrides) -> Path:
    """A study of the toy recipe (the ``toy_recipe`` fixture writes it beside), made quick."""
    path = tmp_path / "study.yaml"
    given = json.dumps({**QUICK, **{k.replace("__", "."): v for k, v in overrides.items()}})
    path.write_text(f"name: toy-study\nrecipe: recipe.yaml\noverrides: {given}\naxes:\n{axes}")
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def invoke(command: list[str], args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command + args, env=env, capture_output=True, text=True, timeout=300, **kwargs)


def test_a_study_writes_its_directory_and_a_rerun_skips_finished_cells(tmp_path, toy_recipe, toy_registry):
    path = write_study(tmp_path, """\
  - vary: {seed: [1, 2]}
    labels: {seed: [one, two]}
  - vary: {solver.params.lr: [0.01, 0.1]}
""")
    study = load_study(path, registry=toy_registry)
    outcome = run_study(study, tmp_path / "out", show_progress=False, registry=toy_registry)
    directory = tmp_path / "out" / "toy-study"
    assert (outcome.done, outcome.failed, outcome.skipped) == (4, 0, 0)
    assert (directory / "study.yaml").read_text() == path.read_text()
    plan = json.loads((directory / "cells.json").read_text())
    assert [c["cell"] for c in plan] == [c.id for c in study.cells]
    assert plan[0]["labels"] == {"seed": "one", "solver.params.lr": "0.01"}
    cells = lines(directory / "cells.jsonl")
    assert {c["cell"] for c in cells} == {c.id for c in study.cells}
    assert all(c["status"] == "done" and c["error"] is None and c["run_dir"] == f"runs/{c['cell']}" for c in cells)
    for cell in cells:
        status = json.loads((directory / cell["run_dir"] / "status.json").read_text())
        assert status["status"] == "complete"
    rows = lines(directory / "results.jsonl")
    assert len(rows) == 4 * 2 * 5  # cells x images x (psnr, mse, their psnr_missing, mse_missing over the hole, measurement_loss)
    assert {r["metric"] for r in rows} == {"psnr", "psnr_missing", "mse", "mse_missing", "measurement_loss"}
    assert {r["image"] for r in rows} == {"sample0000", "sample0001"}
    assert all(isinstance(r["value"], float) and r["study"] == "toy-study" for r in rows)
    with open(directory / "results.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == len(rows)
    assert {"axis:seed", "axis:solver.params.lr", "label:seed"} <= set(table[0])
    assert outcome.models["built"] == 1 and outcome.models["reused"] == 3  # one toy generator, shared
    environment = json.loads((directory / cells[-1]["run_dir"] / "environment.json").read_text())
    assert environment  # each run keeps its own record

    again = run_study(load_study(path, registry=toy_registry), tmp_path / "out", show_progress=False, registry=toy_registry)
    assert (again.done, again.skipped) == (0, 4)
    assert len(lines(directory / "cells.jsonl")) == 4 and len(lines(directory / "results.jsonl")) == len(rows)
    sessions = lines(directory / "sessions.jsonl")
    assert [s["done"] for s in sessions] == [4, 0] and sessions[0]["engine"] == "local"


def test_results_are_also_written_as_parquet_when_pandas_and_pyarrow_are_installed(tmp_path, toy_recipe, toy_registry):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    path = write_study(tmp_path, "  - vary: {seed: [1, 2]}\n")
    run_study(load_study(path, registry=toy_registry), tmp_path / "out", show_progress=False, registry=toy_registry)
    table = pd.read_parquet(tmp_path / "out" / "toy-study" / "results.parquet")
    assert len(table) == 2 * 2 * 5 and set(table["axis:seed"]) == {1, 2}


def test_a_failing_cell_is_recorded_and_the_others_go_on_then_a_rerun_retries_it(tmp_path, toy_recipe, toy_registry):
    path = write_study(tmp_path, """\
  - vary: {solver.params.raise_error: [false, true, false]}
""")
    outcome = run_study(load_study(path, registry=toy_registry), tmp_path / "out", show_progress=False, registry=toy_registry)
    assert (outcome.done, outcome.failed) == (2, 1)
    directory = tmp_path / "out" / "toy-study"
    failed = [c for c in lines(directory / "cells.jsonl") if c["status"] == "failed"]
    assert len(failed) == 1 and "the toy solver fails on purpose" in failed[0]["error"]
    assert json.loads((directory / failed[0]["run_dir"] / "status.json").read_text())["status"] == "failed"
    assert {r["cell"] for r in lines(directory / "results.jsonl")} == {
        c["cell"] for c in lines(directory / "cells.jsonl") if c["status"] == "done"
    }
    again = run_study(load_study(path, registry=toy_registry), tmp_path / "out", show_progress=False, registry=toy_registry)
    assert (again.done, again.failed, again.skipped) == (0, 1, 2)  # the failed cell is tried again
    assert (directory / "runs" / f"{failed[0]['cell']}.attempt-1" / "status.json").is_file()  # the first try is kept


@pytest.mark.slow  # command-line subprocesses: a few seconds each to start
def test_a_study_killed_with_sigkill_resumes_without_rerunning_finished_cells(tmp_path, toy_recipe, invprob_command, invprob_cli, toy_env):
    path = write_study(tmp_path, """\
  - vary: {seed: [1, 2, 3, 4, 5, 6]}
""", solver__params__steps=8, solver__params__sleep_per_step=0.05)
    out = tmp_path / "out"
    directory = out / "toy-study"
    process = subprocess.Popen([*invprob_command, "study", "run", str(path), "--out", str(out), "--quiet"],
                               env=toy_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = lines(directory / "cells.jsonl") if (directory / "cells.jsonl").exists() else []
        if len(done) >= 2:
            break
        time.sleep(0.05)
    process.kill()  # SIGKILL: no handler runs
    process.wait()
    before = {c["cell"]: c["finished"] for c in lines(directory / "cells.jsonl")}
    assert 2 <= len(before) < 6
    assert list((directory / "locks").glob("*.lock"))  # the dead process's lock is left behind
    result = invprob_cli(["study", "run", str(path), "--out", str(out), "--quiet"], toy_env)  # resuming needs no fresh process
    assert result.returncode == 0, result.stderr
    after = lines(directory / "cells.jsonl")
    assert len(after) == 6 and len({c["cell"] for c in after}) == 6  # each cell recorded once
    assert {c["cell"]: c["finished"] for c in after if c["cell"] in before} == before  # not rerun
    assert f"{len(before)} already done" in result.stdout
    assert not list((directory / "locks").glob("*.lock"))
    rows = lines(directory / "results.jsonl")
    assert len(rows) == len({(r["cell"], r["image"], r["metric"]) for r in rows}) == 6 * 2 * 5  # each row once


@pytest.mark.slow  # command-line subprocesses: a few seconds each to start
def test_two_processes_on_one_study_never_run_the_same_cell(tmp_path, toy_recipe, invprob_command, toy_env):
    path = write_study(tmp_path, """\
  - vary: {seed: [1, 2, 3, 4, 5, 6]}
""", solver__params__steps=4, solver__params__sleep_per_step=0.05)
    out = tmp_path / "out"
    args = [*invprob_command, "study", "run", str(path), "--out", str(out), "--quiet"]
    first = subprocess.Popen(args, env=toy_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(args, env=toy_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == second.returncode == 0, results
    cells = lines(out / "toy-study" / "cells.jsonl")
    assert len(cells) == 6 and len({c["cell"] for c in cells}) == 6
    assert not list((out / "toy-study" / "runs").glob("*.attempt-*"))  # no cell was started twice


def test_a_lock_of_a_live_process_is_respected_and_one_of_a_dead_process_reclaimed(tmp_path):
    store = StudyDirectory(tmp_path / "s")
    store.create("name: s\n", [])
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (store.locks / "0000-aaaa.lock").write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname()}))
        assert not store.lock("0000-aaaa")
        assert store.locked_elsewhere() == {"0000-aaaa"}
    finally:
        sleeper.kill()
        sleeper.wait()
    (store.locks / "0001-bbbb.lock").write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname()}))
    assert store.sweep_stale_locks() == ["0000-aaaa", "0001-bbbb"]  # what a killed run left behind
    (store.locks / "0000-aaaa.lock").write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname()}))
    assert store.lock("0000-aaaa")  # its holder is dead: reclaimed
    assert json.loads((store.locks / "0000-aaaa.lock").read_text())["pid"] == os.getpid()
    store.unlock("0000-aaaa")
    assert not (store.locks / "0000-aaaa.lock").exists()


def test_a_torn_last_line_is_skipped_and_never_joined_to_the_next(tmp_path):
    store = StudyDirectory(tmp_path / "s")
    store.create("name: s\n", [])
    (store.path / "cells.jsonl").write_text('{"cell": "a", "status": "done"}\n{"cell": "b", "sta')
    store.append("cells.jsonl", [{"cell": "c", "status": "done"}])
    assert store.finished() == {"a", "c"}


@pytest.mark.slow  # command-line subprocesses: a few seconds each to start
def test_sigint_stops_the_study_cleanly_and_the_same_command_resumes(tmp_path, toy_recipe, invprob_command, invprob_cli, toy_env):
    path = write_study(tmp_path, """\
  - vary: {seed: [1, 2, 3, 4]}
""", solver__params__steps=40, solver__params__sleep_per_step=0.05)
    out = tmp_path / "out"
    directory = out / "toy-study"
    args = [*invprob_command, "study", "run", str(path), "--out", str(out), "--quiet"]
    process = subprocess.Popen(args, env=toy_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (directory / "cells.jsonl").exists():
        time.sleep(0.05)
    time.sleep(0.5)  # inside the second cell's solve
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted (SIGINT)" in stdout and "run the same command to resume" in stdout
    recorded = lines(directory / "cells.jsonl")
    assert 1 <= len(recorded) < 4 and all(c["status"] == "done" for c in recorded)
    assert not list((directory / "locks").glob("*.lock"))
    result = invprob_cli(["study", "run", str(path), "--out", str(out), "--quiet"], toy_env)  # resuming needs no fresh process
    assert result.returncode == 0, result.stderr
    assert len({c["cell"] for c in lines(directory / "cells.jsonl")}) == 4


def test_the_ray_engine_without_ray_says_how_to_install_it(tmp_path, toy_recipe, toy_registry, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    path = write_study(tmp_path, "  - vary: {seed: [1]}\n")
    with pytest.raises(StudyRunError, match=r"pip install 'invprob-studies\[ray\]'"):
        run_study(load_study(path, registry=toy_registry), tmp_path / "out", engine="ray", show_progress=False)
    assert not (tmp_path / "out").exists()  # nothing written


def test_engine_options_that_do_not_fit_are_refused(tmp_path, toy_recipe, toy_registry):
    study = load_study(write_study(tmp_path, "  - vary: {seed: [1]}\n"), registry=toy_registry)
    with pytest.raises(StudyRunError, match="--address and --workers are options of engine 'ray', not of engine 'local'"):
        run_study(study, tmp_path / "out", workers=2, address="auto", show_progress=False, registry=toy_registry)
    with pytest.raises(StudyRunError, match="--workers must be at least 1"):
        run_study(study, tmp_path / "out", engine="ray", workers=0, show_progress=False, registry=toy_registry)
    with pytest.raises(StudyRunError, match=r"unknown engine 'rya'; did you mean 'ray'\? \(registered engines: local, ray\)"):
        run_study(study, tmp_path / "out", engine="rya", show_progress=False, registry=toy_registry)
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_ray_tasks_take_one_gpu_each_where_the_cluster_has_gpus_else_one_cpu():
    class Cluster:
        def __init__(self, resources):
            self.resources = resources

        def cluster_resources(self):
            return self.resources

    assert ray_task_options(Cluster({"CPU": 16.0, "GPU": 2.0})) == {"num_gpus": 1}
    assert ray_task_options(Cluster({"CPU": 2.0})) == {"num_cpus": 1}


@pytest.mark.slow
def test_the_ray_engine_runs_a_study_on_a_local_instance_with_failures_isolated(tmp_path, toy_recipe, invprob_command, toy_env):
    pytest.importorskip("ray")
    path = write_study(tmp_path, """\
  - vary: {seed: [1, 2, 3]}
  - vary: {solver.params.raise_error: [false, true]}
""")
    out = tmp_path / "out"
    env = {**toy_env, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    args = ["study", "run", str(path), "--out", str(out), "--quiet", "--engine", "ray", "--workers", "2"]
    result = invoke(invprob_command, args, env)
    assert result.returncode == 1, result.stderr  # the raise_error cells failed, the others ran
    directory = out / "toy-study"
    cells = lines(directory / "cells.jsonl")
    assert sorted(c["status"] for c in cells) == ["done"] * 3 + ["failed"] * 3
    assert all("the toy solver fails on purpose" in c["error"] for c in cells if c["status"] == "failed")
    assert len(lines(directory / "results.jsonl")) == 3 * 2 * 5
    for cell in (c for c in cells if c["status"] == "done"):
        assert json.loads((directory / cell["run_dir"] / "status.json").read_text())["status"] == "complete"
    assert lines(directory / "sessions.jsonl")[0]["engine"] == "ray"


# -- locks name a process, not a pid (issue 19) --------------------------------------------


def _lock(store: StudyDirectory, cell: str, **holder) -> None:
    from invprob.liveness import this_process

    (store.locks / f"{cell}.lock").write_text(json.dumps({**this_process(), **holder}))


def test_a_lock_whose_pid_now_runs_another_process_or_this_one_is_reclaimed(tmp_path):
    from invprob.liveness import process_start

    store = StudyDirectory(tmp_path / "s")
    store.create("name: s\n", [])
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _lock(store, "0000-live", pid=sleeper.pid, process_start=process_start(sleeper.pid))
        assert not store.lock("0000-live")  # its holder runs: respected
        assert store.lock_holder("0000-live")["pid"] == sleeper.pid
        _lock(store, "0001-reused", pid=sleeper.pid, process_start="1")  # the pid went to another process
        _lock(store, "0002-restart", process_start="1")  # this pid, in an earlier life (a container restart)
        _lock(store, "0003-reboot", pid=sleeper.pid, process_start=process_start(sleeper.pid), boot_id="another boot")
        assert store.locked_elsewhere() == {"0000-live"}
        assert store.sweep_stale_locks() == ["0001-reused", "0002-restart", "0003-reboot"]
        _lock(store, "0002-restart", process_start="1")
        assert store.lock("0002-restart")  # was skipped forever when the pid alone named the holder
    finally:
        sleeper.kill()
        sleeper.wait()
    assert store.lock("0000-live")  # its holder is gone


def test_a_cell_held_by_another_process_is_waited_for_not_skipped(tmp_path, toy_recipe, toy_registry, monkeypatch, capsys):
    from invprob.liveness import process_start
    from invprob_studies import runner

    path = write_study(tmp_path, "  - vary: {seed: [1, 2, 3]}\n")
    study = load_study(path, registry=toy_registry)
    store = StudyDirectory(tmp_path / "out" / "toy-study")
    store.create(study.text, [cell.plan_entry() for cell in study.cells])
    holders = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(2)]
    recorded, given_up = study.cells[0], study.cells[2]
    for cell, holder in zip((recorded, given_up), holders):
        _lock(store, cell.id, pid=holder.pid, process_start=process_start(holder.pid))
    sleep = time.sleep

    def meanwhile(seconds):  # while this process waits: one holder records its cell, the other dies
        if sys._getframe(1).f_code.co_name != "_wait_for_holders":
            return sleep(seconds)
        if holders[1].poll() is None:
            store.record_cell(study.name, recorded.plan_entry(), status="done", error=None, seconds=1.0, metrics={"images": []})
            (store.locks / f"{recorded.id}.lock").unlink()
            holders[1].kill()
            holders[1].wait()
        return sleep(0.01)

    monkeypatch.setattr(runner.time, "sleep", meanwhile)
    try:
        outcome = run_study(study, tmp_path / "out", show_progress=False, registry=toy_registry)
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()
    out = capsys.readouterr().out
    assert f"waiting for cell {recorded.id}" in out and f"pid {holders[0].pid}" in out
    assert f"waiting for cell {given_up.id}" in out and "running them here" in out
    assert (outcome.done, outcome.elsewhere, outcome.failed) == (2, 1, 0)
    assert store.finished() == {cell.id for cell in study.cells}


# -- results: one append per cell (issue 19) -----------------------------------------------


def test_a_cell_is_recorded_whole_or_not_at_all_wherever_its_process_is_killed(tmp_path, monkeypatch):
    from invprob_studies import store as store_module

    metrics = {"images": [{"name": "a", "psnr": 20.0, "mse": 0.01}, {"name": "b", "psnr": 21.0, "mse": 0.02}]}
    cell = {"cell": "0000-aaaa", "axes": {"seed": 1}, "labels": {"seed": "1"}}
    write = os.write

    class Killed(BaseException):
        pass

    for writes_before_the_kill in range(3):
        store = StudyDirectory(tmp_path / f"s{writes_before_the_kill}")
        store.create("name: s\n", [cell])
        count = [0]

        def dying_write(fd, data, allowed=writes_before_the_kill):
            count[0] += 1
            if count[0] > allowed:
                raise Killed
            return write(fd, data)

        monkeypatch.setattr(store_module.os, "write", dying_write)
        with contextlib.suppress(Killed):
            store.record_cell("s", cell, status="done", error=None, seconds=1.0, metrics=metrics)
        monkeypatch.setattr(store_module.os, "write", write)
        store.write_tables()
        assert store.finished() in (set(), {"0000-aaaa"})
        assert len(lines(store.path / "results.jsonl")) == (4 if store.finished() else 0)
        store.record_cell("s", cell, status="done", error=None, seconds=1.0, metrics=metrics)  # the rerun
        rows = lines(store.path / "results.jsonl")
        assert len(rows) == len({(r["cell"], r["image"], r["metric"]) for r in rows}) == 4
        assert rows[0] == {"study": "s", "cell": "0000-aaaa", "axes": {"seed": 1}, "labels": {"seed": "1"}, "image": "a",
                           "metric": "psnr", "value": 20.0, "run_dir": "runs/0000-aaaa"}  # fmt: skip


def test_rows_an_older_version_appended_twice_are_read_once(tmp_path):
    store = StudyDirectory(tmp_path / "s")
    store.create("name: s\n", [])
    row = {"study": "s", "cell": "0000-aaaa", "axes": {}, "labels": {}, "image": "a", "metric": "psnr", "run_dir": "runs/0000-aaaa"}
    store.append("results.jsonl", [{**row, "value": 1.0}, {**row, "value": 2.0}, {**row, "cell": "0001-bbbb", "value": 3.0}])
    store.append("cells.jsonl", [{"cell": "0000-aaaa", "status": "done"}, {"cell": "0001-bbbb", "status": "failed"}])
    assert store.results() == [{**row, "value": 2.0}]  # the last row of a done cell
    store.write_tables()
    assert lines(store.path / "results.jsonl") == [{**row, "value": 2.0}]


# -- a signal while a cell starts (issue 19) -----------------------------------------------


@pytest.mark.slow  # a command-line subprocess
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_a_cell_starts_starts_no_cell(tmp_path, toy_recipe, toy_env, signum):
    path = write_study(tmp_path, "  - vary: {seed: [1, 2, 3]}\n")
    out = tmp_path / "out"
    code = (  # the signal arrives while the first cell starts, deterministically: from its start-up itself
        "import os, sys\n"
        "from invprob_studies.store import StudyDirectory\n"
        "free = StudyDirectory.free_run_dir\n"
        "def signalled(self, cell):\n"
        f"    os.kill(os.getpid(), {int(signum)})\n"
        "    return free(self, cell)\n"
        "StudyDirectory.free_run_dir = signalled\n"
        "from invprob import main\n"  # the `invprob` command, through the public façade
        f"sys.exit(main(['study', 'run', {str(path)!r}, '--out', {str(out)!r}, '--quiet']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=toy_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 128 + signum, result.stderr
    assert f"interrupted ({signal.Signals(signum).name})" in result.stdout
    directory = out / "toy-study"
    assert not (directory / "cells.jsonl").exists() and not list((directory / "runs").iterdir())
    assert not list((directory / "locks").glob("*.lock"))
