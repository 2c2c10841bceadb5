"""The study directory: the plan, what finished, the results table, and per-cell locks.

Layout of ``<out>/<study name>/`` (read by ``invprob study report``)::

    study.yaml        the study file as given (the latest run's)
    cells.json        the plan: [{"cell", "axes", "labels"}]
    cells.jsonl       one line per finished or failed cell (the last line of a cell counts):
                      {"cell", "status": "done"|"failed", "error", "run_dir", "seconds", "axes",
                       "labels", "finished", "study", "results": [{"image", "metric", "value"}]}
    results.jsonl     one line per cell x image x metric of the cells done, rewritten from
                      cells.jsonl when a cell finishes (and when a study run starts):
                      {"study", "cell", "axes", "labels", "image", "metric", "value", "run_dir"}
    results.csv       the same table (axes as ``axis:<path>`` columns);
    results.parquet   also, when pandas and pyarrow are installed
    sessions.jsonl    one line per ``invprob study run``: engine, workers, wall time, counts
    runs/<cell>/      the cell's run directory (``invprob.run(..., name=<cell>)``)
    locks/<cell>.lock the process running that cell just now (pid, host, boot_id, process_start)

Nothing lost: a cell is recorded by one line appended with one ``write`` (``O_APPEND``) and
``fsync``ed before the call returns, under a study-wide ``flock`` (two processes never
interleave); a torn last line (a process killed while writing) is skipped by readers and
never joined to the next one. Readers of the tables keep the last row per (cell, image,
metric) of the cells whose last line says ``done`` (:meth:`StudyDirectory.results`).
Nothing run twice: a cell is run only by the process holding its lock file, created with
``O_EXCL``; the lock of a process that is gone is reclaimed (:mod:`invprob.liveness`: a pid
now running another process, or this one after a container restart, is not the holder).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import io
import json
import math
import os
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from invprob.liveness import is_alive, is_this_process, this_process

PLAN_FILE, CELLS_LOG, RESULTS_LOG = "cells.json", "cells.jsonl", "results.jsonl"
RESULTS_CSV, RESULTS_PARQUET, SESSIONS_LOG, STUDY_FILE = "results.csv", "results.parquet", "sessions.jsonl", "study.yaml"
ROW_FROM_CELL = ("study", "cell", "axes", "labels", "run_dir")
"""The fields of a result row that its cell's line in ``cells.jsonl`` holds once for all its rows."""
NOT_METRICS = ("name", "best_round")
"""Keys of a ``metrics.json`` image entry that are not metrics."""


