"""Which components exist, who provides them, and how to build them.

Every plugin, the core's own :mod:`invprob.default_plugins` included, is found through the
``invprob`` entry-point group and loaded in isolation: its registrations are staged and
committed only when all its hooks have returned. A plugin that fails to import, implements an
unknown hook, raises in a hook or registers a name another distribution registered leaves
nothing behind; it is recorded as a :class:`PluginFailure` and the others keep working. With
``INVPROB_STRICT_PLUGINS=1`` the first failure is raised instead (CI sets it).

``INVPROB_LOAD_PLUGINS=a,b`` loads only those distributions, ``INVPROB_DISABLE_PLUGINS=a,b``
skips them; the core's own distribution (``invprob``) is always loaded.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pluggy
from pydantic import BaseModel, TypeAdapter, ValidationError

from invprob import hookspecs
from invprob.hints import singular, suggest, unknown_component_message
from invprob.params import Params

if TYPE_CHECKING:
    import torch

KINDS: tuple[str, ...] = ("generators", "operators", "priors", "losses", "solvers", "metrics")
ENTRY_POINT_GROUP = "invprob"
CORE_DISTRIBUTION = "invprob"


class RegistryError(Exception):
    """Base class of registry errors."""


class DuplicateComponentError(RegistryError):
    """A component or command name was registered twice."""


class PluginLoadError(RegistryError):
    """A plugin failed (raised only in strict mode)."""


class UnknownComponentError(RegistryError, LookupError):
    """No installed plugin provides the requested component."""

    def __init__(self, kind: str, name: str, message: str):
        super().__init__(message)
        self.kind, self.name = kind, name


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


@dataclass(frozen=True)
class Distribution:
    """A distribution whose plugins were loaded, or tried to be."""

    name: str
    version: str | None


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that failed to load or to set up the runtime, and why."""

    entry_point: str
    distribution: str
    version: str | None
    error: str
    traceback: str = ""

    def summary(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"{self.distribution}{version} (entry point {self.entry_point!r}): {self.error}"


class _Default(Params):
    type: str
    params: dict[str, Any] = {}
    weight: float = 1.0


_SOLVER_DEFAULTS = TypeAdapter(dict[Literal["losses", "priors"], list[_Default]])


class _Staging:
    """Additions of one plugin, kept apart until the registry commits them (after its hooks)."""

    def __init__(self, distribution: str, registered: Mapping[Any, Component | Command]):
        self.distribution, self._registered = distribution, registered
        self.staged: dict[Any, Any] = {}

    def _stage(self, key: Any, item: Component | Command, what: str) -> None:
        existing = self.staged.get(key) or self._registered.get(key)
        if existing is not None:
            raise DuplicateComponentError(
                f"{what} is registered by both {existing.distribution} and {self.distribution}; "
                "uninstall one of them or disable it with INVPROB_DISABLE_PLUGINS"
            )
        self.staged[key] = item


class ComponentRegistry(_Staging):
    """What an ``invprob_register_<kind>`` hook receives: adds components of one kind."""

    def __init__(self, kind: str, distribution: str, registered: Mapping[str, Component]):
        super().__init__(distribution, registered)
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
            checked = _SOLVER_DEFAULTS.validate_python(dict(defaults or {}))
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


class _PrefixPluginManager(pluggy.PluginManager):
    """Takes every ``invprob_*`` function for a hook implementation, marked or not (as pytest
    does with ``pytest_*``), so that a misspelled hook is caught instead of ignored."""

    def parse_hookimpl_opts(self, plugin: object, name: str):  # type: ignore[override]
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith("invprob_") and callable(getattr(plugin, name, None)):
            return dict(wrapper=False, hookwrapper=False, optionalhook=False, tryfirst=False, trylast=False,
                        specname=None)  # fmt: skip
        return opts


class Registry:
    """All components and commands, by kind and name, with the distributions that gave them."""

    def __init__(self, *, strict: bool = False):
        self.strict = strict
        self.components: dict[str, dict[str, Component]] = {kind: {} for kind in KINDS}
        self.commands: dict[tuple[str, ...], Command] = {}
        self.distributions: dict[str, Distribution] = {}
        self.failures: list[PluginFailure] = []
        self._hooks = _PrefixPluginManager(hookspecs.PROJECT_NAME)
        self._hooks.add_hookspecs(hookspecs)

    def register_plugin(
        self, plugin: object, *, distribution: str, version: str | None = None, entry_point: str | None = None
    ) -> bool:
        """Register a plugin: a module, or any object, with ``invprob_*`` hook functions.

        Returns False, and records a failure, when the plugin is broken (strict mode raises
        :class:`PluginLoadError`); then nothing it registered is kept.
        """
        entry_point = entry_point or getattr(plugin, "__name__", type(plugin).__name__)
        self.distributions.setdefault(distribution, Distribution(distribution, version))
        kinds = [ComponentRegistry(kind, distribution, self.components[kind]) for kind in KINDS]
        commands = CommandRegistry(distribution, self.commands)
        try:
            self._hooks.register(plugin, name=f"{distribution}:{entry_point}")  # parsed by setup_runtime
            try:
                self._check_hook_names(plugin)
                for registry in kinds:
                    self._call(plugin, f"invprob_register_{registry.kind}", registry=registry)
                self._call(plugin, "invprob_register_commands", registry=commands)
            except BaseException:
                self._hooks.unregister(plugin)
                raise
        except Exception as exc:  # noqa: BLE001 - a broken plugin must never take the rest down
            self._record_failure(entry_point, distribution, exc)
            return False
        for registry in kinds:
            self.components[registry.kind].update(registry.staged)
        self.commands.update(commands.staged)
        return True

    def load_entry_points(self, *, only: set[str] | None = None, disable: set[str] | None = None) -> None:
        """Load the plugins of the ``invprob`` entry-point group, the core's first, each on its own.

        ``only``/``disable`` name distributions (any spelling: ``a_b`` is ``a-b``); neither
        applies to the core.
        """
        only = None if only is None else {canonical_distribution_name(name) for name in only}
        disable = {canonical_distribution_name(name) for name in disable or ()}
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        seen: set[tuple[str, str]] = set()
        for ep in sorted(entry_points, key=lambda e: (_dist_name(e) != CORE_DISTRIBUTION, _dist_name(e), e.name)):
            dist, version = _dist_name(ep), ep.dist.version if ep.dist is not None else None
            key = canonical_distribution_name(dist)
            if (key, ep.name) in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add((key, ep.name))
            if key != CORE_DISTRIBUTION and (key in disable or (only is not None and key not in only)):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001
                self.distributions.setdefault(dist, Distribution(dist, version))
                self._record_failure(ep.name, dist, exc)
                continue
            self.register_plugin(plugin, distribution=dist, version=version, entry_point=ep.name)

    def setup_runtime(self, device: torch.device | str) -> list[PluginFailure]:
        """Call every plugin's ``invprob_setup_runtime(device)``, each in isolation.

        A hook that raises is recorded as its plugin's failure (strict mode raises) and the
        others still run; the run goes on without what it would have set up (a kernel
        plugin's faster kernels). Returns the failures of this call.
        """
        failures = []
        for impl in self._hooks.hook.invprob_setup_runtime.get_hookimpls():
            try:
                impl.function(**{arg: device for arg in impl.argnames})
            except Exception as exc:  # noqa: BLE001
                distribution, entry_point = impl.plugin_name.split(":", 1)
                failures.append(self._record_failure(entry_point, distribution, exc))
        return failures

    def names(self, kind: str) -> list[str]:
        """The registered names of ``kind``, sorted."""
        return sorted(self.components[_check_kind(kind)])

    def get(self, kind: str, name: str) -> Component:
        """The component ``name`` of ``kind``; a helpful :class:`UnknownComponentError` if absent."""
        if name in self.components[_check_kind(kind)]:
            return self.components[kind][name]
        raise UnknownComponentError(kind, name, unknown_component_message(self, kind, name))

    def build(self, kind: str, name: str, params: Mapping[str, Any] | BaseModel | None, context: Any) -> Any:
        """Build component ``name`` of ``kind`` from params."""
        return self.get(kind, name).build(params, context)

    def _check_hook_names(self, plugin: object) -> None:
        """The one unknown-hook check: every ``invprob_*`` function, marked or not, has a spec."""
        for caller in self._hooks.get_hookcallers(plugin) or []:
            if not caller.has_spec():
                hint = suggest(caller.name, [n for n in dir(hookspecs) if n.startswith("invprob_")], n=1)
                did_you_mean = f"; did you mean {hint[0]!r}?" if hint else ""
                raise PluginLoadError(f"unknown hook {caller.name!r}{did_you_mean}")

    def _call(self, plugin: object, hook_name: str, **kwargs: Any) -> None:
        for impl in getattr(self._hooks.hook, hook_name).get_hookimpls():
            if impl.plugin is plugin:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})

    def _record_failure(self, entry_point: str, distribution: str, exc: BaseException) -> PluginFailure:
        version = self.distributions[distribution].version if distribution in self.distributions else None
        error = f"{type(exc).__name__}: {exc}"
        failure = PluginFailure(entry_point, distribution, version, error, "".join(traceback.format_exception(exc)))
        self.failures.append(failure)
        if self.strict:
            raise PluginLoadError(f"plugin failed: {failure.summary()}") from exc
        return failure


