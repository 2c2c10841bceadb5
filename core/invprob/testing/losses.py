"""Conformance of losses: one finite value per sample, finite gradients, batch independence.

Nothing is assumed about the value itself (a loss need not vanish when the prediction equals
the observation); the measurements come from :class:`~invprob.testing.toys.MaskOperator`.
"""

from __future__ import annotations

import torch

from invprob.loss import Loss
from invprob.operator import Operator
from invprob.testing.numerics import assert_close, assert_finite, random_images
from invprob.testing.suite import ComponentCase, ConformanceSuite
from invprob.testing.toys import MaskOperator

ImageShape = tuple[int, int, int]


def _measurements(operator: Operator, image_shape: ImageShape, batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        prediction = operator.A(random_images(batch, image_shape, seed=seed))
        observation = operator.A(random_images(batch, image_shape, seed=seed + 1))
    return prediction, observation


def _call(loss: Loss, image: torch.Tensor, observation: torch.Tensor, operator: Operator) -> torch.Tensor:
    """``loss(A(image), observation, operator)``, with ``image=`` for a loss that ``uses_image``."""
    extra = {"image": image} if getattr(loss, "uses_image", False) else {}
    return loss(operator.A(image), observation, operator, **extra)


def check_loss_is_per_sample(loss: Loss, image_shape: ImageShape, *, batch: int = 2, seed: int = 0) -> None:
    """``loss(prediction, observation, operator)`` has shape ``[B]`` and is finite."""
    operator = MaskOperator(image_shape)
    image = random_images(batch, image_shape, seed=seed)
    _, observation = _measurements(operator, image_shape, batch, seed)
    with torch.no_grad():
        value = _call(loss, image, observation, operator)
    if tuple(value.shape) != (batch,):
        raise AssertionError(f"the loss has shape {tuple(value.shape)}; it must give one value per sample, ({batch},)")
    assert_finite(value, "the loss")


def check_loss_gradients(loss: Loss, image_shape: ImageShape, *, batch: int = 2, seed: int = 0) -> None:
    """The gradient of the summed loss wrt the image ``x`` (through ``A(x)``, and directly for
    a loss that ``uses_image``) exists and is finite."""
    operator = MaskOperator(image_shape)
    image = random_images(batch, image_shape, seed=seed).requires_grad_(True)
    _, observation = _measurements(operator, image_shape, batch, seed)
    (gradient,) = torch.autograd.grad(_call(loss, image, observation, operator).sum(), image, allow_unused=True)
    if gradient is None:
        raise AssertionError("the loss does not depend on the prediction: it has no gradient")
    assert_finite(gradient, "the gradient of the loss wrt the prediction")


def check_loss_batch_consistency(
    loss: Loss, image_shape: ImageShape, *, batch: int = 3, seed: int = 0, tol: float = 1e-5
) -> None:
    """The loss of a batch equals the losses of its elements taken one at a time."""
    operator = MaskOperator(image_shape)
    image = random_images(batch, image_shape, seed=seed)
    _, observation = _measurements(operator, image_shape, batch, seed)
    with torch.no_grad():
        whole = _call(loss, image, observation, operator)
        for index in range(batch):
            alone = _call(loss, image[index : index + 1], observation[index : index + 1], operator)
            assert_close(whole[index : index + 1], alone, tol, f"the loss of batch element {index}")


class LossConformance(ConformanceSuite):
    """The loss suite: subclass it and set ``distribution``."""

    kind = "losses"
    expected_type = Loss

    def test_loss_is_per_sample_and_finite(self, case: ComponentCase) -> None:
        check_loss_is_per_sample(self.build(case), case.image_shape, batch=self.batch_size)

    def test_loss_gradients_are_finite(self, case: ComponentCase) -> None:
        check_loss_gradients(self.build(case), case.image_shape, batch=self.batch_size)

    def test_loss_is_batch_consistent(self, case: ComponentCase) -> None:
        check_loss_batch_consistency(self.build(case), case.image_shape)


__all__ = ["LossConformance", "check_loss_batch_consistency", "check_loss_gradients", "check_loss_is_per_sample"]
