"""A pytest plugin that measures how close each numeric comparison comes to its tolerance.

    PYTHONPATH=scripts OMP_NUM_THREADS=1 .venv/bin/python -m pytest -p tolerance_audit -q
    PYTHONPATH=scripts OMP_NUM_THREADS=2 .venv/bin/python -m pytest -p tolerance_audit -q
    # or only the numeric tests: plugins/ tests/test_ops.py tests/test_optimisation.py ...

Every ``torch.testing.assert_close`` and ``numpy.testing.assert_allclose`` call is measured as
``max |actual - expected| / (atol + rtol * |expected|)``, and every check of the testing kit
(``invprob.testing``: relative errors, adjointness defects) as its error over its tolerance:
1.0 is the edge of failure, 0.1 a 10x margin. At the end it lists the comparisons whose margin is under 10x (the project's rule for a
tolerance that holds on any CPU) and writes them all to ``tolerance-audit-<threads>.json``
(``INVPROB_TOLERANCE_AUDIT_OUT`` to choose the file). Exact comparisons (zero error) never show.
"""

from __future__ import annotations

import json
import os
import traceback
from pathlib import Path

import numpy as np
import pytest

_current_test = "<collection>"
_worst: dict[tuple[str, str], float] = {}


def _site() -> str:
    """``file:line`` of the test code that made the comparison."""
    for frame in reversed(traceback.extract_stack()[:-3]):
        if "site-packages" not in frame.filename and not frame.filename.endswith("tolerance_audit.py"):
            return f"{os.path.relpath(frame.filename)}:{frame.lineno}"
    return "?"


def _record(actual, expected, rtol: float, atol: float) -> None:
    try:
        a = np.asarray(actual.detach().cpu() if hasattr(actual, "detach") else actual, dtype=np.float64)
        e = np.asarray(expected.detach().cpu() if hasattr(expected, "detach") else expected, dtype=np.float64)
        a, e = np.broadcast_arrays(a, e)
        finite = np.isfinite(a) & np.isfinite(e)
        if not finite.any():
            return
        ratio = float(np.max(np.abs(a[finite] - e[finite]) / (atol + rtol * np.abs(e[finite]))))
    except Exception:  # a comparison of non-numeric things: not ours to measure
        return
    key = (_current_test, _site())
    _worst[key] = max(_worst.get(key, 0.0), ratio)


def _default_tolerances(actual, expected) -> tuple[float, float]:
    import torch

    dtype = getattr(actual, "dtype", None)
    table = {torch.float16: (1e-3, 1e-5), torch.bfloat16: (1.6e-2, 1e-5), torch.float32: (1.3e-6, 1e-5), torch.float64: (1e-7, 1e-7)}
    return table.get(dtype, (1.3e-6, 1e-5) if dtype is not None else (1e-7, 1e-7))


def pytest_configure(config) -> None:
    import torch

    original_torch = torch.testing.assert_close
    original_numpy = np.testing.assert_allclose

    def assert_close(actual, expected, *args, rtol=None, atol=None, **kwargs):
        if rtol is None or atol is None:
            default_rtol, default_atol = _default_tolerances(actual, expected)
            rtol = default_rtol if rtol is None else rtol
            atol = default_atol if atol is None else atol
        _record(actual, expected, rtol, atol)
        return original_torch(actual, expected, *args, rtol=rtol, atol=atol, **kwargs)

    def assert_allclose(actual, desired, rtol=1e-7, atol=0, *args, **kwargs):
        _record(actual, desired, rtol, atol)
        return original_numpy(actual, desired, rtol, atol, *args, **kwargs)

    torch.testing.assert_close = assert_close
    np.testing.assert_allclose = assert_allclose
    _wrap_testing_kit()


def _wrap_testing_kit() -> None:
    """The conformance suites compare with their own relative-error check and adjointness defect."""
    import importlib

    from invprob.testing import numerics, operators

    original_close = numerics.assert_close

    def kit_assert_close(actual, expected, rtol, what):
        if tuple(actual.shape) == tuple(expected.shape):
            error = numerics.relative_error(actual, expected)
            key = (_current_test, f"{_site()} ({what})")
            _worst[key] = max(_worst.get(key, 0.0), error / rtol if rtol > 0 else (0.0 if error == 0 else float("inf")))
        return original_close(actual, expected, rtol, what)

    for name in ("numerics", "generators", "losses", "metrics", "operators", "priors", "solvers"):
        module = importlib.import_module(f"invprob.testing.{name}")
        if getattr(module, "assert_close", None) is original_close:
            module.assert_close = kit_assert_close

    original_adjointness = operators.check_adjointness

    def check_adjointness(op, image_shape, *, dtype=None, tol=None, **kwargs):
        import torch

        dtype = torch.float32 if dtype is None else dtype
        used = operators.ADJOINT_TOLERANCE.get(dtype, 1e-5) if tol is None else tol
        defect = original_adjointness(op, image_shape, dtype=dtype, tol=tol, **kwargs)
        key = (_current_test, f"{_site()} (adjointness in {dtype})")
        _worst[key] = max(_worst.get(key, 0.0), defect / used)
        return defect

    operators.check_adjointness = check_adjointness
    importlib.import_module("invprob.testing").check_adjointness = check_adjointness


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    global _current_test
    _current_test = item.nodeid
    yield
    _current_test = "<between tests>"


def pytest_terminal_summary(terminalreporter) -> None:
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    out = Path(os.environ.get("INVPROB_TOLERANCE_AUDIT_OUT", f"tolerance-audit-{threads}.json"))
    rows = sorted(((ratio, test, site) for (test, site), ratio in _worst.items()), reverse=True)
    out.write_text(json.dumps([{"ratio": r, "test": t, "site": s} for r, t, s in rows], indent=1))
    tight = [row for row in rows if row[0] > 0.1]
    terminalreporter.write_sep("=", f"tolerance audit ({threads} threads): {len(tight)} of {len(rows)} comparisons with a margin under 10x")
    for ratio, test, site in tight:
        terminalreporter.write_line(f"{ratio:8.3f}  {site}  {test}")
    terminalreporter.write_line(f"all comparisons: {out}")
