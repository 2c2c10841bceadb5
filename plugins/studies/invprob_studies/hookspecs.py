"""The hook that ``invprob-studies`` declares: plugins add study engines.

This module is the distribution's ``invprob.hookspecs`` entry point: the registry adds its
hooks before any plugin registers (:meth:`invprob.registry.Registry.add_hookspecs`), so that
any plugin may implement them. The studies distribution implements it itself for its default
engines, ``local`` and ``ray`` (:mod:`invprob_studies.plugin`), as any other plugin would.

A plugin that also works without ``invprob-studies`` installed marks its implementation
``@invprob.hookimpl(optionalhook=True)``: without it, a hook nobody declares makes the plugin
fail to load ("unknown hook").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invprob.hookspecs import hookspec

if TYPE_CHECKING:
    from invprob_studies.engines import EngineRegistry


@hookspec
def invprob_register_study_engines(registry: EngineRegistry) -> None:
    """Add study engines: ways to run the cells of a study (``invprob study run --engine NAME``).

    ``registry.add(name, run, help=..., configure=..., check=...)`` once per engine
    (:meth:`invprob_studies.engines.EngineRegistry.add`): ``run(session, cells, options)``
    runs the cells through the :class:`invprob_studies.runner.Session` (claim a cell, run it
    with :func:`invprob_studies.cells.execute_cell`, hand its result to ``session.finish``);
    ``configure(group)`` adds the engine's own command-line options, whose values reach
    ``check`` and ``run`` as ``options``. A name two distributions register is left out, with
    a warning.
    """
