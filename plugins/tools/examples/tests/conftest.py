"""Fixtures of the example command's tests: the repository's ``invprob_cli`` (the command line
in this process), from ``tests/conftest.py``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[4] / "tests" / "conftest.py"
_SPEC = importlib.util.spec_from_file_location("invprob_repository_test_fixtures", _PATH)
assert _SPEC is not None and _SPEC.loader is not None, _PATH
_FIXTURES = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_FIXTURES)

invprob_cli = _FIXTURES.invprob_cli
