"""JPEG, denoising and colorization: the corruptions and their conventions."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from imaging_helpers import build, images
from PIL import Image


def test_jpeg_observation_is_pillows_jpeg_and_the_fit_is_the_identity():
    x = images((3, 16, 24), batch=1)
    operator = build("jpeg", {"quality": 10}, (3, 16, 24))
    pixels = ((x[0] + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=10)
    expected = torch.from_numpy(np.asarray(Image.open(buffer), dtype=np.float32)).permute(2, 0, 1) / 127.5 - 1
    observed = operator(x)
    torch.testing.assert_close(observed[0], expected)
    assert (observed - x).abs().max() > 0.05  # quality 10 visibly degrades
    assert torch.equal(operator.A(x), x)
    assert operator.noise.differentiable is False


def test_jpeg_quality_out_of_range_is_refused():
    with pytest.raises(ValueError, match="less than or equal to 95"):
        build("jpeg", {"quality": 100})


def test_denoise_sigma_is_on_the_0_255_scale():
    operator = build("denoise", {"sigma": 25.5}, (3, 64, 64))
    x = torch.zeros(4, 3, 64, 64)
    noise = operator(x, torch.Generator().manual_seed(0))
    assert noise.std().item() == pytest.approx(25.5 / 127.5, rel=0.02)
    assert torch.equal(operator.A(x), x)


def test_denoise_clipping_keeps_the_image_in_range():
    operator = build("denoise", {"sigma": 100, "clip": True}, (3, 16, 16))
    noisy = operator(torch.full((2, 3, 16, 16), 0.9), torch.Generator().manual_seed(0))
    assert noisy.max() <= 1 and noisy.min() >= -1 and (noisy == 1).any()


def test_noise_sigma_adds_noise_to_any_operator_in_grey_levels():
    operator = build("downsample", {"factor": 2, "noise_sigma": 12.75}, (3, 32, 32))
    x = images((3, 32, 32), batch=4)
    residual = operator(x, torch.Generator().manual_seed(0)) - operator.A(x)
    assert residual.std().item() == pytest.approx(0.1, rel=0.05)


def test_colorize_averages_the_channels():
    x = images((3, 8, 12))
    y = build("colorize", {}, (3, 8, 12)).A(x)
    torch.testing.assert_close(y, (x[:, 0:1] + x[:, 1:2] + x[:, 2:3]) / 3)
