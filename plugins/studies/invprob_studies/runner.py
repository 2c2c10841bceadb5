"""Running a study: the cells not yet finished, with a registered engine.

:func:`run_study` creates (or resumes) ``<out>/<name>/``, skips the cells recorded as done,
and hands the others to an engine (:mod:`invprob_studies.engines`): ``local`` runs them one
after another in this process, ``ray`` as Ray tasks (:mod:`invprob_studies.ray_engine`); a
plugin may add others. The engine works through a :class:`Session`: it claims a cell (its
lock), runs it (:func:`invprob_studies.cells.execute_cell`) and records its result.

Every finished or failed cell is recorded the moment it ends (:mod:`invprob_studies.store`);
each cell is run under its lock, so two processes on one study share the work: the cells
another process holds are waited for after the engine returns, and run here if their holder
goes away without recording them. SIGINT and SIGTERM stop the study cleanly: a cell that was
solving writes its best result (marked ``interrupted`` and not recorded as done, so a rerun
redoes it), no further cell starts, and the command exits 130/143.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from invprob.interrupts import Interrupts, signal_name
from invprob.registry import Registry, default_registry

from invprob_studies.engines import EngineError, Engines, engine_options, study_engines
from invprob_studies.spec import Cell, Study
from invprob_studies.store import SESSIONS_LOG, StudyDirectory, now


class StudyRunError(RuntimeError):
    """The study cannot run as asked (an unknown engine, options that do not fit it, Ray
    missing or unreachable)."""


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
class Session:
    """One ``run_study`` call, as an engine sees it: the study, its directory, what happened,
    the progress bar, the signals, the device and registry the cells use.

    An engine claims each cell (:meth:`claim`), says when it starts one (:meth:`started`),
    records each result (:meth:`record`) and releases the cell's lock
    (``store.unlock(cell.id)``); it stops starting cells once :attr:`stopping`.
    """

    study: Study
    store: StudyDirectory
    outcome: Outcome
    progress: Progress
    interrupts: Interrupts
    device: str | None
    registry: Registry
    held: list[Cell] = field(default_factory=list)
    """The cells another live process holds, met by :meth:`claim` (waited for after the engine)."""

    @property
    def stopping(self) -> bool:
        """A signal asked the study to stop: start no further cell."""
        return self.interrupts.received or self.outcome.signal is not None

    def claim(self, cell: Cell) -> str:
        """Take ``cell``'s lock: ``"claimed"`` (run it, then unlock it); ``"held"`` when another
        live process holds it (kept in :attr:`held`); ``"done"`` when another process has just
        done it (counted in ``outcome.elsewhere``)."""
        store = self.store
        if not store.lock(cell.id):
            self.held.append(cell)
            return "held"
        if cell.id in store.finished():
            store.unlock(cell.id)
            self.outcome.elsewhere += 1
            return "done"
        return "claimed"

    def started(self, cell: Cell) -> None:
        """``cell`` starts running (the progress bar counts it)."""
        self.progress.started()

    def record(self, cell: Cell, result: dict[str, Any]) -> None:
        """Record a cell that ended (``result`` as :func:`invprob_studies.cells.execute_cell`
        returns it), safe from signals while it is written; an interrupted one is left to a
        rerun and stops the study."""
        with self.interrupts.in_phase("protect"):
            _record(self, cell, result)

    def cancelled(self, cell: Cell) -> None:
        """``cell`` was stopped before it ended (a signal): its lock is released, nothing recorded."""
        self.store.unlock(cell.id)
        self.progress.finished(cell, "cancelled", 0.0, ": not recorded, a rerun redoes it")

    def add_model_stats(self, shared: Any) -> None:
        """Add what a :class:`invprob_studies.cells.SharedModels` saved to the outcome, and say it."""
        for name, value in shared.stats().items():  # summed over the engine's calls
            self.outcome.models[name] = round(self.outcome.models.get(name, 0) + value, 3)
        if shared.reused:
            self.progress.say(
                f"shared models: {shared.built} built ({shared.build_seconds:.1f} s), reused {shared.reused} times "
                f"(saved about {shared.saved_seconds:.1f} s of building)"
            )


def study_directory(study: Study, out: str | Path) -> StudyDirectory:
    """The folder of ``study`` under ``out``."""
    return StudyDirectory(Path(out) / study.name)


def run_study(
    study: Study,
    out: str | Path = "studies",
    *,
    engine: str = "local",
    device: str | None = None,
    show_progress: bool = True,
    registry: Registry | None = None,
    engines: Engines | None = None,
    **options: Any,
) -> Outcome:
    """Run every cell of ``study`` not yet done into ``<out>/<study name>/`` (module docstring).

    ``engine`` names a registered engine; ``options`` are its own (``workers=2`` for ``ray``),
    None meaning not given. An unknown engine, options it does not take or a missing
    dependency raise :class:`StudyRunError` before anything is written. ``engines``: those
    the plugins of ``registry`` register, when the caller has asked already.
    """
    registry = registry if registry is not None else default_registry()
    engines = engines if engines is not None else study_engines(registry)
    try:
        chosen = engines.get(engine)
        given = engine_options(chosen, engines, options)
        chosen.check(given)
    except (EngineError, ValueError) as exc:
        raise StudyRunError(str(exc)) from None
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
    session = Session(study, store, outcome, progress, interrupts, device, registry)
    try:
        with interrupts.installed():
            while pending and not session.stopping:
                session.held = []
                chosen.run(session, pending, given)
                pending = _wait_for_holders(session, session.held)
    finally:
        progress.close()
        outcome.seconds = time.perf_counter() - started
        if interrupts.signum is not None and outcome.signal is None:
            outcome.signal = interrupts.signum
        store.append(SESSIONS_LOG, [{
            "engine": engine, "options": given, "pid": os.getpid(), "started": started_at,
            "finished": now(), "seconds": round(outcome.seconds, 3), "cells": outcome.total, "skipped": outcome.skipped,
            "done": outcome.done, "failed": outcome.failed, "elsewhere": outcome.elsewhere,
            "signal": signal_name(outcome.signal) if outcome.signal else None, "models": outcome.models,
        }])  # fmt: skip
    return outcome


def _wait_for_holders(session: Session, held: list[Cell]) -> list[Cell]:
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


def _record(session: Session, cell: Cell, result: dict[str, Any]) -> None:
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
