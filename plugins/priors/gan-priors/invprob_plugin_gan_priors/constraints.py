"""Constraints on the latent: the box ``[lo, hi]`` (Yeh et al. keep z in [-1, 1]), the one way to clamp a latent."""

from __future__ import annotations

import torch

from invprob.prior import Constraint


class BoxConstraint(Constraint):
    """Clamp every coordinate of the latent to ``[lo, hi]``: the Euclidean projection onto the box."""

    def __init__(self, lo: float = -1.0, hi: float = 1.0, variable: str = "z"):
        super().__init__(variable)
        if not lo < hi:
            raise ValueError(f"the box needs lo < hi, got lo={lo}, hi={hi}")
        self.lo = float(lo)
        self.hi = float(hi)

    def project(self, value: torch.Tensor) -> torch.Tensor:
        return value.clamp(self.lo, self.hi)
