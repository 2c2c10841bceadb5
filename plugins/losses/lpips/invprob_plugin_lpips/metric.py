"""LPIPS as a metric: the perceptual distance of a reconstruction to the ground truth, per image.

Lower is better. The inputs are in [-1, 1], the scale LPIPS itself is defined on.
"""

from __future__ import annotations

import torch

from invprob.metrics import Metric

from .loss import LPIPSLoss


class LPIPSMetric(Metric):
    """LPIPS distance per image ``[B]`` (float64) between reconstruction and target in [-1, 1]."""

    higher_is_better = False

    def __init__(self, network: LPIPSLoss):
        super().__init__()
        self.network = network

    @torch.no_grad()
    def forward(self, reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        distance = self.network.distance(reconstruction.float(), target.float())
        return distance.reshape(reconstruction.shape[0]).double()
