"""The machinery shared by every conformance suite: which components to test, with which
params and image shapes, and how to build them.

A suite is a base class that a plugin's test module subclasses, naming its distribution::

    class TestImagingOperators(OperatorConformance):
        distribution = "invprob-plugin-imaging"
        image_shapes = [(3, 16, 16), (1, 16, 24)]      # optional
        skip = {"classifier": "needs weights"}          # optional: name -> reason

pytest then calls the class's ``pytest_generate_tests``, which parametrises every test method
taking ``case`` over each component of the suite's kind that the distribution registers
(found through the real entry points), each of its ``examples`` (``{}`` when it has none) and
each image shape. Test ids read ``downsample[0]-3x16x16``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from invprob.context import BuildContext
from invprob.hints import with_article
from invprob.registry import Component, Registry, canonical_distribution_name, new_registry

if TYPE_CHECKING:
    from invprob.generator import Generator


class ComponentBuildError(AssertionError):
    """A component could not be built from one of its examples (a conformance failure)."""


@dataclass(frozen=True, repr=False)
class ComponentCase:
    """One parametrisation of a suite: a component, one of its examples, one image shape.

    A case with ``problem`` set stands for a distribution that could not be tested at all
    (not installed, failed to load, registers nothing of the kind); building it fails with
    that message, so the problem shows up as failing tests rather than as silence.
    """

    kind: str
    component: Component | None
    example_index: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)
    image_shape: tuple[int, int, int] | None = None
    registry: Registry | None = None
    problem: str | None = None

    @property
    def name(self) -> str:
        return self.component.name if self.component is not None else "no-component"

    @property
    def id(self) -> str:
        if self.component is None:
            return f"{self.kind}-unavailable"
        shape = "x".join(str(n) for n in self.image_shape) if self.image_shape else "any"
        return f"{self.name}[{self.example_index}]-{shape}"

    def describe(self) -> str:
        """``operator 'downsample' of invprob-plugin-imaging (example 0: {...}, image shape ...)``."""
        if self.component is None:
            return f"{self.kind[:-1]} suite"
        return (
            f"{self.kind[:-1]} {self.name!r} of {self.component.distribution} "
            f"(example {self.example_index}: {dict(self.params)!r}, image shape {self.image_shape})"
        )

    def __repr__(self) -> str:
        return f"<{self.describe() if self.component else self.problem}>"

    def context(
        self, *, seed: int = 0, image_shape: tuple[int, int, int] | None = None, generator: Generator | None = None
    ) -> BuildContext:
        """The build context: this case's registry and image shape, and ``generator`` (the
        built generator that priors and losses may look at, as the pipeline provides it)."""
        assert self.registry is not None
        return BuildContext(
            registry=self.registry, image_shape=image_shape or self.image_shape, seed=seed, generator=generator
        )

    def build(
        self, *, seed: int = 0, image_shape: tuple[int, int, int] | None = None, generator: Generator | None = None
    ) -> Any:
        """Build the component from this case's example; a clear failure when that is impossible."""
        if self.component is None:
            raise ComponentBuildError(self.problem or "no component to test")
        try:
            context = self.context(seed=seed, image_shape=image_shape, generator=generator)
            return self.component.build(dict(self.params), context)
        except Exception as exc:  # noqa: BLE001 - any build error is the component's failure
            raise ComponentBuildError(
                f"could not build {self.describe()}: {type(exc).__name__}: {exc}. "
                "Fix the factory or the example params given to registry.add(..., examples=[...]), "
                "or list the component in the suite's `skip` with a reason."
            ) from exc


@functools.lru_cache(maxsize=None)
def registry_for(distributions: frozenset[str]) -> Registry:
    """The core plus the named installed distributions, loaded through their entry points (cached)."""
    return new_registry(only={canonical_distribution_name(d) for d in distributions})


