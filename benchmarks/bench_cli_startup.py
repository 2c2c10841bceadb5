"""Start-up time of the command line: ``invprob plugins --json`` against ``python -c pass``.

Both (and the floor: importing what every plugin needs, pydantic, pluggy and importlib.metadata)
are run the same number of times, interleaved, in this process's environment; the median
wall time and the median CPU time (user + system, from ``getrusage`` of the children) of each
are printed with their ratio. CPU time is steadier than wall time on a loaded machine (other
processes take the cores, not the work); the load average is printed with the figures.

Byte-code caching is switched on for the measured commands (``PYTHONDONTWRITEBYTECODE`` unset,
``PYTHONPYCACHEPREFIX`` a temporary folder, warmed up once), so that the figures are those of
an installed package, not of compiling every module on each start.

    python benchmarks/bench_cli_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the child) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


FLOOR = "import argparse, importlib.metadata, json, pluggy, pydantic.main, pydantic.types"
"""What loading any plugin needs before the first line of invprob runs: a plugin's params are
pydantic models, its hooks pluggy's, and it is found through importlib.metadata."""


def _console_script() -> str:
    """The ``invprob`` command installed beside this interpreter (what a user types)."""
    script = Path(sys.executable).with_name("invprob")
    if not script.is_file():
        raise SystemExit(f"no invprob command beside {sys.executable}: pip install -e . first")
    return str(script)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (median reported)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONDONTWRITEBYTECODE"}}
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "floor (pydantic+pluggy)": [sys.executable, "-c", FLOOR],
        "invprob plugins --json": [_console_script(), "plugins", "--json"],
    }
    with tempfile.TemporaryDirectory() as cache:
        env["PYTHONPYCACHEPREFIX"] = cache
        for command in commands.values():  # warm-up: byte code written, files in the page cache
            measure(command, env)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                samples[name].append(measure(command, env))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.runs} runs each, interleaved; load average {load:.1f} on {os.cpu_count()} CPUs")
    medians = {name: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s)) for name, s in samples.items()}
    for name, (wall, cpu) in medians.items():
        print(f"  {name:24} wall {wall * 1000:7.1f} ms   cpu {cpu * 1000:7.1f} ms")
    base_wall, base_cpu = medians["python -c pass"]
    for name in ("floor (pydantic+pluggy)", "invprob plugins --json"):
        wall, cpu = medians[name]
        print(f"ratio {name} / python -c pass: wall {wall / base_wall:.1f}x, cpu {cpu / base_cpu:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
