"""Study engines: a registered kind, added by plugins through ``invprob_register_study_engines``.

An engine runs the pending cells of a study. :func:`study_engines` collects the engines every
loaded plugin registers (:mod:`invprob_studies.hookspecs`); this distribution registers two
(:mod:`invprob_studies.plugin`): ``local`` (:func:`run_local`, here) and ``ray``
(:mod:`invprob_studies.ray_engine`).

An engine's own options (``--workers`` and ``--address`` for ``ray``) are declared once, by
its ``configure(group)``: ``invprob study run`` adds them to its command line in a group per
engine, and :func:`engine_options` reads their names from it, so that ``run_study(...,
engine="ray", workers=2)`` takes the same options from Python. An option is "not given" while
it is None; one given to an engine that does not declare it is refused, naming the engines
that do.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from invprob.hints import suggest

if TYPE_CHECKING:
    from invprob.registry import Registry

    from invprob_studies.runner import Session
    from invprob_studies.spec import Cell

HOOK = "invprob_register_study_engines"
NAME_PATTERN = r"[a-z0-9][a-z0-9_\-]*"

RunCells = Callable[["Session", "list[Cell]", Mapping[str, Any]], None]


class EngineError(ValueError):
    """An engine that does not exist, or options that do not fit it."""


@dataclass(frozen=True)
class Engine:
    """A registered study engine (:meth:`EngineRegistry.add` says what each field does)."""

    name: str
    run: RunCells
    help: str
    configure: Callable[[Any], None]
    check: Callable[[Mapping[str, Any]], None]
    distribution: str

    def options(self) -> list[str]:
        """The names (``dest``) of the options ``configure`` declares."""
        parser = argparse.ArgumentParser(add_help=False)
        self.configure(parser)
        return [action.dest for action in parser._actions]


class EngineRegistry:
    """What ``invprob_register_study_engines`` receives: adds the engines of one distribution."""

    def __init__(self, distribution: str):
        self.distribution = distribution
        self.staged: dict[str, Engine] = {}

    def add(
        self,
        name: str,
        run: RunCells,
        *,
        help: str,
        configure: Callable[[Any], None] = lambda group: None,
        check: Callable[[Mapping[str, Any]], None] = lambda options: None,
    ) -> None:
        """Register engine ``name``.

        ``run(session, cells, options)`` runs ``cells`` (the pending ones) through ``session``
        and returns when each is finished, failed, held by another process or left because
        ``session.stopping``. ``configure(group)`` adds the engine's options to an ``argparse``
        group (give each ``default=None``: None is "not given"). ``check(options)`` refuses
        options that do not fit, or a missing dependency, with a ``ValueError`` whose message is
        shown as it is, before anything is written. ``help`` is one line for ``--help``.
        """
        import re

        if not re.fullmatch(NAME_PATTERN, name):
            raise EngineError(f"study engine {name!r} of {self.distribution}: use lower-case letters, digits, '-' or '_'")
        if name in self.staged:
            raise EngineError(f"study engine {name!r} is registered twice by {self.distribution}")
        self.staged[name] = Engine(name, run, help, configure, check, self.distribution)


@dataclass(frozen=True)
class Engines:
    """The engines of a registry by name, and the clashes left out."""

    by_name: Mapping[str, Engine]
    warnings: tuple[str, ...] = ()

    def get(self, name: str) -> Engine:
        """Engine ``name``, or an :class:`EngineError` with a did-you-mean and the engines there are."""
        if name in self.by_name:
            return self.by_name[name]
        close = suggest(name, list(self.by_name), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise EngineError(f"unknown engine {name!r}{hint} (registered engines: {', '.join(self.by_name) or 'none'})")


def study_engines(registry: Registry) -> Engines:
    """The engines the plugins loaded in ``registry`` register, asked afresh (a plugin
    registered since is seen; asking is a few function calls).

    Each plugin's hook runs in isolation: one that raises is recorded as its plugin's failure
    and registers nothing. A name two distributions register is left out, with a warning.
    """
    found: dict[str, Engine] = {}
    clashes: dict[str, list[str]] = {}
    for staging in registry.call_each(HOOK, EngineRegistry):
        for name, engine in staging.staged.items():
            if name in clashes:
                clashes[name].append(engine.distribution)
            elif name in found and found[name].distribution != engine.distribution:
                clashes[name] = [found.pop(name).distribution, engine.distribution]
            else:
                found[name] = engine
    warnings = tuple(
        f"study engine {name!r} is registered by both {' and '.join(owners)}; it is left out"
        for name, owners in clashes.items()
    )
    return Engines(dict(sorted(found.items())), warnings)


def engine_options(engine: Engine, engines: Engines, given: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``given`` that are given (not None), checked against what ``engine``
    declares; an :class:`EngineError` names the engines an option belongs to."""
    options = {key: value for key, value in given.items() if value is not None}
    declared = engine.options()
    foreign = sorted(key for key in options if key not in declared)
    if foreign:
        flags = " and ".join(f"--{key.replace('_', '-')}" for key in foreign)
        owners = sorted({e.name for e in engines.by_name.values() for key in foreign if key in e.options()})
        what = "are options" if len(foreign) > 1 else "is an option"
        where = f"of engine {' or '.join(repr(o) for o in owners)}" if owners else "of no engine"
        raise EngineError(f"{flags} {what} {where}, not of engine {engine.name!r}")
    return options


def add_engine_arguments(parser: argparse.ArgumentParser, engines: Engines) -> None:
    """``--engine NAME`` and every engine's own options, one group per engine, on ``parser``,
    which keeps ``engines`` (``args.study_engines``) so that a command asks the plugins once."""
    parser.set_defaults(study_engines=engines)
    names = ", ".join(engines.by_name) or "none"
    described = "; ".join(f"{e.name}: {e.help}" for e in engines.by_name.values())
    parser.add_argument("--engine", default="local", metavar="NAME",
                        help=f"how the cells run (registered: {names}; default local). {described}")  # fmt: skip
    for engine in engines.by_name.values():
        if engine.options():  # engines that declare the same option share its value ("resolve": no clash)
            title = f"options of the {engine.name} engine [{engine.distribution}]"
            engine.configure(parser.add_argument_group(title, conflict_handler="resolve"))


# -- the local engine ------------------------------------------------------------------------


def run_local(session: Session, cells: list[Cell], options: Mapping[str, Any]) -> None:
    """``local``: ``cells`` one after another in this process, generators shared between them
    (:class:`invprob_studies.cells.SharedModels`)."""
    from invprob.interrupts import Interrupted

    from invprob_studies.cells import SharedModels, execute_cell

    shared = SharedModels(session.registry)
    try:
        for cell in cells:
            if session.stopping:
                break
            if session.claim(cell) != "claimed":
                continue
            try:
                session.started(cell)
                try:
                    result = execute_cell(
                        cell.recipe, cell.base_dir, session.store.path, cell.id, registry=shared, device=session.device
                    )
                except Interrupted as exc:  # a signal while the cell was starting: nothing to keep
                    session.outcome.signal = exc.signum
                    session.progress.finished(cell, "interrupted", 0.0, ": not recorded, a rerun redoes it")
                    break
                session.record(cell, result)
            finally:
                session.store.unlock(cell.id)
    finally:
        session.add_model_stats(shared)
