"""The hook that draws a run's figures (kept light: matplotlib and Pillow load when a run ends)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invprob import hookimpl

if TYPE_CHECKING:
    from invprob.app.outputs import RunFigures


@hookimpl
def invprob_write_run_figures(run: RunFigures) -> None:
    """``grid.png``, ``loss.png`` (when a loss was recorded) and ``optimisation.gif`` (when the
    recipe asks for it), each through ``run.write``: a full disk loses that figure only."""
    import torch

    from invprob_plugin_figures import pictures

    recipe = run.recipe
    title = f"{recipe.solver.type} on {recipe.operator.type}" + (f" ({recipe.name})" if recipe.name else "")
    columns = {"observed": run.observed, "reconstruction": run.reconstruction, "ground truth": run.truth}
    run.write("grid.png", lambda path: pictures.save_grid(columns, run.names, path, row_notes=run.row_notes, title=title))
    histories = [r.history for r in run.results]
    if any(any(h.values()) for h in histories):
        run.write("loss.png", lambda path: pictures.plot_history(histories, path))
    if recipe.outputs.gif:
        first = run.results[0]
        frames = [*first.frames, first.best_image.detach().to("cpu", torch.float32)]  # it ends on what is reported
        count = first.best_image.shape[0]
        steps = [f"step {k * recipe.outputs.gif_every}" for k in range(len(first.frames))]  # the monitor's frames
        batch = {k: torch.stack([v[i] for i in range(count)]).cpu() if v is not None else None
                 for k, v in (("observed", run.observed), ("truth", run.truth))}  # fmt: skip
        run.write("optimisation.gif", lambda path: pictures.save_gif(
            frames, path, steps=[*steps, "result"], names=run.names[:count], **batch))  # fmt: skip
