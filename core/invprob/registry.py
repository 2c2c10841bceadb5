"""Which components exist, who provides them, and how to build them.

Every plugin, the core's own :mod:`invprob.default_plugins` included, is found through the
``invprob`` entry-point group and loaded in isolation: its registrations are staged and
committed only when all its hooks have returned. A plugin that fails to import (even by
calling ``sys.exit()`` or raising ``KeyboardInterrupt``), implements an unknown hook or raises
in a hook leaves nothing behind; it is recorded as a :class:`PluginFailure` and the others
keep working. What a plugin prints while it loads goes to stderr, never into a command's
output. With ``INVPROB_STRICT_PLUGINS=1`` the first failure is raised instead (CI sets it).

A name belongs to one distribution. When two register the same name of a kind, both keep
every other component, and the name is *ambiguous*: it is listed in :attr:`Registry.ambiguous`,
no plain lookup finds it, and a recipe must say which one it means, ``DISTRIBUTION:NAME``
(``invprob-plugin-imaging:inpaint-center``), or disable one distribution. Every component can
be named that way. In strict mode a clash is raised. The exception: a name of the core or of
this repository's own plugins (:data:`invprob.first_party.FIRST_PARTY`) stays with its
first-party owner, whatever the order of loading and whether or not the owner is installed,
so that every shipped recipe keeps working, and meaning what it meant, when a third-party
plugin also registers ``psnr`` or ``denoise``: the third party's component is reachable by its
qualified name only, and a warning names the clash (strict mode does not raise it).

A plugin registered *again* (same distribution and entry point, which defaults to the
plugin's ``__name__`` or class name: a notebook re-running the cell that registers it, a module
reloaded with ``importlib.reload``) replaces its own earlier components, commands and hooks, on
purpose: the last definition is the one used. One name registered twice within a plugin, or by
two entry points of one distribution, is still an error.

``INVPROB_LOAD_PLUGINS=a,b`` loads only those distributions, ``INVPROB_DISABLE_PLUGINS=a,b``
skips them; the core's own distribution (``invprob-core``) is always loaded. A name in either that
is no installed plugin distribution is reported in :attr:`Registry.warnings`.

What a plugin's hooks receive and add (:class:`ComponentRegistry`, :class:`Component`, ...)
is :mod:`invprob.registration`; this module loads plugins, commits what they staged, and
looks components up.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy
from pydantic import BaseModel

from invprob import hookspecs
from invprob.first_party import canonical_distribution_name, first_party_distribution
from invprob.hints import singular, suggest, unknown_component_message
from invprob.interrupts import Interrupted, handled_here
from invprob.params import ComponentSpec, Params
from invprob.registration import (  # what plugins register; importable from here too
    Command,
    CommandRegistry,
    Component,
    ComponentRegistry,
    DuplicateComponentError,
    RegistryError,
)

if TYPE_CHECKING:
    import torch

KINDS: tuple[str, ...] = ("generators", "operators", "priors", "losses", "solvers", "metrics")
ENTRY_POINT_GROUP = "invprob"
HOOKSPECS_GROUP = "invprob.hookspecs"
"""Entry points of the modules that declare hooks of their own (:meth:`Registry.add_hookspecs`)."""
CORE_DISTRIBUTION = "invprob-core"
T = TypeVar("T")


class PluginLoadError(RegistryError):
    """A plugin failed (raised only in strict mode)."""


class UnknownComponentError(RegistryError, LookupError):
    """No installed plugin provides the requested component."""

    def __init__(self, kind: str, name: str, message: str):
        super().__init__(message)
        self.kind, self.name = kind, name


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
    traceback: str = field(default="", compare=False)

    def summary(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"{self.distribution}{version} (entry point {self.entry_point!r}): {self.error}"


class Components(dict):
    """The components of one kind by name (a ``dict``), where ``get``, ``[]`` and ``in`` also
    accept ``DISTRIBUTION:NAME``, which finds a name of that distribution even when another
    registers the same name (iteration lists plain, unambiguous names only)."""

    def __init__(self) -> None:
        super().__init__()
        self.qualified: dict[str, Component] = {}

    def get(self, key: Any, default: Any = None) -> Any:
        if not isinstance(key, str):  # names are strings; a fuzzed recipe may hold a list
            return default
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        qualified = qualified_key(key)
        return self.qualified.get(qualified, default) if qualified else default

    def __getitem__(self, key: Any) -> Component:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None


def qualified_key(name: str) -> str | None:
    """``"Invprob_Plugin_Imaging:inpaint-center"`` -> ``"invprob-plugin-imaging:inpaint-center"``;
    None for a plain name."""
    if ":" not in name:
        return None
    distribution, _, plain = name.rpartition(":")
    return f"{canonical_distribution_name(distribution.strip())}:{plain.strip()}"


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
        self.components: dict[str, Components] = {kind: Components() for kind in KINDS}
        self.ambiguous: dict[str, dict[str, list[Component]]] = {kind: {} for kind in KINDS}
        """Per kind, the names several distributions register, with every claimant."""
        self.commands: dict[tuple[str, ...], Command] = {}
        self.distributions: dict[str, Distribution] = {}
        self.failures: list[PluginFailure] = []
        self.warnings: list[str] = []
        """Clashes and misspelled plugin switches: printed by the CLI, listed by ``plugins``."""
        self.excluded: list[str] = []
        """Installed distributions not loaded because of ``only``/``disable``."""
        self._hooks = _PrefixPluginManager(hookspecs.PROJECT_NAME)
        self._hooks.add_hookspecs(hookspecs)
        self._clashing_commands: set[tuple[str, ...]] = set()
        self._sources: dict[tuple[str, Any, str], str] = {}
        """(kind, name, distribution) -> the plugin (``distribution:entry point``) that registered
        it: only that plugin registering it again replaces it."""

    def register_plugin(
        self, plugin: object, *, distribution: str, version: str | None = None, entry_point: str | None = None
    ) -> bool:
        """Register a plugin: a module, or any object, with ``invprob_*`` hook functions.

        Returns False, and records a failure, when the plugin is broken (strict mode raises
        :class:`PluginLoadError`); then nothing it registered is kept.
        """
        entry_point = entry_point or getattr(plugin, "__name__", type(plugin).__name__)
        self.distributions.setdefault(distribution, Distribution(distribution, version))
        hook_name = f"{distribution}:{entry_point}"
        registered_as = self._hooks.get_name(plugin)  # the same object, from its entry point: keep its name
        if registered_as is not None and registered_as.startswith(f"{distribution}:"):
            hook_name = registered_as
        sources = {"source": hook_name, "sources": self._sources}
        kinds = [ComponentRegistry(kind, distribution, **sources) for kind in KINDS]
        commands = CommandRegistry(distribution, **sources)
        previous = self._hooks.get_plugin(hook_name)  # registered before: this call replaces it
        if previous is not None:
            self._hooks.unregister(name=hook_name)
        try:
            with _plugin_code():
                self._hooks.register(plugin, name=hook_name)  # parsed by setup_runtime
                try:
                    self._check_hook_names(plugin)
                    for registry in kinds:
                        self._call(plugin, f"invprob_register_{registry.kind}", registry=registry)
                    self._call(plugin, "invprob_register_commands", registry=commands)
                except BaseException:
                    self._hooks.unregister(plugin)
                    raise
        except (_PluginMisbehaved, Exception) as exc:  # noqa: BLE001 - a broken plugin must never take the rest down
            if previous is not None:  # a failed replacement keeps what was there
                self._hooks.register(previous, name=hook_name)
            self._record_failure(entry_point, distribution, version, exc)
            return False
        for staging in (*kinds, commands):
            for key in staging.staged:
                self._sources[(staging.kind, key, canonical_distribution_name(distribution))] = hook_name
        for registry in kinds:
            self._commit(registry.kind, registry.staged)
        for words, command in commands.staged.items():
            existing = self.commands.pop(words, None)
            if existing is not None and existing.distribution == distribution:
                existing = None  # the same distribution registering it again replaces it
            if existing is None and words not in self._clashing_commands:
                self.commands[words] = command
                continue
            self._clashing_commands.add(words)
            owners = f"{existing.distribution} and {distribution}" if existing else f"another distribution and {distribution}"
            self._clash(f"command 'invprob {' '.join(words)}' is registered by both {owners}; it is left out")
        return True

    def _commit(self, kind: str, staged: Mapping[str, Component]) -> None:
        """Add a plugin's components; a name another distribution has becomes ambiguous, and a
        first-party name (:mod:`invprob.first_party`) stays its first-party owner's."""
        named = self.components[kind]
        for name, component in staged.items():
            named.qualified[f"{canonical_distribution_name(component.distribution)}:{name}"] = component
            if self._replaces(kind, name, component):
                continue
            owner = first_party_distribution(kind, name)
            if owner is not None and canonical_distribution_name(component.distribution) != owner:
                self._shadowed(kind, name, owner, component)
                continue
            if name in self.ambiguous[kind]:
                self.ambiguous[kind][name].append(component)
            elif dict.__contains__(named, name):
                self.ambiguous[kind][name] = [dict.pop(named, name), component]
            else:
                dict.__setitem__(named, name, component)
                continue
            owners = " and ".join(c.distribution for c in self.ambiguous[kind][name])
            self._clash(
                f"{singular(kind)} {name!r} is registered by both {owners}; a recipe must name one "
                f"(type: {component.distribution}:{name}) or disable one with INVPROB_DISABLE_PLUGINS"
            )

    def _shadowed(self, kind: str, name: str, owner: str, other: Component) -> None:
        """``other`` registers a name of this repository's own (``owner``'s): the plain name
        stays first-party (every shipped recipe means what it meant, and never silently gets the
        third party's component when ``owner`` is not installed); ``other``'s is used by its
        qualified name only."""
        message = (
            f"{singular(kind)} {name!r} of {other.distribution} clashes with the first-party {owner}'s: "
            f"{name!r} is {owner}'s; name the other 'type: {other.distribution}:{name}' "
            f"(a third-party plugin should give its components names of their own)"
        )
        if message not in self.warnings:
            self.warnings.append(message)

    def _replaces(self, kind: str, name: str, component: Component) -> bool:
        """Put ``component`` in the place of the one its own distribution registered under
        ``name`` before (a notebook re-running its registration, a reloaded module); False
        when that distribution had no such name."""
        same = canonical_distribution_name(component.distribution)
        claimants = self.ambiguous[kind].get(name, [])
        for index, claimant in enumerate(claimants):
            if canonical_distribution_name(claimant.distribution) == same:
                claimants[index] = component
                return True
        named = self.components[kind]
        existing = dict.get(named, name)
        if existing is not None and canonical_distribution_name(existing.distribution) == same:
            dict.__setitem__(named, name, component)
            return True
        return False

    def _clash(self, message: str) -> None:
        self.warnings.append(message)
        if self.strict:
            raise PluginLoadError(f"plugin clash: {message}")

    def load_entry_points(self, *, only: set[str] | None = None, disable: set[str] | None = None) -> None:
        """Load the plugins of the ``invprob`` entry-point group, the core's first, each on its own.

        ``only``/``disable`` name distributions (any spelling: ``a_b`` is ``a-b``); neither
        applies to the core.
        """
        only = None if only is None else {canonical_distribution_name(name) for name in only}
        disable = {canonical_distribution_name(name) for name in disable or ()}
        for ep in importlib.metadata.entry_points(group=HOOKSPECS_GROUP):  # declarations: never switched off
            try:
                self.add_hookspecs(ep.load())
            except Exception as exc:  # noqa: BLE001 - the declaring distribution is broken; the rest loads
                self._record_failure(f"{HOOKSPECS_GROUP}:{ep.name}", *_dist_identity(ep), exc)
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        seen: set[tuple[str, str]] = set()
        installed: dict[str, str] = {}
        identities = {id(ep): _dist_identity(ep) for ep in entry_points}
        core_first = lambda e: (identities[id(e)][0] != CORE_DISTRIBUTION, identities[id(e)][0], e.name)  # noqa: E731
        for ep in sorted(entry_points, key=core_first):
            dist, version = identities[id(ep)]
            key = canonical_distribution_name(dist)
            installed[key] = dist
            if (key, ep.name) in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add((key, ep.name))
            if key != CORE_DISTRIBUTION and (key in disable or (only is not None and key not in only)):
                if dist not in self.excluded:
                    self.excluded.append(dist)
                continue
            try:
                with _plugin_code():
                    plugin = ep.load()
            except (_PluginMisbehaved, Exception) as exc:  # noqa: BLE001 - recorded, the rest loads
                self._record_failure(ep.name, dist, version, exc)
                continue
            self.register_plugin(plugin, distribution=dist, version=version, entry_point=ep.name)
        for variable, names in (("INVPROB_LOAD_PLUGINS", only or set()), ("INVPROB_DISABLE_PLUGINS", disable)):
            for name in sorted(names - set(installed)):
                close = suggest(name, list(installed), n=1)
                hint = f"; did you mean {installed[close[0]]!r}?" if close else ""
                known = ", ".join(sorted(installed.values()))
                self.warnings.append(
                    f"{variable} names {name!r}, which is not an installed invprob plugin distribution{hint} "
                    f"(installed: {known})"
                )

    def setup_runtime(self, device: torch.device | str) -> list[PluginFailure]:
        """Call every plugin's ``invprob_setup_runtime(device)``, each in isolation.

        A hook that raises is recorded as its plugin's failure (strict mode raises) and the
        others still run; the run goes on without what it would have set up (a kernel
        plugin's faster kernels). Returns the failures this call added.
        """
        before = len(self.failures)
        self.call_each("invprob_setup_runtime", lambda distribution: device)
        return self.failures[before:]

    def add_hookspecs(self, module: object) -> None:
        """Declare the hooks of ``module`` (functions marked with :data:`invprob.hookspecs.hookspec`).

        A distribution that plugins extend declares its hooks this way, through the
        ``invprob.hookspecs`` entry-point group (:meth:`load_entry_points` adds them before any
        plugin registers): ``invprob-studies`` declares ``invprob_register_study_engines``. A
        plugin may then implement them; a plugin that implements a hook of a distribution
        that may be missing marks it ``@invprob.hookimpl(optionalhook=True)``, else it fails
        to load where that distribution is not installed ("unknown hook").
        """
        self._hooks.add_hookspecs(module)

    def call_each(self, hook: str, argument: Callable[[str], T]) -> list[T]:
        """Call every loaded plugin's implementation of ``hook``, each in isolation.

        Each parameter of an implementation receives ``argument(distribution)``, made afresh
        for each plugin (a staging registry of the plugin's distribution, say). Returns those
        arguments of the implementations that returned, in the order called; one that raised
        is recorded as its plugin's failure (strict mode raises) and its argument is left out,
        so that nothing a broken plugin registered is kept. This is how a hook declared with
        :meth:`add_hookspecs` is called by the distribution that declared it.
        """
        returned: list[T] = []
        caller = getattr(self._hooks.hook, hook, None)  # None: neither declared nor implemented here
        for impl in caller.get_hookimpls() if caller is not None else []:
            distribution, entry_point = impl.plugin_name.split(":", 1)
            given = argument(distribution)
            try:
                with _plugin_code():
                    impl.function(**{arg: given for arg in impl.argnames})
            except (_PluginMisbehaved, Exception) as exc:  # noqa: BLE001 - one plugin's failure, the others go on
                self._record_failure(entry_point, distribution, None, exc)
                continue
            returned.append(given)
        return returned

    def names(self, kind: str) -> list[str]:
        """The registered names of ``kind`` that belong to one distribution, sorted."""
        return sorted(self.components[_check_kind(kind)])

    def get(self, kind: str, name: str) -> Component:
        """The component ``name`` (or ``DISTRIBUTION:NAME``) of ``kind``; a helpful
        :class:`UnknownComponentError` if absent or ambiguous."""
        component = self.components[_check_kind(kind)].get(name)
        if component is not None:
            return component
        raise UnknownComponentError(kind, name, unknown_component_message(self, kind, name))

    def build(self, kind: str, name: str, params: Mapping[str, Any] | BaseModel | None, context: Any) -> Any:
        """Build component ``name`` of ``kind`` from params (raw ones are validated first)."""
        return self.get(kind, name).build(params, context)

    def spec_params(self, kind: str, spec: ComponentSpec, base_dir: Any = None) -> Params:
        """The params of component ``spec`` validated: those recipe validation kept with it
        (:attr:`~invprob.params.ComponentSpec.validated_params`), else, for a spec made outside a
        recipe, validated now (relative paths against ``base_dir``). Build with them:
        ``registry.build(kind, spec.type, registry.spec_params(kind, spec, context.base_dir), context)``
        (through :meth:`build`, which a wrapping registry, such as a study's shared models, may
        intercept)."""
        if spec.validated_params is not None:
            return spec.validated_params
        return self.get(kind, spec.type).validate_params(spec.params, base_dir=base_dir)

    def _check_hook_names(self, plugin: object) -> None:
        """The one unknown-hook check: every ``invprob_*`` function, marked or not, has a spec."""
        for caller in self._hooks.get_hookcallers(plugin) or []:
            mine = [impl for impl in caller.get_hookimpls() if impl.plugin is plugin]
            if not caller.has_spec() and not all(impl.optionalhook for impl in mine):
                known = [name for name, hook in vars(self._hooks.hook).items() if getattr(hook, "spec", None)]
                hint = suggest(caller.name, known, n=1)
                did_you_mean = f"; did you mean {hint[0]!r}?" if hint else ""
                raise PluginLoadError(f"unknown hook {caller.name!r}{did_you_mean}")

    def _call(self, plugin: object, hook_name: str, **kwargs: Any) -> None:
        for impl in getattr(self._hooks.hook, hook_name).get_hookimpls():
            if impl.plugin is plugin:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})

    def _record_failure(self, entry_point: str, distribution: str, version: str | None, exc: BaseException) -> None:
        """Record ``exc`` as the plugin's failure (its distribution known from then on, with
        ``version`` unless known before), once: a hook asked again (a distribution's own hook,
        called by each of its commands) that fails the same way is one failure."""
        exc = exc.error if isinstance(exc, _PluginMisbehaved) else exc
        version = self.distributions.setdefault(distribution, Distribution(distribution, version)).version
        error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, SystemExit):
            error = f"the plugin called sys.exit({exc.code!r}) while loading"
        elif isinstance(exc, KeyboardInterrupt):
            error = "the plugin raised KeyboardInterrupt while loading"
        failure = PluginFailure(entry_point, distribution, version, error, "".join(traceback.format_exception(exc)))
        if failure not in self.failures:
            self.failures.append(failure)
        if self.strict:
            raise PluginLoadError(f"plugin failed: {failure.summary()}") from exc


