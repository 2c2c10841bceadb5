"""Classifier operator with the real MNIST LeNet-5 from ../shared/weights (skipped without it)."""

from __future__ import annotations

import pytest
import torch
from imaging_helpers import SHARED, build

LENET_WEIGHTS = SHARED / "weights" / "mnist-lenet5" / "lenet_epoch12_test_acc0.991.pth"
# README of ../shared/weights: LeNet(all-zero image) for a [1, 1, 32, 32] input in [0, 1]
ALL_ZERO_LOG_PROBS = [-2.9633, -2.3934, -2.5800, -3.4937, -2.8722, -0.8840, -3.6572, -2.8502, -3.8804, -1.7323]

needs_weights = pytest.mark.skipif(not LENET_WEIGHTS.is_file(), reason=f"LeNet-5 weights not found at {LENET_WEIGHTS}")


@needs_weights
@pytest.mark.parametrize("shape", [(1, 32, 32), (3, 28, 28), (1, 64, 48)])
def test_black_images_give_the_reference_log_probabilities(shape):
    """A black image (-1 in invprob's range) is the all-zero image of the README at any size."""
    operator = build("classifier", {"architecture": "lenet5", "weights": str(LENET_WEIGHTS)}, shape)
    log_probs = operator.A(-torch.ones(2, *shape))
    assert log_probs.shape == (2, 10)
    # the README prints 4 decimals: rounding leaves up to 0.5e-4 of the 1e-4, and float32 rounding of
    # a LeNet forward (~1e-6 on these values, any CPU) stays 50x under the other half
    torch.testing.assert_close(log_probs, torch.tensor([ALL_ZERO_LOG_PROBS] * 2), atol=1e-4, rtol=0)


@needs_weights
def test_a_drawn_one_is_classified_as_one_and_gradients_reach_the_image():
    operator = build("classifier", {"weights": str(LENET_WEIGHTS)}, (1, 28, 28))
    image = -torch.ones(1, 1, 28, 28)
    image[..., 5:23, 13:16] = 1.0  # a white vertical stroke on black
    image.requires_grad_()
    log_probs = operator.A(image)
    assert log_probs.argmax().item() == 1
    log_probs[0, 7].backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None for p in operator.parameters())


def test_missing_weights_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="lenet5 classifier weights file not found"):
        build("classifier", {"weights": str(tmp_path / "absent.pth")})


def test_mismatched_weights_give_a_key_diff(tmp_path):
    path = tmp_path / "wrong.pth"
    torch.save({"convnet.c1.weight": torch.zeros(3, 1, 5, 5)}, path)
    with pytest.raises(ValueError, match="shape mismatch: +convnet.c1.weight"):
        build("classifier", {"weights": str(path)})


def test_the_operator_stays_in_eval_mode():
    operator = build("classifier", {"weights": None})
    operator.train()
    assert not operator.classifier.training
