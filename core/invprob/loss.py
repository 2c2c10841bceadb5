"""The loss interface: per-sample data fidelity between a predicted and an observed measurement."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from invprob.operator import Operator


class Loss(nn.Module):
    """``forward(prediction, observation, operator)`` returns one value per sample, shape ``[B]``.

    The operator is passed so that losses can use its structure (the context loss of Yeh et
    al. weights pixels by the operator's mask). A loss that sets ``uses_image = True`` also
    gets the image ``x`` itself as the keyword ``image`` (``[B, C, H, W]``, what ``prediction
    = A(x)`` was computed from): LPIPS's "fill" variant for inpainting puts the generated pixels
    into the observation's holes, which ``A(x)`` has zeroed.
    """

    uses_image: bool = False

    def forward(self, prediction: torch.Tensor, observation: torch.Tensor, operator: Operator) -> torch.Tensor:
        raise NotImplementedError


def per_sample_mean(values: torch.Tensor) -> torch.Tensor:
    """Mean over every dimension but the first."""
    return values.reshape(values.shape[0], -1).mean(dim=1)
