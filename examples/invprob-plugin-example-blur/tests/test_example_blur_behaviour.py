"""What the blur itself must do, beyond the interface the conformance suite checks."""

from __future__ import annotations

import pydantic
import pytest
import torch

from invprob.context import BuildContext
from invprob.registry import new_registry


def _build(params: dict, shape=(3, 16, 16)):
    registry = new_registry(strict=True, only={"invprob-plugin-example-blur"})
    return registry.build("operators", "gaussian-blur", params, BuildContext(registry=registry, image_shape=shape))


def test_the_plugin_is_found_through_its_entry_point():
    registry = new_registry(strict=True, only={"invprob-plugin-example-blur"})
    assert registry.get("operators", "gaussian-blur").distribution == "invprob-plugin-example-blur"


def test_a_point_spreads_as_a_normalised_gaussian_away_from_the_border():
    operator = _build({"sigma": 1.5})
    point = torch.zeros(1, 1, 31, 31)
    point[..., 15, 15] = 1
    blurred = operator.A(point)
    assert blurred.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert torch.equal(blurred, blurred.flip(-1)) and torch.equal(blurred, blurred.transpose(-1, -2))
    ratio = (blurred[0, 0, 15, 16] / blurred[0, 0, 15, 15]).item()
    assert ratio == pytest.approx(torch.exp(torch.tensor(-1 / (2 * 1.5**2))).item(), rel=1e-5)


def test_the_zero_boundary_darkens_the_corners_of_a_white_image():
    blurred = _build({"sigma": 2.0}).A(torch.ones(1, 1, 20, 20))
    assert blurred[0, 0, 10, 10].item() == pytest.approx(1.0, abs=1e-6)
    assert blurred[0, 0, 0, 0].item() < 0.5


def test_a_non_positive_sigma_is_refused():
    with pytest.raises(pydantic.ValidationError, match="greater than 0"):
        _build({"sigma": 0})
