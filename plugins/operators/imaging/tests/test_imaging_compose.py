"""Composition through the registry: order, shapes, seeds, noise placement and errors."""

from __future__ import annotations

import pytest
import torch
from imaging_helpers import build, images


def test_downsample_then_noise_is_the_same_as_doing_it_by_hand():
    shape = (3, 16, 24)
    composed = build("compose", {"operators": [
        {"type": "downsample", "params": {"factor": 2}},
        {"type": "denoise", "params": {"sigma": 10}},
    ]}, shape)
    x = images(shape)
    torch.testing.assert_close(composed.A(x), build("downsample", {"factor": 2}, shape).A(x))
    residual = composed(x, torch.Generator().manual_seed(0)) - composed.A(x)
    assert residual.shape == (2, 3, 8, 12) and residual.abs().max() > 0


def test_mask_then_cs_is_built_for_the_image_and_applies_the_mask_first():
    shape = (3, 16, 16)
    composed = build("compose", {"operators": [
        {"type": "inpaint-center", "params": {"fraction": 0.5}},
        {"type": "cs-circulant", "params": {"m": 100}},
    ]}, shape)
    x = images(shape)
    inside_hole = torch.zeros_like(x)
    inside_hole[..., 4:12, 4:12] = 1
    torch.testing.assert_close(composed.A(x + inside_hole), composed.A(x))
    assert composed.A(x).shape == (2, 100)
    assert composed.observed_mask() is not None


def test_later_operators_are_built_for_the_shape_the_earlier_ones_output():
    composed = build("compose", {"operators": [
        {"type": "downsample", "params": {"factor": 2}},
        {"type": "colorize"},
        {"type": "cs-gaussian", "params": {"fraction": 1.0}},
    ]}, (3, 16, 24))
    assert composed.A(images((3, 16, 24))).shape == (2, 8 * 12)


def test_two_random_masks_in_one_chain_differ_and_the_first_is_drawn_as_alone():
    spec = {"type": "inpaint-random", "params": {"observed": 0.5}}
    composed = build("compose", {"operators": [spec, spec]}, seed=4)
    alone = build("inpaint-random", {"observed": 0.5}, seed=4)
    assert torch.equal(composed.inner.observed_mask(), alone.observed_mask())
    assert not torch.equal(composed.inner.mask, composed.outer.mask)


def test_a_later_operator_of_a_chain_is_not_another_seed_of_a_sweep():
    """Hashed sub-streams: with ``seed + 1000 * i`` the second mask of seed 0 was seed 1000's mask."""
    spec = {"type": "inpaint-random", "params": {"observed": 0.5}}
    composed = build("compose", {"operators": [spec, spec]}, seed=0)
    for seed in (1, 1000):
        assert not torch.equal(composed.outer.mask, build("inpaint-random", {"observed": 0.5}, seed=seed).mask)


def test_noise_in_the_middle_of_a_chain_is_refused():
    with pytest.raises(ValueError, match=r"operators\[0\] \(denoise\) has noise but is not the last"):
        build("compose", {"operators": [{"type": "denoise", "params": {"sigma": 5}}, {"type": "colorize"}]})


def test_an_impossible_inner_operator_names_its_position():
    with pytest.raises(ValueError, match=r"compose: operators\[1\] \(downsample\) could not be built.*does not divide"):
        build("compose", {"operators": [{"type": "identity"}, {"type": "downsample", "params": {"factor": 5}}]})


def test_an_image_operator_after_measurements_is_refused():
    with pytest.raises(ValueError, match="needs the image shape"):
        build("compose", {"operators": [{"type": "cs-gaussian", "params": {"m": 10}}, {"type": "colorize"}]})
