"""Studies: a grid of recipes (methods x tasks x images x hyperparameters) run as one command.

The ``invprob-studies`` distribution, a plugin of invprob. A study file names a base recipe,
the fields to vary and the image set (:mod:`invprob_studies.spec`); ``invprob study run`` runs
its cells with a registered engine (:mod:`invprob_studies.engines`: ``local``, ``ray``, or
one a plugin adds), resumably, into a study directory (:mod:`invprob_studies.store`,
:mod:`invprob_studies.runner`); ``invprob study report`` turns that directory into an HTML
report (:mod:`invprob_studies.report`).

>>> from invprob_studies import load_study, run_study          # doctest: +SKIP
>>> study = load_study("benchmarks/studies/yeh-table1.yaml")  # doctest: +SKIP
>>> outcome = run_study(study, "studies", engine="ray", workers=2)  # doctest: +SKIP

Importing this package is cheap: torch loads when a cell runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Cell", "EngineRegistry", "Outcome", "Session", "Study", "StudyDirectory", "StudyError", "StudyRunError",
           "StudySpec", "execute_cell", "load_study", "run_study"]  # fmt: skip

_LAZY = {
    "Outcome": "invprob_studies.runner", "StudyRunError": "invprob_studies.runner", "run_study": "invprob_studies.runner",
    "Session": "invprob_studies.runner", "EngineRegistry": "invprob_studies.engines", "execute_cell": "invprob_studies.cells",
    "Cell": "invprob_studies.spec", "Study": "invprob_studies.spec", "StudyError": "invprob_studies.spec",
    "StudySpec": "invprob_studies.spec", "load_study": "invprob_studies.spec", "StudyDirectory": "invprob_studies.store",
}  # fmt: skip
"""Imported on first use, so that loading the plugin and building the command line stay cheap."""

if TYPE_CHECKING:
    from invprob_studies.cells import execute_cell
    from invprob_studies.engines import EngineRegistry
    from invprob_studies.runner import Outcome, Session, StudyRunError, run_study
    from invprob_studies.spec import Cell, Study, StudyError, StudySpec, load_study
    from invprob_studies.store import StudyDirectory


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'invprob_studies' has no attribute {name!r}")
