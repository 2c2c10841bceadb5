"""What a plugin registers: components and commands, staged until its hooks return.

An ``invprob_register_<kind>`` hook receives a :class:`ComponentRegistry` and calls
:meth:`ComponentRegistry.add`; ``invprob_register_commands`` receives a
:class:`CommandRegistry`. What they add is a :class:`Component` (a name, a factory, its params
model, the distribution that gave it) or a :class:`Command`, staged: :class:`invprob.registry.Registry`
commits a plugin's additions only when all its hooks have returned, and resolves clashes
between distributions.
"""

from __future__ import annotations

import argparse
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from invprob.first_party import canonical_distribution_name
from invprob.hints import singular
from invprob.params import Params


class RegistryError(Exception):
    """Base class of registry errors."""


class DuplicateComponentError(RegistryError):
    """A component or command name was registered twice."""


@dataclass(frozen=True)
class Component:
    """A registered component: a name, a factory and the model of its parameters.

    The factory is called as ``factory(params, context)`` with validated params (an instance
    of ``params_model``) and an :class:`invprob.context.BuildContext`. ``defaults`` (solvers
    only) are the recipe-level ``losses``/``priors`` the solver uses when a recipe omits them.
    """

    kind: str
    name: str
    factory: Callable[[Any, Any], Any]
    params_model: type[Params]
    distribution: str
    description: str = ""
    examples: tuple[Mapping[str, Any], ...] = ()
    defaults: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)

    def validate_params(self, params: Mapping[str, Any] | None, **context: Any) -> Params:
        """Validate raw params (raises pydantic's ``ValidationError``)."""
        return self.params_model.model_validate(dict(params or {}), context=context or None)

    def build(self, params: Mapping[str, Any] | BaseModel | None, context: Any) -> Any:
        """Validate ``params`` if needed and call the factory."""
        if not isinstance(params, BaseModel):
            params = self.validate_params(params, base_dir=getattr(context, "base_dir", None))
        return self.factory(params, context)


@dataclass(frozen=True)
class Command:
    """A CLI subcommand contributed by a plugin: ``invprob <name...>``."""

    name: tuple[str, ...]
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    distribution: str


class _Default(Params):
    type: str
    params: dict[str, Any] = {}
    weight: float = 1.0


@functools.cache
def _solver_defaults() -> TypeAdapter:
    """The shape of a solver's ``defaults`` (built on first use: loading plugins stays cheap)."""
    return TypeAdapter(dict[Literal["losses", "priors"], list[_Default]])



class _Staging:
    """Additions of one plugin, kept apart until the registry commits them (after its hooks)."""

    kind = "commands"

    def __init__(self, distribution: str, *, source: str = "", sources: Mapping[tuple[str, Any, str], str] | None = None):
        self.distribution = distribution
        self.source, self._sources = source, sources if sources is not None else {}
        self.staged: dict[Any, Any] = {}

    def _stage(self, key: Any, item: Component | Command, what: str) -> None:
        earlier = self._sources.get((self.kind, key, canonical_distribution_name(self.distribution)))
        if key in self.staged or (earlier is not None and earlier != self.source):
            raise DuplicateComponentError(f"{what} is registered twice by {self.distribution}")
        self.staged[key] = item  # registered before by this same plugin: replaced on commit


class ComponentRegistry(_Staging):
    """What an ``invprob_register_<kind>`` hook receives: adds components of one kind."""

    def __init__(self, kind: str, distribution: str, **sources: Any):
        super().__init__(distribution, **sources)
        self.kind = kind

    def add(
        self,
        name: str,
        factory: Callable[[Any, Any], Any],
        *,
        params_model: type[Params] = Params,
        description: str | None = None,
        examples: Iterable[Mapping[str, Any]] = (),
        defaults: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    ) -> None:
        """Register ``name``: ``factory(params, context)`` builds it from validated params.

        ``params_model`` (a subclass of :class:`invprob.params.Params`, whose docstring is the
        description) validates and documents the params; ``examples`` are params the
        conformance suites build it with. A solver may declare ``defaults``: the recipe-level
        ``losses``/``priors`` (lists of ``{type, params?, weight?}``) it wants when a recipe
        omits them.
        """
        what = f"{singular(self.kind)} {name!r}"
        if not re.fullmatch(r"[a-z0-9][a-z0-9_\-]*", name):
            raise RegistryError(f"{what} of {self.distribution}: use lower-case letters, digits, '-' or '_'")
        if not (isinstance(params_model, type) and issubclass(params_model, Params)):
            raise RegistryError(f"{what} of {self.distribution}: params_model must subclass invprob.params.Params")
        if defaults and self.kind != "solvers":
            raise RegistryError(f"{what} of {self.distribution}: only solvers declare defaults")
        try:
            checked = _solver_defaults().validate_python(dict(defaults)) if defaults else {}
        except ValidationError as exc:
            shape = "defaults map 'losses'/'priors' to lists of {type, params?, weight?}"
            raise RegistryError(f"{what} of {self.distribution}: {shape}; {exc}") from None
        doc = description if description is not None else "" if params_model is Params else params_model.__doc__
        component = Component(
            kind=self.kind,
            name=name,
            factory=factory,
            params_model=params_model,
            distribution=self.distribution,
            description=(doc or "").strip().split("\n", 1)[0],
            examples=tuple(dict(e) for e in examples),
            defaults={key: [item.model_dump(exclude_unset=True) for item in a] for key, a in checked.items()},
        )
        self._stage(name, component, what)


class CommandRegistry(_Staging):
    """What ``invprob_register_commands`` receives: adds CLI subcommands."""

    def add(
        self,
        name: str,
        run: Callable[[argparse.Namespace], int],
        *,
        help: str,
        configure: Callable[[argparse.ArgumentParser], None] = lambda parser: None,
    ) -> None:
        """Register ``invprob <name>``; a name with a space (``"train dcgan"``) nests."""
        words = tuple(name.split())
        self._stage(words, Command(words, help, configure, run, self.distribution), f"command 'invprob {name}'")
