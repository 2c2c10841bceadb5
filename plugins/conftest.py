"""Fixtures the plugins' tests share, from ``tests/conftest.py``: the repository's toy plugin
distributions and recipe (a study runs real recipes, a run draws its figures; the toy plugin's
solver can fail, sleep and count steps on demand), ``invprob_cli`` (the command line in this
process) and ``invprob_command`` (a real ``invprob`` process)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "tests" / "conftest.py"
_SPEC = importlib.util.spec_from_file_location("invprob_repository_test_fixtures", _PATH)
assert _SPEC is not None and _SPEC.loader is not None, _PATH
_FIXTURES = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_FIXTURES)

toy_site = _FIXTURES.toy_site
toy_path = _FIXTURES.toy_path
toy_registry = _FIXTURES.toy_registry
toy_env = _FIXTURES.toy_env
toy_recipe = _FIXTURES.toy_recipe
invprob_command = _FIXTURES.invprob_command
invprob_cli = _FIXTURES.invprob_cli
