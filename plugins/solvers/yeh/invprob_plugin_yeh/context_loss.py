"""The importance-weighted context loss of Yeh et al. (CVPR 2017, eq. 3-4).

An observed pixel matters for inpainting in proportion to how many *missing* pixels surround
it: a pixel far from every hole says little about what fills it. With the mask ``M`` (1 =
observed) and ``N(i)`` the pixels of the ``window x window`` square centred on ``i`` that lie
inside the image,

    W_i = sum_{j in N(i)} (1 - M_j) / |N(i)|    if M_i = 1,     W_i = 0    if M_i = 0     (eq. 3)

    L_c = || W ⊙ (A(G(z)) - y) ||_1                                                       (eq. 4)

The loss is a *sum* over pixels and channels, as in the paper's eq. 4, so that the prior
weight ``lambda = 0.003`` of eq. 5 keeps the balance the paper chose. Near the image border
``|N(i)|`` counts only the neighbours inside the image, so ``W`` stays a fraction.

Note: the widely copied TensorFlow implementation (moodoki/semantic_image_inpainting,
``createWeightedMask``) convolves ``M`` rather than ``1 - M``, i.e. it weights by the fraction
of *observed* neighbours; we follow the paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from invprob.loss import Loss
from invprob.operator import Operator


def importance_weights(mask: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Yeh et al.'s eq. 3 for an image-space mask ``[N, C, H, W]`` (1 = observed).

    Returns ``W`` of the mask's shape: for observed pixels the fraction of missing pixels
    among their in-image ``window x window`` neighbours, 0 for missing pixels.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"the context-loss window must be a positive odd number of pixels, got {window}")
    if mask.dim() != 4:
        raise ValueError(f"expected an image-space mask [N, C, H, W], got shape {tuple(mask.shape)}")
    mask = mask.to(torch.get_default_dtype() if not mask.is_floating_point() else mask.dtype)
    missing_fraction = F.avg_pool2d(
        1 - mask, kernel_size=window, stride=1, padding=window // 2, count_include_pad=False
    )
    return mask * missing_fraction


class ContextLoss(Loss):
    """Importance-weighted L1 between ``A(G(z))`` and ``y`` (Yeh et al. eq. 3-4), per sample.

    The weights come from ``operator.observed_mask()``; the prediction and observation must be
    image-shaped (an inpainting operator). A mask with one element per image is repeated for
    batched restarts (restart-major, as :meth:`InverseProblem.observation_for`).
    """

    def __init__(self, window: int = 7):
        super().__init__()
        if window < 1 or window % 2 == 0:
            raise ValueError(f"the context-loss window must be a positive odd number of pixels, got {window}")
        self.window = window

    def weights_for(self, operator: Operator, prediction: torch.Tensor) -> torch.Tensor:
        """``W`` broadcastable to ``prediction`` (``[N or 1, C or 1, H, W]``)."""
        mask = operator.observed_mask()
        if mask is None:
            raise ValueError(
                f"the context loss needs a masking operator (one with observed_mask()), but "
                f"{type(operator).__name__} has no mask; use the 'l1' or 'mse' loss instead"
            )
        if mask.dim() != 4 or tuple(mask.shape[-2:]) != tuple(prediction.shape[-2:]):
            raise ValueError(
                f"the context loss compares image-shaped measurements, but the prediction has shape "
                f"{tuple(prediction.shape)} and the operator's mask {tuple(mask.shape)}; use it with an "
                "inpainting operator"
            )
        weights = importance_weights(mask.to(device=prediction.device, dtype=prediction.dtype), self.window)
        batch = prediction.shape[0]
        if weights.shape[0] not in (1, batch):
            repeats, remainder = divmod(batch, weights.shape[0])
            if remainder:
                raise ValueError(
                    f"the operator's mask holds {weights.shape[0]} images but the prediction {batch}, "
                    "which is not a whole number of restarts"
                )
            weights = weights.repeat(repeats, 1, 1, 1)
        return weights

    def forward(self, prediction: torch.Tensor, observation: torch.Tensor, operator: Operator) -> torch.Tensor:
        weights = self.weights_for(operator, prediction)
        weighted = (weights * (prediction - observation)).abs()
        return weighted.reshape(prediction.shape[0], -1).sum(dim=1)
