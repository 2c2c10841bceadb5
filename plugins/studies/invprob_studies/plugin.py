"""The plugin of ``invprob-studies``: the ``invprob study`` commands and the default engines.

``invprob study plan|run|report`` are registered through the core's commands hook, like any
plugin's commands; ``local`` and ``ray`` through this distribution's own
``invprob_register_study_engines`` hook (:mod:`invprob_studies.hookspecs`), as a plugin that
adds an engine does. Nothing heavy is imported here: torch, the runner and the report load
when a command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invprob import hookimpl

if TYPE_CHECKING:
    from invprob.registry import CommandRegistry

    from invprob_studies.engines import EngineRegistry


@hookimpl
def invprob_register_commands(registry: CommandRegistry) -> None:
    from invprob_studies import cli

    registry.add("study run", cli.cmd_study_run, configure=cli.configure_run,
                 help="run the cells of a study not yet done (resumes where it stopped)")  # fmt: skip
    registry.add("study plan", cli.cmd_study_plan, configure=cli.configure_plan,
                 help="print the cells of a study without running them")  # fmt: skip
    registry.add("study report", cli.cmd_study_report, configure=cli.configure_report,
                 help="write the HTML report of a study directory")  # fmt: skip


@hookimpl
def invprob_register_study_engines(registry: EngineRegistry) -> None:
    from invprob_studies import engines, ray_engine

    registry.add("local", engines.run_local, help="the cells one after another in this process, models shared")
    registry.add("ray", ray_engine.run_ray, configure=ray_engine.configure, check=ray_engine.check,
                 help="each cell a Ray task, locally or on a cluster (pip install 'invprob-studies[ray]')")  # fmt: skip
