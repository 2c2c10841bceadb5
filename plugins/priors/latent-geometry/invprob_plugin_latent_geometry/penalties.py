"""The geocross penalty of PULSE: geodesic distances between the layer latents of w+."""

from __future__ import annotations

import torch

from invprob.prior import Penalty, PenaltyContext


class GeocrossPenalty(Penalty):
    """``weight * n / 8 * mean_{i,j} d(w_i, w_j)^2`` per image, over the layer axis of ``w+``.

    For a latent ``[B, L, n]`` (``L`` layer latents of ``n`` entries; further dimensions are
    flattened into ``n``), ``d(x, y) = 2 atan2(||x - y||, ||x + y||)`` is the angle between
    ``x`` and ``y`` (their geodesic distance on the unit sphere), and the mean is over all
    ``L^2`` ordered pairs, as in PULSE (Menon et al., CVPR 2020; ``GeoCross`` in its code,
    coefficient 0.05 there, 0.01 in the ILO paper's appendix 6.3). The norms carry ``1e-9``
    inside the square root so that the diagonal pairs (``x = y``) have finite gradients.

    The penalty is taken over the *layer* axis of each image separately: it is non-zero with
    finite gradients for a batch of one (the ILO reference code slices the batch axis instead,
    which is empty at batch size 1 and gives NaN).
    """

    def __init__(self, weight: float = 0.01, variable: str = "z"):
        super().__init__()
        self.weight = float(weight)
        self.variable = variable

    def forward(self, context: PenaltyContext) -> torch.Tensor:
        value = context.variable(self.variable, "geocross")
        if value.dim() < 3:
            raise ValueError(
                f"geocross needs a layer axis: the variable {self.variable!r} is {tuple(value.shape)}, "
                "expected [B, layers, n] (w+); a latent without layers (a DCGAN's z) has no geocross"
            )
        return self.weight * geocross(value.reshape(value.shape[0], value.shape[1], -1))


def geocross(latent: torch.Tensor) -> torch.Tensor:
    """``n / 8 * mean_{i,j} (2 atan2(||x_i - x_j||, ||x_i + x_j||))^2`` per element of ``[B, L, n]``."""
    n = latent.shape[-1]
    x = latent.unsqueeze(1)  # [B, 1, L, n]
    y = latent.unsqueeze(2)  # [B, L, 1, n]
    difference = ((x - y).square().sum(dim=-1) + 1e-9).sqrt()
    total = ((x + y).square().sum(dim=-1) + 1e-9).sqrt()
    angle = 2 * torch.atan2(difference, total)
    return (angle.square() * n).mean(dim=(1, 2)) / 8
