"""Running one cell of a study, in this process or on a Ray worker, with loaded models shared.

:func:`execute_cell` is what every engine calls: it runs the cell's recipe into
``runs/<cell>`` of the study directory and returns a small dict (status, error, seconds,
the run's metrics), never raising for a failing cell -- only for a signal.

:class:`SharedModels` wraps a registry so that generators with the same spec (name, params,
device, base folder) are built once per process and reused by the following cells: a study
of methods x tasks on one model loads its weights once, not once per cell. A reused model's
weight files are still recorded in each run's ``environment.json`` (their sha256 included).
Cells share the model read-only: every run puts it in eval mode without gradients, and no
solver changes a generator's weights.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from invprob.registry import Registry


class SharedModels:
    """A registry that builds each generator spec once and hands the same module out again.

    Everything but :meth:`build` of a generator is the wrapped registry's. ``built``,
    ``reused``, ``build_seconds`` (spent building) and ``saved_seconds`` (what the reused
    builds took the first time) say what the sharing saved.
    """

    def __init__(self, registry: Registry):
        self._registry = registry
        self._models: dict[str, tuple[Any, list[str], float]] = {}
        self.built = 0
        self.reused = 0
        self.build_seconds = 0.0
        self.saved_seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._registry, name)

    def build(self, kind: str, name: str, params: Any, context: Any) -> Any:
        """The registry's build, except that a generator spec seen before returns its model."""
        if kind != "generators":
            return self._registry.build(kind, name, params, context)
        from invprob import weights

        plain = params.model_dump(mode="json") if hasattr(params, "model_dump") else params
        key = json.dumps([name, plain, str(context.device), str(context.base_dir)], sort_keys=True, default=str)
        if key in self._models:
            model, files, seconds = self._models[key]
            for path in files:
                weights.record(Path(path))  # the run's record lists what its model was loaded from
            self.reused += 1
            self.saved_seconds += seconds
            return model
        before = {record.path for record in weights.loaded_weights()}
        started = time.perf_counter()
        model = self._registry.build(kind, name, params, context)
        seconds = time.perf_counter() - started
        files = [record.path for record in weights.loaded_weights() if record.path not in before]
        self._models[key] = (model, files, seconds)
        self.built += 1
        self.build_seconds += seconds
        return model

    def stats(self) -> dict[str, Any]:
        """What sharing did: ``{"built", "reused", "build_seconds", "saved_seconds"}``."""
        return {
            "built": self.built, "reused": self.reused,
            "build_seconds": round(self.build_seconds, 3), "saved_seconds": round(self.saved_seconds, 3),
        }  # fmt: skip


def execute_cell(
    recipe: dict[str, Any],
    base_dir: str | Path,
    study_dir: str | Path,
    cell: str,
    *,
    registry: Registry | SharedModels | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Run one cell into ``<study_dir>/runs/<cell>``; its outcome as a small picklable dict.

    ``{"status": "done"|"failed"|"interrupted", "error", "seconds", "metrics", "signal"}``:
    ``metrics`` is the run's ``metrics.json`` when it finished. A failing cell is reported, not
    raised (its run directory, if it got one, says ``failed`` in ``status.json``); an abort by
    a signal (:class:`invprob.interrupts.Interrupted`) is raised.
    """
    import invprob
    from invprob.recipe import RecipeError
    from invprob.registry import default_registry

    from invprob_studies.store import StudyDirectory

    started = time.perf_counter()
    registry = registry if registry is not None else default_registry()
    outcome: dict[str, Any] = {"status": "failed", "error": None, "metrics": None, "signal": None}
    try:
        validated = invprob.load_recipe(recipe, registry=registry, base_dir=base_dir)  # type: ignore[arg-type]
        store = StudyDirectory(study_dir)
        store.free_run_dir(cell)
        result = invprob.run(validated, out=store.runs, name=cell, show_progress=False, device=device, registry=registry)  # type: ignore[arg-type]
    except RecipeError as exc:
        outcome["error"] = " ".join(exc.report().split())
    except Exception as exc:  # noqa: BLE001 - a failing cell is recorded; the others go on
        outcome["error"] = " ".join(f"{type(exc).__name__}: {exc}".split())[:2000]
    else:
        if result.interrupted:
            outcome.update(status="interrupted", signal=result.signal)
        else:
            outcome.update(status="done", metrics=result.summary().metrics)
    outcome["seconds"] = round(time.perf_counter() - started, 3)
    return outcome
