"""Progress, history and interruption for long loops.

A :class:`Monitor` is handed to every solver. It draws one progress bar, records scalar
histories without a host sync per step (tensors are kept and converted once at the end),
keeps optional frames for a GIF, and carries the stop request that Ctrl-C sets, so that a
solver can end its loop cleanly and return the best iterate so far.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import torch


class Monitor:
    """Progress bar, scalar history, GIF frames and the stop flag of one run."""

    def __init__(self, *, show_progress: bool = True, frame_every: int | None = None, refresh_every: int = 20):
        self.show_progress = show_progress
        self.frame_every = frame_every
        self.refresh_every = refresh_every
        self.stop_requested = False
        self.frames: list[torch.Tensor] = []
        self._history: dict[str, list[torch.Tensor | float]] = defaultdict(list)
        self._bar = None
        self._steps = 0

    def request_stop(self) -> None:
        """Ask the running solver to stop after its current step (Ctrl-C calls this)."""
        self.stop_requested = True

    def start(self, total: int, description: str = "") -> None:
        """Open a progress bar for ``total`` steps (one per solver round or batch)."""
        self.close()
        if self.show_progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=description, leave=False, file=sys.stderr, dynamic_ncols=True)

    def step(self, image: torch.Tensor | None = None, **scalars: torch.Tensor | float) -> None:
        """Record one optimisation step: scalars (a float, or a tensor whose mean over the batch
        is recorded) and, every ``frame_every`` steps, a frame of ``image``.

        ``image`` is what the solver would report if it stopped now (``[B, C, H, W]``: the best
        iterate so far per image, as :func:`invprob.optimisation.optimise` passes), so that the
        run's GIF shows the result as it improves, not one restart's current iterate.

        Tensors are kept as given, detached, on their device: nothing is computed or read back
        to the host here (the means are taken in one batch when :attr:`history` is read; the
        progress bar reads the latest values every ``refresh_every`` steps). Do not modify a
        recorded tensor in place afterwards.
        """
        for name, value in scalars.items():
            self._history[name].append(value.detach() if isinstance(value, torch.Tensor) else value)
        if image is not None and self.frame_every and self._steps % self.frame_every == 0:
            self.frames.append(image.detach().to("cpu", torch.float32).clone())
        self._steps += 1
        if self._bar is not None:
            self._bar.update(1)
            if scalars and self._steps % self.refresh_every == 0:
                self._bar.set_postfix({k: f"{_mean(v[-1]):.4g}" for k, v in self._history.items()}, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    @property
    def history(self) -> dict[str, list[float]]:
        """Every recorded scalar (batch means) as a list of floats, in step order."""
        out: dict[str, list[float]] = {}
        for name, values in self._history.items():
            tensors = [v for v in values if isinstance(v, torch.Tensor)]
            if tensors and len(tensors) == len(values) and len({t.shape for t in tensors}) == 1:
                # one stack, one mean and one transfer for the whole history
                stacked = torch.stack(tensors).float().reshape(len(tensors), -1)
                out[name] = stacked.mean(dim=1).cpu().tolist()
            else:
                out[name] = [_mean(v) for v in values]
        return out


def _mean(value: torch.Tensor | float) -> float:
    return float(value.detach().float().mean()) if isinstance(value, torch.Tensor) else float(value)
