"""Running a study: the cells not yet finished, in this process or as Ray tasks.

:func:`run_study` creates (or resumes) ``<out>/<name>/``, skips the cells recorded as done,
and runs the others with an engine:

- ``local``: one after another in this process; generators with the same spec are built once
  and shared (:class:`invprob.study.cells.SharedModels`).
- ``ray``: each cell a Ray task (one GPU per task where the cluster has GPUs, else one CPU),
  at most ``workers`` at a time; ``address`` connects to a running cluster, else a local
  instance is started with ``workers`` CPUs. Results come back as each task finishes
  (``ray.wait``) and are recorded at once. On a remote cluster the study folder must be on
  storage every node sees at the same path: the tasks write their run directories there.

Every finished or failed cell is recorded the moment it ends (:mod:`invprob.study.store`);
each cell is run under its lock, so two processes on one study share the work. SIGINT and
SIGTERM stop the study cleanly: a cell that was solving writes its best result (marked
``interrupted`` and not recorded as done, so a rerun redoes it), no further cell starts, and
the command exits 130/143.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from invprob.interrupts import Interrupted, Interrupts, signal_name
from invprob.registry import Registry, default_registry
from invprob.study.spec import Cell, Study
from invprob.study.store import SESSIONS_LOG, StudyDirectory, now

ENGINES = ("local", "ray")
RAY_MISSING = "the ray engine needs Ray, an optional dependency: pip install 'invprob-core[ray]'"


class StudyRunError(RuntimeError):
    """The study cannot run as asked (an unknown engine, Ray missing or unreachable)."""


@dataclass
class Outcome:
    """What one ``run_study`` call did."""

    directory: Path
    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    elsewhere: int = 0
    signal: int | None = None
    seconds: float = 0.0
    models: dict[str, Any] = field(default_factory=dict)

    @property
    def interrupted(self) -> bool:
        return self.signal is not None


class Progress:
    """The study's progress bar: cells done / running / failed out of the plan, with an ETA."""

    def __init__(self, total: int, already: int, *, show: bool = True):
        self.done, self.failed, self.running = already, 0, 0
        self.total = total
        self._bar = None
        if show:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=already, desc="cells", unit="cell", file=sys.stderr,
                             dynamic_ncols=True, smoothing=0)  # fmt: skip
        self._refresh()

    def started(self) -> None:
        self.running += 1
        self._refresh()

    def finished(self, cell: Cell, status: str, seconds: float, note: str = "") -> None:
        self.running = max(0, self.running - 1)
        if status == "done":
            self.done += 1
        elif status == "failed":
            self.failed += 1
        if self._bar is not None and status in ("done", "failed"):
            self._bar.update(1)
        self._refresh()
        line = f"[{self.done + self.failed}/{self.total}] {status} {cell.id} {cell.describe()} ({seconds:.1f} s){note}"
        self.say(line)

    def say(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(f"done {self.done}, running {self.running}, failed {self.failed}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@dataclass
class _Session:
    """One ``run_study`` call: the study, its directory, what happened, the bar, the signals."""

    study: Study
    store: StudyDirectory
    outcome: Outcome
    progress: Progress
    interrupts: Interrupts
    device: str | None


def study_directory(study: Study, out: str | Path) -> StudyDirectory:
    """The folder of ``study`` under ``out``."""
    return StudyDirectory(Path(out) / study.name)


def run_study(
    study: Study,
    out: str | Path = "studies",
    *,
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
    device: str | None = None,
    show_progress: bool = True,
    registry: Registry | None = None,
) -> Outcome:
    """Run every cell of ``study`` not yet done into ``<out>/<study name>/`` (module docstring)."""
    if engine not in ENGINES:
        raise StudyRunError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
    if workers is not None and workers < 1:
        raise StudyRunError("--workers must be at least 1")
    if engine == "local" and (address is not None or workers not in (None, 1)):
        raise StudyRunError("--address and --workers are for --engine ray; the local engine runs one cell at a time")
    if engine == "ray":
        _import_ray()  # before anything is written: a clear message when Ray is missing
    store = study_directory(study, out)
    store.create(study.text, [cell.plan_entry() for cell in study.cells])
    store.sweep_stale_locks()
    finished = store.finished()
    if finished:
        store.write_tables()  # a process killed after recording its last cell left the tables behind
    pending = [cell for cell in study.cells if cell.id not in finished]
    outcome = Outcome(store.path, len(study.cells), skipped=len(study.cells) - len(pending))
    started_at, started = now(), time.perf_counter()
    progress = Progress(len(study.cells), outcome.skipped, show=show_progress)
    if outcome.skipped:
        progress.say(f"{outcome.skipped} of {len(study.cells)} cells already done in {store.path}: skipped")
    interrupts = Interrupts("stop")
    interrupts.on_stop = lambda: progress.say(
        f"{signal_name(interrupts.signum or 2)}: stopping; the cells running now end early and are not recorded as done"
    )
    session = _Session(study, store, outcome, progress, interrupts, device)
    try:
        with interrupts.installed():
            while pending and outcome.signal is None and not interrupts.received:
                if engine == "local":
                    held = _run_local(session, pending, registry)
                else:
                    held = _run_ray(session, pending, address, workers)
                pending = _wait_for_holders(session, held)
    finally:
        progress.close()
        outcome.seconds = time.perf_counter() - started
        if interrupts.signum is not None and outcome.signal is None:
            outcome.signal = interrupts.signum
        store.append(SESSIONS_LOG, [{
            "engine": engine, "workers": workers, "address": address, "pid": os.getpid(), "started": started_at,
            "finished": now(), "seconds": round(outcome.seconds, 3), "cells": outcome.total, "skipped": outcome.skipped,
            "done": outcome.done, "failed": outcome.failed, "elsewhere": outcome.elsewhere,
            "signal": signal_name(outcome.signal) if outcome.signal else None, "models": outcome.models,
        }])  # fmt: skip
    return outcome


def _claim(session: _Session, cell: Cell) -> str:
    """Take ``cell``'s lock: ``"claimed"``; ``"held"`` when another live process holds it;
    ``"done"`` when another process has just done it (counted in ``outcome.elsewhere``)."""
    store = session.store
    if not store.lock(cell.id):
        return "held"
    if cell.id in store.finished():
        store.unlock(cell.id)
        session.outcome.elsewhere += 1
        return "done"
    return "claimed"


def _wait_for_holders(session: _Session, held: list[Cell]) -> list[Cell]:
    """Wait for the cells other processes hold: each is counted when its holder records it
    (done or failed); the cells whose holder is gone without recording them are returned, to
    be run here. Says once which cells it waits for, and who holds them. A signal ends it."""
    store, outcome, progress, interrupts = session.store, session.outcome, session.progress, session.interrupts
    if not held:
        return []
    before = store.cell_states()
    for cell in held:
        holder = store.lock_holder(cell.id) or {}
        progress.say(
            f"waiting for cell {cell.id} {cell.describe()}: another process holds it (pid {holder.get('pid')} on "
            f"{holder.get('host')} since {holder.get('since')}, {store.locks / (cell.id + '.lock')}); "
            "if that process is gone, delete the lock file"
        )
    waiting = list(held)
    while waiting and not interrupts.received:
        states = store.cell_states()
        freed, still = [], []
        for cell in waiting:
            line = states.get(cell.id)
            if line is not None and line != before.get(cell.id):  # its holder recorded it
                status = "done" if line.get("status") == "done" else "failed"
                if status == "done":
                    outcome.elsewhere += 1
                else:
                    outcome.failed += 1
                seconds = line.get("seconds") if isinstance(line.get("seconds"), (int, float)) else 0.0
                note = f": {line.get('error')}" if status == "failed" else ""
                progress.finished(cell, status, seconds, f" (by another process){note}")
            elif store.lock_holder(cell.id) is None:
                freed.append(cell)
            else:
                still.append(cell)
        if freed:
            progress.say(f"{len(freed)} cell(s) were left unfinished by the process that held them: running them here")
            return freed + still
        waiting = still
        if waiting:
            time.sleep(0.5)
    return []


def _record(session: _Session, cell: Cell, result: dict[str, Any]) -> None:
    """Record a cell that ended (done or failed); an interrupted one is left to a rerun."""
    outcome, progress = session.outcome, session.progress
    status = result["status"]
    if status == "interrupted":
        outcome.signal = outcome.signal or result.get("signal") or 2
        progress.finished(cell, "interrupted", result["seconds"], ": not recorded, a rerun redoes it")
        return
    extra = {"diverged": True} if result.get("metrics") and result["metrics"].get("diverged") else {}
    session.store.record_cell(
        session.study.name, cell.plan_entry(), status=status, error=result["error"], seconds=result["seconds"],
        metrics=result.get("metrics"), extra=extra,
    )  # fmt: skip
    if status == "done":
        outcome.done += 1
        mean = (result["metrics"] or {}).get("mean", {})
        shown = ", ".join(f"{k} {v:.4g}" for k, v in mean.items() if isinstance(v, float) and k != "measurement_loss")
        progress.finished(cell, status, result["seconds"], f": {shown}" if shown else "")
    else:
        outcome.failed += 1
        progress.finished(cell, status, result["seconds"], f": {result['error']}")


def _run_local(session: _Session, pending: list[Cell], registry: Registry | None) -> list[Cell]:
    """Run ``pending`` one after another; the cells another process holds are returned."""
    from invprob.study.cells import SharedModels, execute_cell

    store, outcome, progress, interrupts = session.store, session.outcome, session.progress, session.interrupts
    shared = SharedModels(registry if registry is not None else default_registry())
    held: list[Cell] = []
    try:
        for cell in pending:
            if interrupts.received or outcome.signal is not None:
                break
            claim = _claim(session, cell)
            if claim == "held":
                held.append(cell)
            if claim != "claimed":
                continue
            try:
                progress.started()
                try:
                    result = execute_cell(
                        cell.recipe, cell.base_dir, store.path, cell.id, registry=shared, device=session.device
                    )
                except Interrupted as exc:  # a signal while the cell was starting: nothing to keep
                    outcome.signal = exc.signum
                    progress.finished(cell, "interrupted", 0.0, ": not recorded, a rerun redoes it")
                    break
                with interrupts.in_phase("protect"):
                    _record(session, cell, result)
            finally:
                store.unlock(cell.id)
    finally:
        for name, value in shared.stats().items():  # summed over the engine's calls
            outcome.models[name] = round(outcome.models.get(name, 0) + value, 3)
        if shared.reused:
            progress.say(
                f"shared models: {shared.built} built ({shared.build_seconds:.1f} s), reused {shared.reused} times "
                f"(saved about {shared.saved_seconds:.1f} s of building)"
            )
    return held


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise StudyRunError(RAY_MISSING) from None
    return ray


def ray_task_options(ray: Any) -> dict[str, Any]:
    """One GPU per task where the cluster has GPUs, else one CPU."""
    return {"num_gpus": 1} if ray.cluster_resources().get("GPU", 0) >= 1 else {"num_cpus": 1}


def _ray_cell(recipe: dict[str, Any], base_dir: str, study_dir: str, cell: str, device: str | None) -> dict[str, Any]:
    """A cell on a Ray worker: its process keeps its shared models from one task to the next."""
    import torch

    from invprob.study.cells import SharedModels, execute_cell

    global _WORKER_MODELS
    if _WORKER_MODELS is None:
        _WORKER_MODELS = SharedModels(default_registry())
    if os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(max(1, int(os.environ["OMP_NUM_THREADS"])))
    return execute_cell(recipe, base_dir, study_dir, cell, registry=_WORKER_MODELS, device=device)


_WORKER_MODELS: Any = None


def _run_ray(session: _Session, pending: list[Cell], address: str | None, workers: int | None) -> list[Cell]:
    """Run ``pending`` as Ray tasks; the cells another process holds are returned."""
    ray = _import_ray()
    started_here = False
    if not ray.is_initialized():
        try:
            if address is not None:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - unreachable cluster, bad address: one line
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise StudyRunError(f"cannot start or reach {where}: {type(exc).__name__}: {exc}") from None
        started_here = True
    try:
        with session.interrupts.installed():  # again: ray.init installs its own SIGTERM handler
            return _ray_loop(ray, session, pending, workers)
    finally:
        if started_here:
            ray.shutdown()


def _ray_loop(ray: Any, session: _Session, pending: list[Cell], workers: int | None) -> list[Cell]:
    """Keep ``workers`` cells running (each under its lock), record each as it finishes."""
    store, outcome, progress, interrupts = session.store, session.outcome, session.progress, session.interrupts
    options = ray_task_options(ray)
    slots = workers or max(1, int(ray.cluster_resources().get("GPU" if "num_gpus" in options else "CPU", 1)))
    remote = ray.remote(max_retries=1)(_ray_cell).options(**options)
    queue = list(pending)
    running: dict[Any, Cell] = {}
    held: list[Cell] = []
    try:
        while (queue or running) and outcome.signal is None:
            while queue and len(running) < slots and not interrupts.received:
                cell = queue.pop(0)
                claim = _claim(session, cell)
                if claim == "held":
                    held.append(cell)
                if claim != "claimed":
                    continue
                ref = remote.remote(cell.recipe, str(cell.base_dir), str(store.path.resolve()), cell.id, session.device)
                running[ref] = cell
                progress.started()
            if interrupts.received:
                break
            if not running:
                continue
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            for ref in ready:
                cell = running.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a lost worker or node: the cell failed, a rerun retries it
                    result = {"status": "failed", "seconds": 0.0, "metrics": None,
                              "error": " ".join(f"the Ray task failed: {type(exc).__name__}: {exc}".split())[:2000]}  # fmt: skip
                try:
                    with interrupts.in_phase("protect"):
                        _record(session, cell, result)
                finally:
                    store.unlock(cell.id)
    finally:
        for ref, cell in running.items():  # stopped by a signal (or an error): cancel what still runs
            ray.cancel(ref, force=True)
            store.unlock(cell.id)
            progress.finished(cell, "cancelled", 0.0, ": not recorded, a rerun redoes it")
    return held
