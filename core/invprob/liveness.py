"""Which process owns a run or a lock, and whether it still runs.

A pid alone does not name a process: after it dies the kernel hands the number to another
one, and after a container restart even to this very process. A process is named here by
its ``host``, the ``boot_id`` of the kernel it runs on (``/proc/sys/kernel/random/boot_id``),
its ``pid`` and its ``process_start`` (field 22 of ``/proc/<pid>/stat``: clock ticks since
boot; elsewhere psutil's creation time when psutil is installed). Two records with the same
four values are the same process; a recorded process whose pid now runs something started at
another time is gone.

Where a field cannot be known (no ``/proc``, no psutil, a record written by an older version)
it is None and the comparison falls back to what is known: the pid, then the host.
This module imports no torch: the study engine and the CLI use it early.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

BOOT_ID = "/proc/sys/kernel/random/boot_id"


@lru_cache(maxsize=1)
def boot_id() -> str | None:
    """The id of the running kernel's boot (None where the system does not say)."""
    with contextlib.suppress(OSError):
        with open(BOOT_ID, encoding="ascii") as handle:
            return handle.read().strip() or None
    return None


def process_start(pid: int) -> str | None:
    """When process ``pid`` started, as an opaque string (None when it does not exist or the
    system cannot say): ``/proc/<pid>/stat`` field 22, else psutil's ``create_time``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode("ascii", "replace")
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return None  # /proc works: no such process
    except OSError:
        pass
    else:
        fields = text[text.rfind(")") + 2 :].split()  # the name (field 2) may hold spaces and ')'
        return fields[19] if len(fields) > 19 else None  # fields[0] is field 3
    try:
        import psutil  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return repr(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


def this_process() -> dict[str, Any]:
    """``{"pid", "host", "boot_id", "process_start"}`` of the calling process."""
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "boot_id": boot_id(), "process_start": process_start(pid)}


def is_this_process(owner: Mapping[str, Any]) -> bool:
    """Whether ``owner`` (a record of :func:`this_process`) is the calling process."""
    me = this_process()
    if owner.get("pid") != me["pid"] or owner.get("host") != me["host"]:
        return False
    return all(owner.get(key) in (None, me[key]) or me[key] is None for key in ("boot_id", "process_start"))


def is_alive(owner: Mapping[str, Any]) -> bool:
    """Whether the process ``owner`` names may still run.

    True for a process on another host (nothing here can tell) and for one that runs now with
    the recorded start time; False when the machine was rebooted since (another ``boot_id``),
    when its pid is free, or when the pid now belongs to a process started at another time.
    """
    if owner.get("host") != socket.gethostname():
        return True
    recorded_boot, current_boot = owner.get("boot_id"), boot_id()
    if recorded_boot is not None and current_boot is not None and recorded_boot != current_boot:
        return False
    pid = owner.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if not _pid_exists(pid):
        return False
    recorded_start = owner.get("process_start")
    if recorded_start is None:
        return True  # an older record: the pid is all there is to go by
    current_start = process_start(pid)
    return current_start is None or current_start == recorded_start


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
