"""Conformance of metrics: one finite value per image, batch independence, and a declared
direction (``higher_is_better``) that matches what the metric does.

The direction check scores a lightly and a heavily perturbed copy of random targets: the
metric must rank the light perturbation better, in the direction it declares, for every image.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from invprob.metrics import Metric, MetricUnavailable
from invprob.testing.numerics import assert_close, assert_finite, random_images
from invprob.testing.suite import ComponentBuildError, ComponentCase, ConformanceSuite

ImageShape = tuple[int, int, int]


def _perturbed(target: torch.Tensor, amount: float, seed: int) -> torch.Tensor:
    noise = random_images(target.shape[0], tuple(target.shape[1:]), seed=seed, dtype=target.dtype)
    return (target + amount * noise).clamp(-1, 1)


def check_metric_is_per_image(metric: Metric, image_shape: ImageShape, *, batch: int = 2, seed: int = 0) -> None:
    """``metric(reconstruction, target)`` has shape ``[B]``, is finite and needs no gradient."""
    target = random_images(batch, image_shape, seed=seed)
    value = metric(_perturbed(target, 0.3, seed + 1), target)
    if tuple(value.shape) != (batch,):
        raise AssertionError(f"the metric has shape {tuple(value.shape)}; it must give one value per image, ({batch},)")
    assert_finite(value, "the metric")
    if value.requires_grad:
        raise AssertionError("the metric's value requires grad: compute it under torch.no_grad()")


def check_metric_direction(metric: Metric, image_shape: ImageShape, *, batch: int = 2, seed: int = 0) -> None:
    """A slightly perturbed reconstruction scores better than a heavily perturbed one, in the
    direction ``higher_is_better`` declares."""
    if not isinstance(getattr(type(metric), "higher_is_better", None), bool):
        raise AssertionError(f"{type(metric).__qualname__} must declare `higher_is_better = True` or `False`")
    target = random_images(batch, image_shape, seed=seed)
    close = metric(_perturbed(target, 0.05, seed + 1), target)
    far = metric(_perturbed(target, 0.8, seed + 1), target)
    better = close > far if metric.higher_is_better else close < far
    if not bool(better.all()):
        direction = "higher" if metric.higher_is_better else "lower"
        raise AssertionError(
            f"{type(metric).__qualname__} declares that {direction} is better, but scores a slightly "
            f"perturbed reconstruction {close.tolist()} and a heavily perturbed one {far.tolist()}"
        )


def check_metric_batch_consistency(
    metric: Metric, image_shape: ImageShape, *, batch: int = 3, seed: int = 0, tol: float = 1e-6
) -> None:
    """The metric of a batch equals the metrics of its images taken one at a time."""
    target = random_images(batch, image_shape, seed=seed)
    reconstruction = _perturbed(target, 0.3, seed + 1)
    whole = metric(reconstruction, target)
    for index in range(batch):
        alone = metric(reconstruction[index : index + 1], target[index : index + 1])
        assert_close(whole[index : index + 1], alone, tol, f"the metric of batch element {index}")


class MetricConformance(ConformanceSuite):
    """The metric suite: subclass it and set ``distribution``.

    A metric whose factory raises :class:`~invprob.metrics.MetricUnavailable` here (missing
    weights) is reported as skipped, with the factory's reason.
    """

    kind = "metrics"
    expected_type = Metric

    def build(self, case: ComponentCase, **kwargs: Any) -> Any:
        try:
            return super().build(case, **kwargs)
        except ComponentBuildError as exc:
            if isinstance(exc.__cause__, MetricUnavailable):
                pytest.skip(f"{case.name} is unavailable here: {exc.__cause__}")
            raise

    def test_metric_is_per_image_and_finite(self, case: ComponentCase) -> None:
        check_metric_is_per_image(self.build(case), case.image_shape, batch=self.batch_size)

    def test_metric_direction_matches_higher_is_better(self, case: ComponentCase) -> None:
        check_metric_direction(self.build(case), case.image_shape, batch=self.batch_size)

    def test_metric_is_batch_consistent(self, case: ComponentCase) -> None:
        check_metric_batch_consistency(self.build(case), case.image_shape)


__all__ = ["MetricConformance", "check_metric_batch_consistency", "check_metric_direction", "check_metric_is_per_image"]
