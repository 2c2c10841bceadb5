"""Colorization forward model: RGB to grey by averaging the channels (LCM, section 4).

``A(x) = (1/C) sum_c x_c`` maps ``[B, C, H, W]`` to ``[B, 1, H, W]``; its adjoint spreads a
grey image back over the channels, ``A*(y)_c = y / C``.
"""

from __future__ import annotations

import torch

from invprob.operator import NoiseModel, Operator


class Colorize(Operator):
    """Grey = mean of the colour channels (LCM's "simple averaging")."""

    linear = True

    def __init__(self, channels: int = 3, noise: NoiseModel | None = None):
        super().__init__(noise)
        if channels < 1:
            raise ValueError(f"colorize needs at least one channel, got {channels}")
        self.channels = channels

    def A(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(
                f"colorize was built for {self.channels}-channel images, got shape {list(x.shape)}"
            )
        return x.mean(dim=1, keepdim=True)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        if y.dim() != 4 or y.shape[1] != 1:
            raise ValueError(f"colorize's adjoint takes grey images [B, 1, H, W], got {list(y.shape)}")
        return y.expand(-1, self.channels, -1, -1) / self.channels
