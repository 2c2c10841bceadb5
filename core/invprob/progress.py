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
        self._offset = 0

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
        """Record one optimisation step: scalar values (mean over the batch) and maybe a frame.

        Tensors are kept on their device (no host sync); the progress bar reads the latest
        values back only every ``refresh_every`` steps, and a frame is copied to the host only
        every ``frame_every`` steps.
        """
        for name, value in scalars.items():
            if isinstance(value, torch.Tensor):
                value = value.detach().float().mean()
            self._history[name].append(value)
        if image is not None and self.frame_every and self._steps % self.frame_every == 0:
            self.frames.append(image.detach().to("cpu", torch.float32).clone())
        self._steps += 1
        if self._bar is not None:
            self._bar.update(1)
            if scalars and self._steps % self.refresh_every == 0:
                self._bar.set_postfix({k: f"{float(v[-1]):.4g}" for k, v in self._history.items()}, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    @property
    def history(self) -> dict[str, list[float]]:
        """Every recorded scalar as a list of floats, in step order."""
        out: dict[str, list[float]] = {}
        for name, values in self._history.items():
            tensors = [v for v in values if isinstance(v, torch.Tensor)]
            if len(tensors) == len(values) and tensors:
                out[name] = torch.stack(tensors).cpu().tolist()  # one transfer for the whole history
            else:
                out[name] = [float(v) for v in values]
        return out
