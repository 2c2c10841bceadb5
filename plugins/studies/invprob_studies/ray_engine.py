"""The ``ray`` study engine: each cell a Ray task, locally or on a cluster.

One GPU per task where the cluster has GPUs, else one CPU; at most ``--workers`` cells at a
time. ``--address`` connects to a running cluster, else a local instance is started with
``--workers`` CPUs. Results come back as each task finishes (``ray.wait``) and are recorded
at once. On a remote cluster the study folder must be on storage every node sees at the same
path: the tasks write their run directories there. Ray is an optional dependency:
``pip install 'invprob-studies[ray]'``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from invprob_studies.runner import Session
    from invprob_studies.spec import Cell

RAY_MISSING = "the ray engine needs Ray, an optional dependency: pip install 'invprob-studies[ray]'"


def configure(group: Any) -> None:
    """``--address`` and ``--workers`` (None when not given)."""
    group.add_argument("--address", default=None, help="Ray cluster to connect to (default: start a local instance)")
    group.add_argument("--workers", type=int, default=None, help="cells at a time (and CPUs of a local instance)")


def check(options: Mapping[str, Any]) -> None:
    """Refuse ``workers`` below 1, and say how to install Ray when it is missing."""
    if options.get("workers") is not None and options["workers"] < 1:
        raise ValueError("--workers must be at least 1")
    _import_ray()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ValueError(RAY_MISSING) from None
    return ray


def ray_task_options(ray: Any) -> dict[str, Any]:
    """One GPU per task where the cluster has GPUs, else one CPU."""
    return {"num_gpus": 1} if ray.cluster_resources().get("GPU", 0) >= 1 else {"num_cpus": 1}


def _ray_cell(recipe: dict[str, Any], base_dir: str, study_dir: str, cell: str, device: str | None) -> dict[str, Any]:
    """A cell on a Ray worker: its process keeps its shared models from one task to the next."""
    import torch
    from invprob.registry import default_registry

    from invprob_studies.cells import SharedModels, execute_cell

    global _WORKER_MODELS
    if _WORKER_MODELS is None:
        _WORKER_MODELS = SharedModels(default_registry())
    if os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(max(1, int(os.environ["OMP_NUM_THREADS"])))
    return execute_cell(recipe, base_dir, study_dir, cell, registry=_WORKER_MODELS, device=device)


_WORKER_MODELS: Any = None


def run_ray(session: Session, cells: list[Cell], options: Mapping[str, Any]) -> None:
    """Run ``cells`` as Ray tasks (module docstring), starting a local instance when none runs."""
    from invprob_studies.runner import StudyRunError

    ray = _import_ray()
    address, workers = options.get("address"), options.get("workers")
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
            _ray_loop(ray, session, cells, workers)
    finally:
        if started_here:
            ray.shutdown()


def _ray_loop(ray: Any, session: Session, cells: list[Cell], workers: int | None) -> None:
    """Keep ``workers`` cells running (each under its lock), record each as it finishes."""
    store = session.store
    options = ray_task_options(ray)
    slots = workers or max(1, int(ray.cluster_resources().get("GPU" if "num_gpus" in options else "CPU", 1)))
    remote = ray.remote(max_retries=1)(_ray_cell).options(**options)
    queue = list(cells)
    running: dict[Any, Cell] = {}
    try:
        while (queue or running) and session.outcome.signal is None:
            while queue and len(running) < slots and not session.interrupts.received:
                cell = queue.pop(0)
                if session.claim(cell) != "claimed":
                    continue
                ref = remote.remote(cell.recipe, str(cell.base_dir), str(store.path.resolve()), cell.id, session.device)
                running[ref] = cell
                session.started(cell)
            if session.interrupts.received:
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
                    session.record(cell, result)
                finally:
                    store.unlock(cell.id)
    finally:
        for ref, cell in running.items():  # stopped by a signal (or an error): cancel what still runs
            ray.cancel(ref, force=True)
            session.cancelled(cell)