def now() -> str:
    """The time as ISO 8601 in UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _json_value(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def dumps(record: Mapping[str, Any]) -> str:
    """One strict-JSON line (NaN and infinities become ``null``)."""
    return json.dumps({k: _json_value(v) for k, v in record.items()}, default=str, allow_nan=False)


class StudyDirectory:
    """The folder of one study and the files in it (module docstring)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def runs(self) -> Path:
        return self.path / "runs"

    @property
    def locks(self) -> Path:
        return self.path / "locks"

    def create(self, study_text: str, plan: list[dict[str, Any]]) -> None:
        """Create the folders and write ``study.yaml`` and ``cells.json`` (atomically)."""
        self.runs.mkdir(parents=True, exist_ok=True)
        self.locks.mkdir(exist_ok=True)
        _write_atomic(self.path / STUDY_FILE, study_text)
        _write_atomic(self.path / PLAN_FILE, json.dumps(plan, indent=1, default=str) + "\n")

    # -- appending -------------------------------------------------------------------------

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """The study-wide lock: appends and lock reclaims happen one process at a time."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".study.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, name: str, records: Iterable[Mapping[str, Any]]) -> None:
        """Append ``records`` to ``name`` as JSON lines: one ``write`` (``O_APPEND``), fsynced."""
        text = "".join(dumps(record) + "\n" for record in records)
        if not text:
            return
        with self.exclusive():
            fd = os.open(self.path / name, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if _ends_torn(fd):
                    text = "\n" + text  # a killed writer's half line stays alone, and is skipped
                data = text.encode("utf-8")
                written = os.write(fd, data)  # one write: a line is whole, or torn and skipped
                if written != len(data):
                    message = f"only {written} of {len(data)} bytes appended (is the disk full?)"
                    raise OSError(errno.ENOSPC, message, str(self.path / name))
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self, name: str) -> list[dict[str, Any]]:
        """The whole records of a JSON-lines file (a torn line is skipped)."""
        try:
            text = (self.path / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        records = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    records.append(record)
        return records

    def cell_states(self) -> dict[str, dict[str, Any]]:
        """Each recorded cell's last line in ``cells.jsonl``."""
        return {record["cell"]: record for record in self.read(CELLS_LOG) if "cell" in record}

    def finished(self) -> set[str]:
        """The cells recorded as done."""
        return {cell for cell, record in self.cell_states().items() if record.get("status") == "done"}

    # -- locks -----------------------------------------------------------------------------

    def lock(self, cell: str) -> bool:
        """Take the lock of ``cell``; False when another live process holds it."""
        path = self.locks / f"{cell}.lock"
        self.locks.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if not self._reclaim(path):
                    return False
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(json.dumps({**this_process(), "since": now()}))
                handle.flush()
                os.fsync(handle.fileno())
            return True
        return False

    def _reclaim(self, path: Path) -> bool:
        """Remove the lock at ``path`` if its process is gone (:func:`invprob.liveness.is_alive`:
        the same pid started at another time, or before a reboot, is another process); whether
        it was removed."""
        with self.exclusive():  # two processes never both reclaim (and delete a fresh lock)
            holder = _read_lock(path)
            if holder is None:
                return not path.exists()
            if is_alive(holder):
                return False
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return True

    def sweep_stale_locks(self) -> list[str]:
        """Remove the locks of processes that died on this host (a killed run leaves the lock of
        the cell it was running, or had just recorded); the cells whose lock was removed."""
        swept = []
        for path in sorted(self.locks.glob("*.lock")) if self.locks.is_dir() else []:
            holder = _read_lock(path)
            if holder is not None and not is_this_process(holder) and self._reclaim(path):
                swept.append(path.stem)
        return swept

    def unlock(self, cell: str) -> None:
        """Release the lock of ``cell`` if this process holds it."""
        path = self.locks / f"{cell}.lock"
        holder = _read_lock(path)
        if holder is not None and is_this_process(holder):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def locked_elsewhere(self) -> set[str]:
        """Cells whose lock a live process other than this one holds."""
        return {cell for cell in self._lock_names() if self.lock_holder(cell) is not None}

    def lock_holder(self, cell: str) -> dict[str, Any] | None:
        """The live process other than this one that holds the lock of ``cell`` (its lock file's
        record: pid, host, boot_id, process_start, since), or None."""
        holder = _read_lock(self.locks / f"{cell}.lock")
        if holder is None or is_this_process(holder) or not is_alive(holder):
            return None
        return holder

    def _lock_names(self) -> list[str]:
        return sorted(path.stem for path in self.locks.glob("*.lock")) if self.locks.is_dir() else []

    # -- a cell's run directory ------------------------------------------------------------

    def free_run_dir(self, cell: str) -> Path:
        """``runs/<cell>``, ready for a new run: what an earlier attempt left there (a killed
        or failed run) is kept, renamed ``runs/<cell>.attempt-<n>``."""
        target = self.runs / cell
        if target.exists():
            n = 1
            while (self.runs / f"{cell}.attempt-{n}").exists():
                n += 1
            target.rename(self.runs / f"{cell}.attempt-{n}")
        return target

    # -- results ---------------------------------------------------------------------------

    def record_cell(
        self,
        study: str,
        cell: Mapping[str, Any],
        *,
        status: str,
        error: str | None,
        seconds: float,
        metrics: Mapping[str, Any] | None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Record a finished (or failed) cell as one line of ``cells.jsonl``, appended in one
        ``write`` -- with its result rows when it is done -- then rewrite the tables made from
        it (``results.jsonl``, ``.csv``, ``.parquet``). A process killed at any point leaves the
        cell recorded whole or not at all, never its rows without its line."""
        run_dir = f"runs/{cell['cell']}"
        line = {
            "cell": cell["cell"], "status": status, "error": error, "run_dir": run_dir, "seconds": seconds,
            "axes": cell["axes"], "labels": cell["labels"], "finished": now(), "study": study, **(extra or {}),
        }  # fmt: skip
        if status == "done" and metrics is not None:
            rows = result_rows(study, cell, run_dir, metrics)
            line["results"] = [{k: v for k, v in row.items() if k not in ROW_FROM_CELL} for row in rows]
        self.append(CELLS_LOG, [line])
        if status == "done":
            self.write_tables()

    def results(self) -> list[dict[str, Any]]:
        """The result rows of every cell whose last line in ``cells.jsonl`` says ``done``: one per
        (cell, image, metric), the last recorded winning.

        A cell recorded by an earlier version of invprob (its line has no ``results``) has its
        rows in ``results.jsonl``, where a killed run could have left them twice: the same rule
        applies (last row per key wins).
        """
        done = {cell: line for cell, line in self.cell_states().items() if line.get("status") == "done"}
        older = {cell for cell, line in done.items() if "results" not in line}
        rows = [row for row in self.read(RESULTS_LOG) if row.get("cell") in older] if older else []
        for cell, line in done.items():
            for row in line.get("results") or []:
                if isinstance(row, dict):
                    rows.append({"study": line.get("study"), "cell": cell, "axes": line.get("axes") or {},
                                 "labels": line.get("labels") or {}, **row, "run_dir": line.get("run_dir")})  # fmt: skip
        return _last_rows(rows)

    def write_tables(self) -> None:
        """Rewrite ``results.jsonl`` and ``results.csv`` (and ``results.parquet`` with pandas +
        pyarrow) from :meth:`results`, atomically, one process at a time."""
        with self.exclusive():  # a process holding older lines never replaces a newer table
            rows = self.results()
            _write_atomic(self.path / RESULTS_LOG, "".join(dumps(row) + "\n" for row in rows))
            axes = sorted({path for row in rows for path in row.get("axes", {})})
            header = ["study", "cell", *(f"axis:{p}" for p in axes), *(f"label:{p}" for p in axes),
                      "image", "metric", "value", "run_dir"]  # fmt: skip
            flat = [_flat_row(row, axes) for row in rows]
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(flat)
            _write_atomic(self.path / RESULTS_CSV, buffer.getvalue())
            try:
                import pandas as pd
                import pyarrow  # noqa: F401 - pandas needs it for parquet
            except ImportError:
                return
            tmp = self.path / f".{RESULTS_PARQUET}.{os.getpid()}.partial"
            pd.DataFrame(flat, columns=header).to_parquet(tmp, index=False)
            os.replace(tmp, self.path / RESULTS_PARQUET)


def result_rows(study: str, cell: Mapping[str, Any], run_dir: str, metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per image x metric of a run's ``metrics.json``."""
    rows = []
    for entry in metrics.get("images", []):
        for metric, value in entry.items():
            if metric in NOT_METRICS:
                continue
            number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
            rows.append({
                "study": study, "cell": cell["cell"], "axes": cell["axes"], "labels": cell["labels"],
                "image": entry.get("name"), "metric": metric, "value": number, "run_dir": run_dir,
            })  # fmt: skip
    return rows


def _last_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (cell, image, metric): the last appended."""
    keyed = {(row.get("cell"), row.get("image"), row.get("metric")): row for row in rows}
    return list(keyed.values())


def _flat_row(row: Mapping[str, Any], axes: list[str]) -> dict[str, Any]:
    flat = {key: row.get(key) for key in ("study", "cell", "image", "metric", "value", "run_dir")}
    for path in axes:
        value = row.get("axes", {}).get(path)
        flat[f"axis:{path}"] = value if isinstance(value, (str, int, float, bool)) or value is None else json.dumps(value)
        flat[f"label:{path}"] = row.get("labels", {}).get(path)
    return flat


def _ends_torn(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _read_lock(path: Path) -> dict[str, Any] | None:
    """The holder written in a lock file; ``{}`` while it is being written; None when absent."""
    for _ in range(3):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return json.loads(text)
        except ValueError:
            time.sleep(0.05)  # created, not yet written
    return {"host": socket.gethostname(), "pid": None}


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: a temporary file beside it (one per
    process: two never share one), renamed over ``path``, removed when writing fails."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
