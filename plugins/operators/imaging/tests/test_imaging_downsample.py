"""Super-resolution operator: PIL/torch antialiased conventions, factor 1, odd and non-square sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from imaging_helpers import build, images
from PIL import Image

PIL_FILTERS = {"bicubic": Image.BICUBIC, "lanczos3": Image.LANCZOS, "box": Image.BOX}


def _pil_downscale(x: torch.Tensor, factor: int, method: str) -> np.ndarray:
    image = Image.fromarray(x[0, 0].numpy().astype(np.float32))
    height, width = x.shape[-2:]
    return np.asarray(image.resize((width // factor, height // factor), PIL_FILTERS[method]))


@pytest.mark.parametrize("method", ["bicubic", "lanczos3", "box"])
@pytest.mark.parametrize("factor, shape", [(2, (1, 12, 18)), (3, (1, 15, 27)), (4, (1, 24, 36))])
def test_downsampling_matches_pillow_on_non_square_odd_multiples(method, factor, shape):
    x = images(shape, batch=1, dtype=torch.float64)
    operator = build("downsample", {"factor": factor, "method": method}, shape).double()
    np.testing.assert_allclose(operator.A(x)[0, 0].numpy(), _pil_downscale(x, factor, method), atol=1e-5)


@pytest.mark.parametrize("factor", [2, 4])
def test_bicubic_matches_torch_antialiased_bicubic(factor):
    shape = (3, 16, 24)
    x = images(shape, dtype=torch.float64)
    expected = F.interpolate(x, scale_factor=1 / factor, mode="bicubic", antialias=True, align_corners=False)
    operator = build("downsample", {"factor": factor}, shape).double()
    torch.testing.assert_close(operator.A(x), expected, atol=1e-6, rtol=0)


def test_box_is_the_mean_of_each_block():
    shape = (3, 12, 18)
    x = images(shape, dtype=torch.float64)
    operator = build("downsample", {"factor": 3, "method": "box"}, shape).double()
    torch.testing.assert_close(operator.A(x), F.avg_pool2d(x, 3), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["bicubic", "lanczos3", "box"])
def test_factor_one_is_exactly_the_identity(method):
    shape = (3, 7, 5)
    x = images(shape)
    operator = build("downsample", {"factor": 1, "method": method}, shape)
    assert torch.equal(operator.A(x), x)
    assert torch.equal(operator.A_adjoint(x), x)


def test_constant_images_stay_constant():
    operator = build("downsample", {"factor": 4, "method": "lanczos3"}, (1, 16, 24))
    y = operator.A(torch.full((1, 1, 16, 24), 0.3))
    torch.testing.assert_close(y, torch.full((1, 1, 4, 6), 0.3))


def test_factor_that_does_not_divide_the_size_is_refused():
    with pytest.raises(ValueError, match="downsample factor 3 does not divide the image size 16 x 24"):
        build("downsample", {"factor": 3}, (3, 16, 24))


def test_wrong_image_size_is_refused_with_the_expected_size():
    operator = build("downsample", {"factor": 2}, (3, 16, 16))
    with pytest.raises(ValueError, match="expects images of size 16 x 16, got 8 x 8"):
        operator.A(torch.zeros(1, 3, 8, 8))
