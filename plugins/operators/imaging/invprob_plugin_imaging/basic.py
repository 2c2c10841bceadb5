"""The identity operator: the forward model of denoising (with noise) and the base of others."""

from __future__ import annotations

import torch

from invprob.operator import NoiseModel, Operator


class Identity(Operator):
    """``A(x) = x``; ``A* = I``. With a noise model it is the denoising forward model
    ``y = x + sigma * n`` (optionally clipped to [-1, 1])."""

    linear = True

    def __init__(self, noise: NoiseModel | None = None):
        super().__init__(noise)

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return y