class ConformanceSuite:
    """Base of the suites: parametrises ``case`` over the components of one distribution.

    Class attributes a subclass sets:

    - ``distribution``: the distribution whose components are tested (required).
    - ``extra_distributions``: other distributions its components build by name (a solver
      asking for another plugin's prior); loaded too, but not tested.
    - ``image_shapes``: ``(C, H, W)`` shapes each component is built and tested at.
    - ``skip``: component name -> reason; those cases are reported as skipped.
    - ``batch_size``: images per test batch.

    Override :meth:`load_registry` to test components registered some other way (the
    testing kit's own tests register toy plugins on a fresh registry).
    """

    kind: ClassVar[str] = ""
    expected_type: ClassVar[type] = object
    distribution: ClassVar[str] = ""
    extra_distributions: ClassVar[Sequence[str]] = ()
    image_shapes: ClassVar[Sequence[tuple[int, int, int]]] = [(3, 16, 16), (1, 16, 24)]
    skip: ClassVar[Mapping[str, str]] = {}
    batch_size: ClassVar[int] = 2

    _case_cache: ClassVar[dict[type, list[ComponentCase]]] = {}

    @classmethod
    def load_registry(cls) -> Registry:
        """The registry the components are taken from and built with."""
        return registry_for(frozenset({cls.distribution, *cls.extra_distributions}))

    @classmethod
    def cases(cls) -> list[ComponentCase]:
        """Every (component, example, image shape) of this suite, computed once per class."""
        cached = ConformanceSuite._case_cache.get(cls)
        if cached is None:
            cached = ConformanceSuite._case_cache[cls] = cls._collect_cases()
        return cached

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "case" not in metafunc.fixturenames:
            return
        params = []
        for case in self.cases():
            reason = self.skip.get(case.name)
            marks = [pytest.mark.skip(reason=f"{case.name}: {reason}")] if reason else []
            params.append(pytest.param(case, id=case.id, marks=marks))
        metafunc.parametrize("case", params)

    def build(self, case: ComponentCase, **kwargs: Any) -> Any:
        """Build ``case`` and check that it is an instance of the suite's interface."""
        built = case.build(**kwargs)
        if not isinstance(built, self.expected_type):
            expected = f"{self.expected_type.__module__}.{self.expected_type.__qualname__}"
            raise ComponentBuildError(
                f"the factory of {case.describe()} returned {with_article(type(built).__qualname__)}, "
                f"not an instance of {expected}"
            )
        return built

    @classmethod
    def _collect_cases(cls) -> list[ComponentCase]:
        if not cls.distribution:
            return [_unavailable(cls, f"{cls.__qualname__} must set `distribution = \"invprob-plugin-...\"`")]
        try:
            registry = cls.load_registry()
        except Exception as exc:  # noqa: BLE001 - strict loading raises; report it as a failure
            return [_unavailable(cls, f"loading {cls.distribution} failed: {type(exc).__name__}: {exc}")]
        wanted = canonical_distribution_name(cls.distribution)
        failures = [f for f in registry.failures if canonical_distribution_name(f.distribution) == wanted]
        if failures:
            detail = "; ".join(f.summary() for f in failures)
            return [_unavailable(cls, f"{cls.distribution} failed to load: {detail}")]
        components = sorted(
            (c for c in registry.components[cls.kind].values() if canonical_distribution_name(c.distribution) == wanted),
            key=lambda c: c.name,
        )
        if not components:
            loaded = wanted in {canonical_distribution_name(d) for d in registry.distributions}
            hint = (
                f"it is loaded but registers no {cls.kind}"
                if loaded
                else "it is not installed (pip install -e <its folder>) or is disabled by INVPROB_LOAD_PLUGINS/INVPROB_DISABLE_PLUGINS"
            )
            return [_unavailable(cls, f"{cls.__qualname__} found no {cls.kind} of {cls.distribution}: {hint}")]
        return [
            ComponentCase(cls.kind, component, index, dict(params), tuple(shape), registry)
            for component in components
            for index, params in enumerate(component.examples or ({},))
            for shape in cls.image_shapes
        ]


def _unavailable(cls: type[ConformanceSuite], problem: str) -> ComponentCase:
    return ComponentCase(cls.kind, None, problem=problem)
