"""Which components exist, who provides them, and how to build them.

Plugins are discovered through the ``invprob`` entry-point group. Each entry point is loaded
and its hooks are called in isolation: a plugin that fails to import, implements a misspelled
hook, raises inside a hook or registers a name that another distribution already registered is
recorded as a :class:`PluginFailure` and the others keep working. With
``INVPROB_STRICT_PLUGINS=1`` the first such failure is raised instead (CI sets it).

``INVPROB_LOAD_PLUGINS=a,b`` loads only those distributions; ``INVPROB_DISABLE_PLUGINS=a,b``
skips them. The core's own components (distribution ``invprob``) are always loaded.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.metadata
import os
import re
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy
from pydantic import BaseModel, ConfigDict

from invprob import hookspecs

KINDS: tuple[str, ...] = ("generators", "operators", "priors", "losses", "solvers", "metrics")
ENTRY_POINT_GROUP = "invprob"
CORE_DISTRIBUTION = "invprob"
HOOK_FOR_KIND = {kind: f"invprob_register_{kind}" for kind in KINDS}
COMMAND_HOOK = "invprob_register_commands"


class NoParams(BaseModel):
    """This component takes no parameters."""

    model_config = ConfigDict(extra="forbid")


class RegistryError(Exception):
    """Base class of registry errors."""


class DuplicateComponentError(RegistryError):
    """A component name was registered by two distributions."""


class UnknownComponentError(RegistryError, LookupError):
    """No installed plugin provides the requested component."""

    def __init__(self, kind: str, name: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.name = name


class PluginLoadError(RegistryError):
    """A plugin failed to load (raised only in strict mode)."""


def canonical_distribution_name(name: str) -> str:
    """Normalise a distribution name as packaging does (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def suggest(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Close matches of ``word`` among ``candidates``, best first."""
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)


@dataclass(frozen=True)
class Component:
    """A registered component: a name, a factory and the pydantic model of its parameters.

    The factory is called as ``factory(params, context)`` with validated params (an instance
    of ``params_model``) and an :class:`invprob.context.BuildContext`.
    """

    kind: str
    name: str
    factory: Callable[[Any, Any], Any]
    params_model: type[BaseModel]
    distribution: str
    description: str = ""
    examples: tuple[Mapping[str, Any], ...] = ()
    defaults: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)

    def validate_params(self, params: Mapping[str, Any] | None, **context: Any) -> BaseModel:
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


@dataclass
class PluginFailure:
    """A plugin that could not be loaded, and why."""

    entry_point: str
    distribution: str
    version: str | None
    error: str
    traceback: str = ""

    def summary(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"{self.distribution}{version} (entry point {self.entry_point!r}): {self.error}"


@dataclass
class DistributionInfo:
    """A distribution that contributes to invprob, with what it registered."""

    name: str
    version: str | None
    entry_points: list[str] = field(default_factory=list)
    components: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    commands: list[str] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "components": {kind: sorted(names) for kind, names in self.components.items()},
            "commands": sorted(self.commands),
            "error": self.error,
        }


class ComponentRegistry:
    """What a ``invprob_register_<kind>`` hook receives: adds components of one kind."""

    def __init__(self, owner: Registry, kind: str, distribution: str):
        self._owner = owner
        self.kind = kind
        self.distribution = distribution

    def add(
        self,
        name: str,
        factory: Callable[[Any, Any], Any],
        *,
        params_model: type[BaseModel] = NoParams,
        description: str | None = None,
        examples: Iterable[Mapping[str, Any]] = (),
        defaults: Mapping[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        """Register ``name``: ``factory(params, context)`` builds it from validated params.

        ``params_model`` documents and validates the parameters (use ``extra="forbid"``);
        ``examples`` are parameter sets the conformance suites and docs build it with;
        ``defaults`` (solvers) are the recipe's ``losses``/``priors`` when it names none.
        """
        if not re.fullmatch(r"[a-z0-9][a-z0-9_\-]*", name):
            raise RegistryError(
                f"component name {name!r} from {self.distribution} must be lower-case letters, "
                "digits, '-' or '_'"
            )
        if not (isinstance(params_model, type) and issubclass(params_model, BaseModel)):
            raise RegistryError(f"params_model of {self.kind[:-1]} {name!r} must be a pydantic model")
        doc = description if description is not None else (params_model.__doc__ or "")
        self._owner._add_component(
            Component(
                kind=self.kind,
                name=name,
                factory=factory,
                params_model=params_model,
                distribution=self.distribution,
                description=doc.strip().splitlines()[0] if doc.strip() else "",
                examples=tuple(dict(e) for e in examples),
                defaults=dict(defaults or {}),
            )
        )


class CommandRegistry:
    """What ``invprob_register_commands`` receives: adds CLI subcommands."""

    def __init__(self, owner: Registry, distribution: str):
        self._owner = owner
        self.distribution = distribution

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
        if words in self._owner.commands:
            other = self._owner.commands[words].distribution
            raise DuplicateComponentError(
                f"command 'invprob {name}' is registered by both {other} and {self.distribution}"
            )
        self._owner.commands[words] = Command(words, help, configure, run, self.distribution)


class _PrefixPluginManager(pluggy.PluginManager):
    """Treats every ``invprob_*`` function as a hook implementation, marked or not.

    Unmarked misspellings (``invprob_register_operator``) are then caught by ``check_pending``
    instead of being silently ignored.
    """

    def parse_hookimpl_opts(self, plugin: object, name: str):  # type: ignore[override]
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith("invprob_") and callable(getattr(plugin, name, None)):
            return {
                "wrapper": False,
                "hookwrapper": False,
                "optionalhook": False,
                "tryfirst": False,
                "trylast": False,
                "specname": None,
            }
        return opts


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    return {canonical_distribution_name(part.strip()) for part in raw.split(",") if part.strip()}


def strict_mode_from_env() -> bool:
    return os.environ.get("INVPROB_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes"}


class Registry:
    """All components and commands, by kind and name, with the plugins that gave them."""

    def __init__(self, *, strict: bool = False):
        self.strict = strict
        self.components: dict[str, dict[str, Component]] = {kind: {} for kind in KINDS}
        self.commands: dict[tuple[str, ...], Command] = {}
        self.failures: list[PluginFailure] = []
        self.distributions: dict[str, DistributionInfo] = {}
        self._plugin_manager = _PrefixPluginManager(hookspecs.PROJECT_NAME)
        self._plugin_manager.add_hookspecs(hookspecs)
        self._plugins: dict[int, tuple[object, str]] = {}

    # -- registration -------------------------------------------------------------------

    def register_plugin(
        self,
        plugin: object,
        *,
        distribution: str,
        version: str | None = None,
        entry_point: str | None = None,
    ) -> bool:
        """Register a plugin object (a module or any object with hook functions).

        Returns False, and records a failure, when the plugin is broken; raises
        :class:`PluginLoadError` instead in strict mode.
        """
        entry_point = entry_point or getattr(plugin, "__name__", type(plugin).__name__)
        info = self.distributions.setdefault(distribution, DistributionInfo(distribution, version))
        info.entry_points.append(entry_point)
        plugin_name = f"{distribution}:{entry_point}:{id(plugin)}"
        before = self._snapshot()
        try:
            self._plugin_manager.register(plugin, name=plugin_name)
            self._check_hook_names(plugin)
            self._call_hooks(plugin, distribution)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must never take the rest down
            self._restore(before)
            if self._plugin_manager.is_registered(plugin):
                self._plugin_manager.unregister(plugin)
            self._record_failure(entry_point, distribution, version, exc)
            return False
        self._plugins[id(plugin)] = (plugin, distribution)
        return True

    def unregister_plugin(self, plugin: object) -> None:
        """Remove a plugin and everything its distribution registered through it."""
        entry = self._plugins.pop(id(plugin), None)
        if entry is None:
            return
        _, distribution = entry
        if self._plugin_manager.is_registered(plugin):
            self._plugin_manager.unregister(plugin)
        for kind in KINDS:
            for name in [n for n, c in self.components[kind].items() if c.distribution == distribution]:
                del self.components[kind][name]
        for words in [w for w, c in self.commands.items() if c.distribution == distribution]:
            del self.commands[words]
        if not any(d == distribution for _, d in self._plugins.values()):
            self.distributions.pop(distribution, None)

    def load_entry_points(
        self,
        *,
        only: set[str] | None = None,
        disable: set[str] | None = None,
        entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
    ) -> None:
        """Load every plugin of the ``invprob`` entry-point group, each on its own."""
        if entry_points is None:
            entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        seen: set[tuple[str, str]] = set()
        for ep in sorted(entry_points, key=lambda e: (_dist_name(e), e.name)):
            dist = _dist_name(ep)
            key = (canonical_distribution_name(dist), ep.name)
            if key in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add(key)
            if only is not None and key[0] not in only:
                continue
            if disable is not None and key[0] in disable:
                continue
            version = ep.dist.version if ep.dist is not None else None
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001
                self.distributions.setdefault(dist, DistributionInfo(dist, version)).entry_points.append(
                    ep.name
                )
                self._record_failure(ep.name, dist, version, exc)
                continue
            self.register_plugin(plugin, distribution=dist, version=version, entry_point=ep.name)

    # -- lookup -------------------------------------------------------------------------

    def names(self, kind: str) -> list[str]:
        return sorted(self.components[_check_kind(kind)])

    def get(self, kind: str, name: str) -> Component:
        """The component ``name`` of ``kind``; a helpful :class:`UnknownComponentError` if absent."""
        components = self.components[_check_kind(kind)]
        if name in components:
            return components[name]
        raise UnknownComponentError(kind, name, self.unknown_component_message(kind, name))

    def unknown_component_message(self, kind: str, name: str) -> str:
        from invprob.catalog import KNOWN_PROVIDERS, distribution_providing

        installed_dists = {canonical_distribution_name(d) for d in self.distributions}

        def not_installed(provider: str | None) -> bool:
            return provider is not None and canonical_distribution_name(provider) not in installed_dists

        parts = [f"unknown {kind[:-1]} {name!r}"]
        provider = distribution_providing(kind, name)
        if not_installed(provider):
            parts.append(f"it is provided by {provider}: pip install {provider}")
            return "; ".join(parts)
        close = suggest(name, set(self.components[kind]) | set(KNOWN_PROVIDERS.get(kind, {})))
        if close:
            hints = []
            for candidate in close:
                other = distribution_providing(kind, candidate)
                missing = candidate not in self.components[kind] and not_installed(other)
                hints.append(f"{candidate!r} (pip install {other})" if missing else repr(candidate))
            parts.append(f"did you mean {' or '.join(hints)}?")
        else:
            parts.append(f"installed {kind}: {', '.join(self.names(kind)) or 'none'}")
        return "; ".join(parts)

    def build(self, kind: str, name: str, params: Mapping[str, Any] | BaseModel | None, context: Any) -> Any:
        """Build component ``name`` of ``kind`` from params."""
        return self.get(kind, name).build(params, context)

    def as_json(self) -> dict[str, Any]:
        """The machine-readable listing printed by ``invprob plugins --json``."""
        return {
            "distributions": [
                info.as_json() for info in sorted(self.distributions.values(), key=lambda d: d.name)
            ],
            "failures": [
                {
                    "entry_point": f.entry_point,
                    "distribution": f.distribution,
                    "version": f.version,
                    "error": f.error,
                }
                for f in self.failures
            ],
        }

    # -- internals ----------------------------------------------------------------------

    def _add_component(self, component: Component) -> None:
        existing = self.components[component.kind].get(component.name)
        if existing is not None:
            raise DuplicateComponentError(
                f"{component.kind[:-1]} {component.name!r} is registered by both "
                f"{existing.distribution} and {component.distribution}; uninstall one of them "
                "or disable it with INVPROB_DISABLE_PLUGINS"
            )
        self.components[component.kind][component.name] = component
        info = self.distributions.setdefault(component.distribution, DistributionInfo(component.distribution, None))
        info.components[component.kind].append(component.name)

    def _check_hook_names(self, plugin: object) -> None:
        known = {name for name in dir(hookspecs) if name.startswith("invprob_")}
        for name in dir(plugin):
            if name.startswith("invprob_") and callable(getattr(plugin, name)) and name not in known:
                hint = suggest(name, known, n=1)
                did_you_mean = f"; did you mean {hint[0]!r}?" if hint else ""
                raise PluginLoadError(f"unknown hook {name!r}{did_you_mean}")
        self._plugin_manager.check_pending()

    def _call_hooks(self, plugin: object, distribution: str) -> None:
        for kind, hook_name in HOOK_FOR_KIND.items():
            for impl in getattr(self._plugin_manager.hook, hook_name).get_hookimpls():
                if impl.plugin is plugin:
                    impl.function(**_hook_kwargs(impl, ComponentRegistry(self, kind, distribution)))
        for impl in getattr(self._plugin_manager.hook, COMMAND_HOOK).get_hookimpls():
            if impl.plugin is plugin:
                impl.function(**_hook_kwargs(impl, CommandRegistry(self, distribution)))
        info = self.distributions[distribution]
        info.commands = sorted(" ".join(w) for w, c in self.commands.items() if c.distribution == distribution)

    def _snapshot(self) -> tuple[dict[str, dict[str, Component]], dict[tuple[str, ...], Command], dict]:
        return (
            {kind: dict(c) for kind, c in self.components.items()},
            dict(self.commands),
            {name: {k: list(v) for k, v in info.components.items()} for name, info in self.distributions.items()},
        )

    def _restore(self, snapshot: tuple) -> None:
        components, commands, listed = snapshot
        self.components = components
        self.commands = commands
        for name, info in self.distributions.items():
            info.components = listed.get(name, {k: [] for k in KINDS})

    def _record_failure(self, entry_point: str, distribution: str, version: str | None, exc: BaseException) -> None:
        failure = PluginFailure(
            entry_point=entry_point,
            distribution=distribution,
            version=version,
            error=f"{type(exc).__name__}: {exc}",
            traceback="".join(traceback.format_exception(exc)),
        )
        self.failures.append(failure)
        info = self.distributions.setdefault(distribution, DistributionInfo(distribution, version))
        info.error = failure.error if info.error is None else f"{info.error}; {failure.error}"
        if self.strict:
            raise PluginLoadError(f"plugin failed to load: {failure.summary()}") from exc


def _hook_kwargs(impl: pluggy.HookImpl, registry: object) -> dict[str, object]:
    return {name: registry for name in impl.argnames if name == "registry"}


def _dist_name(ep: importlib.metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else ep.module.split(".")[0]


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown component kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def new_registry(
    *,
    strict: bool | None = None,
    entry_points: bool = True,
    only: set[str] | None = None,
    disable: set[str] | None = None,
) -> Registry:
    """A registry with the core's components and (unless disabled) the installed plugins.

    ``strict``, ``only`` and ``disable`` default to ``INVPROB_STRICT_PLUGINS``,
    ``INVPROB_LOAD_PLUGINS`` and ``INVPROB_DISABLE_PLUGINS``.
    """
    from invprob import builtins

    registry = Registry(strict=strict_mode_from_env() if strict is None else strict)
    registry.register_plugin(builtins, distribution=CORE_DISTRIBUTION, version=_core_version(), entry_point="builtins")
    if entry_points:
        registry.load_entry_points(
            only=_env_list("INVPROB_LOAD_PLUGINS") if only is None else only,
            disable=_env_list("INVPROB_DISABLE_PLUGINS") if disable is None else disable,
        )
    return registry


_DEFAULT: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = new_registry()
    return _DEFAULT


def _core_version() -> str | None:
    from invprob import __version__

    return __version__
