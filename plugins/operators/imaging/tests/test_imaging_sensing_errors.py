"""Impossible compressed-sensing parameters fail with sentences that say what to do."""

from __future__ import annotations

import pydantic
import pytest
from imaging_helpers import build


@pytest.mark.parametrize("name", ["cs-gaussian", "cs-circulant"])
def test_more_measurements_than_pixels_is_refused(name):
    with pytest.raises(ValueError, match=r"m = 769 measurements exceed the signal dimension n = C\*H\*W = 768"):
        build(name, {"m": 769}, (3, 16, 16))


@pytest.mark.parametrize("name", ["cs-gaussian", "cs-circulant"])
def test_zero_measurements_is_refused(name):
    with pytest.raises(pydantic.ValidationError, match="m must be at least 1, got 0"):
        build(name, {"m": 0})


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_measurement_fraction_outside_zero_one_is_refused(fraction):
    with pytest.raises(ValueError, match=r"must be in \(0, 1\]"):
        build("cs-circulant", {"fraction": fraction})


def test_m_and_fraction_together_are_refused():
    with pytest.raises(ValueError, match="exactly one of m"):
        build("cs-circulant", {"m": 10, "fraction": 0.1})


def test_a_dense_matrix_too_large_names_the_circulant_operator():
    with pytest.raises(ValueError, match="cs-gaussian needs a dense 314573 x 3145728 float32 matrix.*use cs-circulant"):
        build("cs-gaussian", {"fraction": 0.1}, (3, 1024, 1024))


def test_the_dense_limit_is_a_parameter():
    with pytest.raises(ValueError, match="max_matrix_bytes"):
        build("cs-gaussian", {"m": 100, "max_matrix_bytes": 1000}, (1, 16, 16))


def test_dense_gaussian_entries_have_variance_one_over_m():
    operator = build("cs-gaussian", {"m": 200}, (3, 16, 16))
    assert operator.matrix.shape == (200, 768)
    assert operator.matrix.var().item() == pytest.approx(1 / 200, rel=0.05)
