"""SSIM's separable Gaussian window gives what the 11x11 two-dimensional window gives."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from invprob.default_plugins.image_quality import ssim


def ssim_with_2d_window(reconstruction: torch.Tensor, target: torch.Tensor, window: int = 11, sigma: float = 1.5):
    """The implementation before the separable form (one 11x11 float64 convolution per statistic)."""
    x = ((reconstruction.double() + 1) / 2).clamp(0, 1)
    y = ((target.double() + 1) / 2).clamp(0, 1)
    channels = x.shape[1]
    size = min(window, x.shape[-1], x.shape[-2])
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    kernel = (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()

    def blur(t):
        return F.conv2d(t, kernel, groups=channels)

    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.reshape(ssim_map.shape[0], -1).mean(dim=1)


@pytest.mark.parametrize("shape", [(3, 3, 64, 48), (2, 1, 9, 13), (1, 3, 7, 7)])
def test_separable_ssim_equals_the_2d_window(shape):
    rng = torch.Generator().manual_seed(3)
    target = torch.rand(*shape, generator=rng) * 2 - 1
    reconstruction = (target + 0.3 * torch.randn(*shape, generator=rng)).clamp(-1, 1)
    got, expected = ssim(reconstruction, target), ssim_with_2d_window(reconstruction, target)
    assert got.shape == (shape[0],)
    assert torch.allclose(got, expected, rtol=0, atol=1e-12), (got - expected).abs().max()


def test_separable_ssim_agrees_with_scikit_image_on_a_larger_image():
    structural_similarity = pytest.importorskip("skimage.metrics").structural_similarity
    rng = torch.Generator().manual_seed(5)
    target = torch.rand(1, 3, 64, 80, generator=rng) * 2 - 1
    reconstruction = (target + 0.1 * torch.randn(1, 3, 64, 80, generator=rng)).clamp(-1, 1)
    expected = structural_similarity(
        ((reconstruction[0].double() + 1) / 2).numpy(), ((target[0].double() + 1) / 2).numpy(),
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=0,
    )
    assert abs(ssim(reconstruction, target).item() - expected) < 1e-6
