"""Blur operators and Poisson noise: true convolution, exact transposed-convolution adjoint on
non-symmetric kernels, kernel shapes, and seeded Poisson draws."""

from __future__ import annotations

import pytest
import torch
from imaging_helpers import build, images
from pydantic import ValidationError

from invprob.testing.operators import check_adjoint_matches_autograd, check_adjointness, check_dense_matrix
from invprob_plugin_imaging.blur import Blur, gaussian_kernel, motion_kernel
from invprob_plugin_imaging.noise import PoissonNoise

NON_SYMMETRIC = [[0.0, 1.0, 2.0], [3.0, 4.0, 0.0], [0.0, 5.0, 0.0]]


@pytest.mark.parametrize("padding", ["valid", "zeros"])
def test_adjoint_of_a_non_symmetric_kernel_is_the_transposed_convolution(padding):
    op = build("blur", {"kernel": NON_SYMMETRIC, "padding": padding}, (2, 7, 9))
    assert check_adjointness(op, (2, 7, 9), dtype=torch.float64) < 1e-10
    check_adjoint_matches_autograd(op, (2, 7, 9))
    check_dense_matrix(op, (2, 7, 9))
    y = op.A(images((2, 7, 9), dtype=torch.float32))
    # the adjoint of a non-symmetric blur is not the blur itself
    if padding == "zeros":
        assert not torch.allclose(op.A_adjoint(y), op.A(y), atol=1e-3)


def test_a_is_a_true_convolution_an_impulse_returns_the_kernel():
    kernel = torch.tensor(NON_SYMMETRIC, dtype=torch.float64)
    op = Blur(kernel, padding="zeros").double()
    x = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    x[0, 0, 2, 2] = 1
    torch.testing.assert_close(op.A(x)[0, 0, 1:4, 1:4], kernel)
    torch.testing.assert_close(op.kernel, kernel)


def test_valid_padding_shrinks_by_the_kernel_and_the_adjoint_restores_the_size():
    op = build("blur-motion", {"length": 7, "angle": 20}, (3, 20, 30))
    kh, kw = op.kernel.shape
    y = op.A(torch.zeros(2, 3, 20, 30))
    assert y.shape == (2, 3, 20 - kh + 1, 30 - kw + 1)
    assert op.A_adjoint(y).shape == (2, 3, 20, 30)


def test_kernels_sum_to_one_and_keep_a_flat_image_flat():
    for kernel in (gaussian_kernel(1.3), gaussian_kernel((0.7, 2.0)), motion_kernel(6, 45), motion_kernel(3.5, 0)):
        assert kernel.sum().item() == pytest.approx(1.0)
        assert kernel.shape[0] % 2 == 1
    op = build("blur-gaussian", {"sigma": 1.5}, (1, 16, 16))
    torch.testing.assert_close(op.A(torch.full((1, 1, 16, 16), 0.3)), torch.full_like(op.A(torch.zeros(1, 1, 16, 16)), 0.3))


def test_motion_kernel_points_along_its_angle():
    horizontal = motion_kernel(5, 0)
    assert horizontal[horizontal.shape[0] // 2].sum() == pytest.approx(1.0)  # all mass on the centre row
    vertical = motion_kernel(5, 90)
    assert vertical[:, vertical.shape[1] // 2].sum() == pytest.approx(1.0)
    diagonal = motion_kernel(6, 45)
    assert not torch.allclose(diagonal, diagonal.flip(1))  # along one diagonal, not the other
    torch.testing.assert_close(diagonal, diagonal.flip(0, 1))  # a centred segment: point-symmetric


def test_blur_params_are_checked():
    with pytest.raises(ValidationError, match="odd"):
        build("blur-gaussian", {"sigma": 1, "size": 4})
    with pytest.raises(ValidationError, match="equal length"):
        build("blur", {"kernel": [[1, 2], [3]]})
    with pytest.raises(ValueError, match="odd kernel sides"):
        build("blur", {"kernel": [[1, 2], [3, 4]], "padding": "zeros"})
    with pytest.raises(ValueError, match="larger than the image"):
        build("blur-gaussian", {"sigma": 5}, (1, 16, 16))


def test_poisson_noise_is_seeded_and_has_poisson_statistics():
    noise = PoissonNoise(peak=20.0)
    y = torch.full((1, 1, 200, 200), 0.0)  # intensity 0.5 -> 10 photons on average
    first = noise(y, torch.Generator().manual_seed(3))
    again = noise(y, torch.Generator().manual_seed(3))
    other = noise(y, torch.Generator().manual_seed(4))
    torch.testing.assert_close(first, again)
    assert not torch.equal(first, other)
    counts = (first + 1) / 2 * 20
    torch.testing.assert_close(counts, counts.round())  # whole photon counts
    assert counts.mean().item() == pytest.approx(10.0, rel=0.02)
    assert counts.var().item() == pytest.approx(10.0, rel=0.05)


def test_poisson_peak_on_an_operator_and_the_poisson_denoiser():
    x = images((3, 16, 16))
    op = build("blur-gaussian", {"sigma": 1.0, "poisson_peak": 5.0}, (3, 16, 16))
    noisy = op(x, torch.Generator().manual_seed(0))
    counts = (noisy + 1) / 2 * 5
    torch.testing.assert_close(counts, counts.round())
    denoise = build("denoise-poisson", {"peak": 5.0}, (3, 16, 16))
    assert not torch.equal(denoise(x, torch.Generator().manual_seed(0)), x)
    with pytest.raises(ValidationError):
        build("denoise-poisson", {"peak": 0})