def canonical_distribution_name(name: str) -> str:
    """Normalise a distribution name as packaging does (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _dist_name(ep: importlib.metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else ep.module.split(".")[0]


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown component kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def _env_set(name: str) -> set[str] | None:
    return {part.strip() for part in os.environ.get(name, "").split(",") if part.strip()} or None


def new_registry(
    *,
    strict: bool | None = None,
    entry_points: bool = True,
    only: set[str] | None = None,
    disable: set[str] | None = None,
) -> Registry:
    """A registry with the core's default plugins and, unless ``entry_points`` is False, every
    installed plugin (all found through the ``invprob`` entry points).

    ``strict``, ``only`` and ``disable`` default to ``INVPROB_STRICT_PLUGINS``,
    ``INVPROB_LOAD_PLUGINS`` and ``INVPROB_DISABLE_PLUGINS``.
    """
    if strict is None:
        strict = os.environ.get("INVPROB_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes"}
    registry = Registry(strict=strict)
    if not entry_points:
        only = set()
    registry.load_entry_points(
        only=_env_set("INVPROB_LOAD_PLUGINS") if only is None else only,
        disable=_env_set("INVPROB_DISABLE_PLUGINS") if disable is None else disable,
    )
    return registry


_DEFAULT: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = new_registry()
    return _DEFAULT
