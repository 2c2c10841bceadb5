"""The importance-weighted context loss of Yeh et al. (eq. 3-4)."""

from __future__ import annotations

import pytest
import torch

from invprob_plugin_yeh.context_loss import ContextLoss, importance_weights
from invprob.operator import Operator
from invprob.testing.toys import MaskOperator


def _mask_with_missing(height: int, width: int, *pixels: tuple[int, int]) -> torch.Tensor:
    mask = torch.ones(1, 1, height, width)
    for row, col in pixels:
        mask[..., row, col] = 0
    return mask


def test_weights_are_fraction_of_missing_neighbours_hand_checked():
    weights = importance_weights(_mask_with_missing(5, 5, (2, 2)), window=3)[0, 0]
    expected = torch.zeros(5, 5)
    expected[1:4, 1:4] = 1 / 9  # each 3x3 window around the hole holds it once among 9 pixels
    expected[2, 2] = 0  # missing pixels weigh nothing
    torch.testing.assert_close(weights, expected)


def test_weights_at_the_border_count_only_neighbours_inside_the_image():
    weights = importance_weights(_mask_with_missing(4, 4, (0, 0)), window=3)[0, 0]
    assert weights[0, 0] == 0
    assert weights[0, 1] == pytest.approx(1 / 6)  # window clipped to 2 rows x 3 columns
    assert weights[1, 0] == pytest.approx(1 / 6)
    assert weights[1, 1] == pytest.approx(1 / 9)
    assert weights[2, 2] == 0  # the hole is outside its window


def test_weights_with_the_default_window_of_seven():
    mask = torch.ones(1, 1, 16, 16)
    mask[..., 6:10, 6:10] = 0
    weights = importance_weights(mask)[0, 0]
    # pixel (5, 5): its 7x7 window spans rows/cols 2..8 and covers the 3x3 corner 6..8 of the hole
    assert weights[5, 5] == pytest.approx(9 / 49)
    # pixel (0, 0) is 6 pixels from the hole: its clipped 4x4 window misses it
    assert weights[0, 0] == 0
    assert (weights[6:10, 6:10] == 0).all()


def test_loss_is_the_weighted_l1_sum_per_sample():
    operator = MaskOperator((3, 16, 16))
    generator = torch.Generator().manual_seed(0)
    prediction = operator.A(torch.rand(2, 3, 16, 16, generator=generator) * 2 - 1)
    observation = operator.A(torch.rand(2, 3, 16, 16, generator=generator) * 2 - 1)
    weights = importance_weights(operator.mask, 7)
    expected = (weights * (prediction - observation)).abs().sum(dim=(1, 2, 3))
    torch.testing.assert_close(ContextLoss(7)(prediction, observation, operator), expected)


def test_loss_repeats_the_mask_for_restart_batches():
    operator = MaskOperator((1, 16, 16))
    per_image = torch.ones(2, 1, 16, 16)
    per_image[1, :, :8] = 0
    operator.mask = per_image  # one mask per image, a batch of two images
    prediction = torch.randn(6, 1, 16, 16)  # three restarts of two images, restart-major
    observation = torch.zeros(2, 1, 16, 16).repeat(3, 1, 1, 1)
    loss = ContextLoss()(prediction, observation, operator)
    direct = (importance_weights(per_image).repeat(3, 1, 1, 1) * prediction).abs().sum(dim=(1, 2, 3))
    torch.testing.assert_close(loss, direct)


def test_loss_without_a_mask_says_to_use_a_pixel_loss():
    class NoMask(Operator):
        def A(self, x):
            return x

    with pytest.raises(ValueError, match="masking operator"):
        ContextLoss()(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), NoMask())


def test_even_window_is_rejected_with_the_reason():
    with pytest.raises(ValueError, match="odd"):
        ContextLoss(window=4)


def test_registered_by_the_yeh_plugin_as_context_with_validated_params():
    from pydantic import ValidationError

    from invprob.context import BuildContext
    from invprob.registry import new_registry

    registry = new_registry(only={"invprob-plugin-yeh"})
    assert registry.components["losses"]["context"].distribution == "invprob-plugin-yeh"
    loss = registry.build("losses", "context", {"window": 5}, BuildContext(registry=registry))
    assert isinstance(loss, ContextLoss) and loss.window == 5
    with pytest.raises(ValidationError, match="odd"):
        registry.build("losses", "context", {"window": 6}, BuildContext(registry=registry))
