"""The hook the application declares: plugins draw the figures of a finished run.

This module is the core's ``invprob.hookspecs`` entry point (light: no torch), declared before
any plugin registers (:meth:`invprob.registry.Registry.add_hookspecs`); a plugin implements
the hook with :data:`invprob.hookimpl` and never imports the application.
``invprob-plugin-figures`` implements it: ``grid.png``, ``loss.png``, ``optimisation.gif``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invprob.hookspecs import hookspec

if TYPE_CHECKING:
    from invprob.app.outputs import RunFigures


@hookspec
def invprob_write_run_figures(run: RunFigures) -> None:
    """Write figures of a finished run into its directory, each with ``run.write(name, save)``.

    ``run`` (:class:`invprob.app.outputs.RunFigures`) holds the recipe, the images' names, the
    solvers' results (histories, GIF frames), the observed images, reconstructions and ground
    truth in [-1, 1] (None when absent) and the grid's per-row PSNR notes. ``save(path)`` is
    called with ``run.directory / name``; an ``OSError`` it raises (a full disk) is said on the
    terminal and listed under ``failed_outputs`` in ``metrics.json``, and the run goes on.
    """
