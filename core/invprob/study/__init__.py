"""Studies: a grid of recipes (methods x tasks x images x hyperparameters) run as one command.

A study file names a base recipe, the fields to vary and the image set
(:mod:`invprob.study.spec`); ``invprob study run`` runs its cells in this process or on Ray,
resumably, into a study directory (:mod:`invprob.study.store`, :mod:`invprob.study.runner`);
``invprob study report`` turns that directory into an HTML report (:mod:`invprob.study.report`).

>>> from invprob.study import load_study, run_study          # doctest: +SKIP
>>> study = load_study("benchmarks/studies/yeh-table1.yaml")  # doctest: +SKIP
>>> outcome = run_study(study, "studies", engine="ray", workers=2)  # doctest: +SKIP

Importing this package is cheap: torch loads when a cell runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Cell", "Outcome", "Study", "StudyDirectory", "StudyError", "StudyRunError", "StudySpec", "load_study", "run_study"]

_LAZY = {
    "Outcome": "invprob.study.runner", "StudyRunError": "invprob.study.runner", "run_study": "invprob.study.runner",
    "Cell": "invprob.study.spec", "Study": "invprob.study.spec", "StudyError": "invprob.study.spec",
    "StudySpec": "invprob.study.spec", "load_study": "invprob.study.spec", "StudyDirectory": "invprob.study.store",
}  # fmt: skip
"""Imported on first use, so that building the command line (``invprob.study.cli``) stays cheap."""

if TYPE_CHECKING:
    from invprob.study.runner import Outcome, StudyRunError, run_study
    from invprob.study.spec import Cell, Study, StudyError, StudySpec, load_study
    from invprob.study.store import StudyDirectory


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'invprob.study' has no attribute {name!r}")
