"""Data-fidelity losses of the core, each per sample (shape ``[B]``)."""

from __future__ import annotations

import torch

from invprob.loss import Loss, per_sample_mean
from invprob.operator import Operator


class MSELoss(Loss):
    """Mean squared error between predicted and observed measurements."""

    def forward(self, prediction: torch.Tensor, observation: torch.Tensor, operator: Operator) -> torch.Tensor:
        return per_sample_mean((prediction - observation) ** 2)


class L1Loss(Loss):
    """Mean absolute error between predicted and observed measurements."""

    def forward(self, prediction: torch.Tensor, observation: torch.Tensor, operator: Operator) -> torch.Tensor:
        return per_sample_mean((prediction - observation).abs())
