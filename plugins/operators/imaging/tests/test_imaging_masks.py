"""Inpainting masks: shapes, counts, seeds, files of any mode and size, and clear errors."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
import torch
from imaging_helpers import build, examples, registry
from PIL import Image


def _mask(name, params, shape=(3, 16, 24), seed=0):
    return build(name, params, shape, seed=seed).observed_mask()


def test_center_box_by_fraction_removes_the_middle():
    mask = _mask("inpaint-center", {"fraction": 0.5})
    assert mask.shape == (1, 1, 16, 24)
    assert mask[0, 0, 4:12, 6:18].sum() == 0
    assert mask.sum() == 16 * 24 - 8 * 12


@pytest.mark.parametrize("size", [0, [3, 0], [-1, 4]])
def test_center_box_of_less_than_one_pixel_is_refused_before_the_shape_is_known(size):
    with pytest.raises(pydantic.ValidationError, match=r"the centre box must be at least 1 x 1 pixels"):
        registry().get("operators", "inpaint-center").validate_params({"size": size})


@pytest.mark.parametrize("name, params, shape", examples())
def test_declared_mask_matches_the_built_operator(name, params, shape):
    """What `invprob validate` reads (provides_mask, mask_from_first) is what the operator does."""
    from invprob.recipe import operator_declares_mask

    built = build(name, params, shape)
    assert operator_declares_mask({"type": name, "params": params}, registry()) is (built.observed_mask() is not None)


def test_center_box_by_size_accepts_height_and_width():
    mask = _mask("inpaint-center", {"size": [3, 5]}, shape=(1, 9, 9))
    assert mask[0, 0, 3:6, 2:7].sum() == 0 and mask.sum() == 81 - 15


def test_box_outside_the_image_is_refused():
    with pytest.raises(ValueError, match="does not fit in a 16 x 24 image"):
        _mask("inpaint-box", {"top": 10, "left": 0, "height": 10, "width": 4})


@pytest.mark.parametrize("side, region", [("left", (slice(None), slice(0, 3))), ("right", (slice(None), slice(4, 7))),
                                          ("top", (slice(0, 2), slice(None))), ("bottom", (slice(3, 5), slice(None)))])
def test_half_masks_on_odd_sizes_remove_the_floor_half(side, region):
    mask = _mask("inpaint-half", {"missing": side}, shape=(1, 5, 7))[0, 0]
    assert mask[region].sum() == 0
    assert mask.sum() == 35 - (3 * 5 if side in ("left", "right") else 2 * 7)


@pytest.mark.parametrize("observed", [0.01, 0.3, 1.0])
def test_random_mask_observes_exactly_the_requested_fraction(observed):
    mask = _mask("inpaint-random", {"observed": observed}, shape=(3, 40, 50))
    assert mask.shape == (1, 1, 40, 50)
    assert mask.sum().item() == max(1, round(observed * 2000))


def test_per_channel_random_mask_differs_between_channels():
    mask = _mask("inpaint-random", {"observed": 0.5, "per_channel": True})
    assert mask.shape == (1, 3, 16, 24) and not torch.equal(mask[:, 0], mask[:, 1])


@pytest.mark.parametrize("observed", [0.0, -0.5, 1.01])
def test_observed_fraction_outside_zero_one_is_refused(observed):
    with pytest.raises(pydantic.ValidationError, match=r"observed fraction must be in \(0, 1\]"):
        _mask("inpaint-random", {"observed": observed})


def test_pattern_mask_removes_a_quarter_in_connected_blobs():
    mask = _mask("inpaint-pattern", {}, shape=(3, 64, 64))[0, 0]
    assert (1 - mask).sum().item() == round(0.25 * 64 * 64)
    # blobs, not salt and pepper: most missing pixels have a missing right neighbour
    missing = mask == 0
    assert (missing[:, :-1] & missing[:, 1:]).sum() > 0.8 * missing[:, :-1].sum()


def test_masks_are_the_same_for_every_batch_element():
    operator = build("inpaint-random", {"observed": 0.5}, (3, 16, 24))
    x = torch.ones(4, 3, 16, 24)
    y = operator.A(x)
    assert all(torch.equal(y[0], y[i]) for i in range(4))


@pytest.fixture
def hole_image(tmp_path):
    """A 10 x 20 picture whose left 5 columns are the hole, in several file formats."""
    def write(mode: str) -> str:
        observed = np.ones((10, 20), bool)
        observed[:, :5] = False
        if mode == "RGBA":
            pixels = np.zeros((10, 20, 4), np.uint8)
            pixels[..., :3] = 30  # dark colours: only the alpha channel can say what is observed
            pixels[..., 3] = np.where(observed, 255, 0)
            image = Image.fromarray(pixels)
        elif mode == "L":
            image = Image.fromarray(np.where(observed, 255, 0).astype(np.uint8))
        elif mode == "P":
            image = Image.fromarray(np.where(observed, 255, 0).astype(np.uint8)).convert("P")
        elif mode == "RGB-inverted":
            grey = np.where(observed, 0, 255).astype(np.uint8)
            image = Image.fromarray(np.stack([grey] * 3, axis=-1))
        path = tmp_path / f"mask-{mode}.png"
        image.save(path)
        return str(path)
    return write


@pytest.mark.parametrize("mode", ["RGBA", "L", "P"])
def test_mask_files_of_any_mode_are_resized_with_nearest_neighbour(hole_image, mode):
    mask = _mask("inpaint-mask-file", {"path": hole_image(mode)}, shape=(3, 20, 40))[0, 0]
    assert mask.shape == (20, 40)
    assert mask[:, :10].sum() == 0 and mask[:, 10:].min() == 1


def test_inverted_mask_files_mark_holes_in_white(hole_image):
    mask = _mask("inpaint-mask-file", {"path": hole_image("RGB-inverted"), "invert": True}, shape=(1, 10, 20))[0, 0]
    assert mask[:, :5].sum() == 0 and mask[:, 5:].min() == 1


def test_mask_file_paths_resolve_against_the_recipe_folder(hole_image, tmp_path):
    from invprob.context import BuildContext
    from imaging_helpers import registry

    hole_image("L")
    context = BuildContext(registry=registry(), image_shape=(1, 10, 20), base_dir=tmp_path)
    operator = registry().build("operators", "inpaint-mask-file", {"path": "mask-L.png"}, context)
    assert operator.observed_mask()[0, 0, :, :5].sum() == 0


def test_a_missing_mask_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="mask file not found: .*nowhere.png"):
        _mask("inpaint-mask-file", {"path": str(tmp_path / "nowhere.png")})


def test_a_mask_that_observes_nothing_suggests_invert(tmp_path):
    path = tmp_path / "black.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(path)
    with pytest.raises(ValueError, match="observes no pixel.*invert: true"):
        _mask("inpaint-mask-file", {"path": str(path)})
