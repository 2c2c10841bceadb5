"""The pytest side of the testing kit: registry fixtures and the ``gpu`` marker.

Enable it in a test suite with ``pytest_plugins = ["invprob.testing"]`` (in the top-level
``conftest.py``). It provides:

- ``invprob_registry``: a fresh :class:`~invprob.registry.Registry` holding only the core's
  own default plugins (no other distribution), installed as the process default for one test::

      def test_my_operator_is_found(invprob_registry):
          invprob_registry.register_plugin(MyTestPlugin(), distribution="my-test-plugin")
          assert "my-op" in invprob_registry.names("operators")

- ``swap_default_registry``: ``swap_default_registry(registry)`` makes any registry the
  process default for one test; ``installed_registry``: the installed plugins, loaded afresh
  (a test of real recipes, after fixtures that installed a toy registry).
- the ``gpu`` marker: tests marked ``@pytest.mark.gpu`` are skipped when
  ``torch.cuda.is_available()`` is False.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from invprob.registry import Registry, new_registry, replace_default_registry

GPU_MARKER = "gpu: needs a CUDA device; skipped without one"


@pytest.fixture
def invprob_registry() -> Iterator[Registry]:
    """A registry with only the core's default plugins, the process default for one test.

    Plugins registered on it (``register_plugin(obj, distribution=...)``) last one test: each
    test gets a fresh registry, and the previous default is restored afterwards.
    """
    fresh = new_registry(entry_points=False)
    previous = replace_default_registry(fresh)
    try:
        yield fresh
    finally:
        replace_default_registry(previous)


@pytest.fixture
def swap_default_registry() -> Iterator[Callable[[Registry | None], None]]:
    """``swap_default_registry(registry)`` makes ``registry`` the process default for one test
    (None: the installed plugins, loaded afresh on next use); the default from before the test
    comes back after it, however often the test swapped."""
    before: list[Registry | None] = []

    def swap(registry: Registry | None) -> None:
        previous = replace_default_registry(registry)
        if not before:
            before.append(previous)

    yield swap
    if before:
        replace_default_registry(before[0])


@pytest.fixture
def installed_registry(swap_default_registry: Callable[[Registry | None], None]) -> None:
    """The installed plugins, loaded afresh, as the process default for one test, whatever
    registry other fixtures made the default."""
    swap_default_registry(None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", GPU_MARKER)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
    for item in gpu_items:
        item.add_marker(skip)