class _PluginMisbehaved(Exception):
    """A plugin raised ``SystemExit`` or a ``KeyboardInterrupt`` of its own while loading."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


@contextlib.contextmanager
def _plugin_code():
    """Around a plugin's own code: what it prints goes to stderr (never into ``--json``
    output), and ``sys.exit()`` or a ``KeyboardInterrupt`` it raises becomes its failure.

    A real Ctrl-C still aborts: under invprob's handlers it arrives as
    :class:`~invprob.interrupts.Interrupted`, and without them a ``KeyboardInterrupt`` cannot
    be told from the user's, so it is raised.
    """
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    except Interrupted:
        raise
    except SystemExit as exc:
        raise _PluginMisbehaved(exc) from None
    except KeyboardInterrupt as exc:
        if not handled_here():
            raise
        raise _PluginMisbehaved(exc) from None


def _dist_identity(ep: importlib.metadata.EntryPoint) -> tuple[str, str | None]:
    """The name and version of the distribution of ``ep``, read from its metadata's headers
    alone: ``Distribution.name``/``.version`` parse the whole file, long description included,
    each time (a good part of the start-up time of ``invprob plugins`` went there)."""
    if ep.dist is None:
        return ep.module.split(".")[0], None
    text = ep.dist.read_text("METADATA") or ep.dist.read_text("PKG-INFO") or ""
    headers = text.replace("\r\n", "\n").split("\n\n", 1)[0]
    name = re.search(r"^Name:[ \t]*(\S+)", headers, re.M)
    version = re.search(r"^Version:[ \t]*(\S+)", headers, re.M)
    if name is None:  # not the usual layout: let importlib.metadata parse it
        return ep.dist.name, ep.dist.version
    return name.group(1), version.group(1) if version else None


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
    if not entry_points:
        registry.excluded.clear()  # left out by the caller, not by a switch a user set
    return registry


_DEFAULT: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = new_registry()
    return _DEFAULT


def replace_default_registry(registry: Registry | None) -> Registry | None:
    """Make ``registry`` the process-wide one (None: load it again on next use) and return the
    one it replaces: the testing kit's ``invprob_registry`` fixture swaps it for one test."""
    global _DEFAULT
    previous, _DEFAULT = _DEFAULT, registry
    return previous
