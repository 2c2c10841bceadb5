"""Each baseline does its classical job on inputs with a known answer, without a generator."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from invprob.losses import MSELoss
from invprob.operator import GaussianNoise, Operator
from invprob.problem import InverseProblem, WeightedLoss
from invprob.progress import Monitor
from invprob.testing.toys import MaskOperator
from invprob_plugin_classical.skimage_solvers import BiharmonicInpaintSolver, NLMeansDenoiseSolver, TVDenoiseSolver
from invprob_plugin_classical.tv_inpaint import TVInpaintSolver, divergence, gradient
from invprob_plugin_classical.upsample import BicubicUpsampleSolver


class _Identity(Operator):
    linear = True

    def A(self, x):
        return x


class _Downsample(Operator):
    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor

    def A(self, x):
        return F.avg_pool2d(x, self.factor)


def _problem(operator: Operator, truth: torch.Tensor, observation: torch.Tensor | None = None) -> InverseProblem:
    observation = operator.A(truth) if observation is None else observation
    return InverseProblem(operator, observation, tuple(truth.shape[1:]), generator=None, losses=[WeightedLoss(1.0, MSELoss())])


def _solve(solver, problem):
    return solver.solve(problem, rng=torch.Generator().manual_seed(0), monitor=Monitor(show_progress=False))


def _two_tone(channels: int = 3, size: int = 16) -> torch.Tensor:
    image = torch.full((1, channels, size, size), -0.5)
    image[..., :, size // 2 :] = 0.5
    return image


def _ramp(channels: int = 3, size: int = 16) -> torch.Tensor:
    rows = torch.linspace(-0.5, 0.5, size).reshape(size, 1)
    cols = torch.linspace(-0.3, 0.3, size).reshape(1, size)
    return (rows + cols).expand(1, channels, size, size).clone()


def test_divergence_is_the_negative_adjoint_of_the_gradient():
    x, p = torch.randn(2, 3, 7, 9, dtype=torch.float64), torch.randn(2, 3, 2, 7, 9, dtype=torch.float64)
    torch.testing.assert_close((gradient(x) * p).sum(), -(x * divergence(p)).sum())


def test_tv_inpainting_restores_a_piecewise_constant_image():
    truth = _two_tone()
    result = _solve(TVInpaintSolver(iterations=400), _problem(MaskOperator((3, 16, 16)), truth))
    assert (result.best_image - truth).abs().max() < 0.05
    assert len(result.history["objective"]) == 400 and result.best_latents == {}


def test_biharmonic_inpainting_is_exact_on_a_linear_ramp():
    truth = _ramp()
    result = _solve(BiharmonicInpaintSolver(), _problem(MaskOperator((3, 16, 16)), truth))
    torch.testing.assert_close(result.best_image, truth, atol=1e-4, rtol=0)


def test_biharmonic_handles_a_different_mask_per_channel_and_grey_images():
    truth = _ramp(channels=2)
    operator = MaskOperator((2, 16, 16))
    mask = torch.ones(1, 2, 16, 16)
    mask[0, 0, 2:6, 2:6] = 0
    mask[0, 1, 9:13, 8:14] = 0
    operator.mask = mask
    torch.testing.assert_close(_solve(BiharmonicInpaintSolver(), _problem(operator, truth)).best_image, truth, atol=1e-4, rtol=0)
    grey = _ramp(channels=1)
    grey_result = _solve(BiharmonicInpaintSolver(), _problem(MaskOperator((1, 16, 16)), grey))
    torch.testing.assert_close(grey_result.best_image, grey, atol=1e-4, rtol=0)


def test_bicubic_reads_the_factor_from_the_shapes():
    truth = _ramp(size=16)
    problem = _problem(_Downsample(4), truth)
    result = _solve(BicubicUpsampleSolver(), problem)
    assert result.best_image.shape == (1, 3, 16, 16)
    expected = F.interpolate(problem.observation, size=(16, 16), mode="bicubic", align_corners=False)
    torch.testing.assert_close(result.best_image, expected.clamp(-1, 1))
    torch.testing.assert_close(result.best_loss, MSELoss()(problem.operator.A(result.best_image), problem.observation, problem.operator))


@pytest.mark.parametrize("solver", [TVDenoiseSolver(weight=0.1), NLMeansDenoiseSolver(patch_size=3, patch_distance=3)], ids=["tv", "nl-means"])
def test_denoisers_reduce_the_error_of_a_noisy_smooth_image(solver):
    truth = _two_tone(size=24)
    noisy = GaussianNoise(0.2)(truth, torch.Generator().manual_seed(3))
    result = _solve(solver, _problem(_Identity(), truth, noisy))
    assert (result.best_image - truth).pow(2).mean() < 0.5 * (noisy - truth).pow(2).mean()


def test_inpainting_without_a_mask_and_denoising_a_small_observation_are_refused():
    with pytest.raises(ValueError, match="observed-pixel mask"):
        _solve(TVInpaintSolver(iterations=1), _problem(_Identity(), _ramp()))
    with pytest.raises(ValueError, match="image-shaped"):
        _solve(TVDenoiseSolver(), _problem(_Downsample(2), _ramp()))


def test_noise_estimate_recovers_the_std_of_noise_on_a_flat_image():
    from invprob_plugin_classical.skimage_solvers import estimate_noise_sigma

    noise = torch.randn(64, 64, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64).numpy()
    assert estimate_noise_sigma(0.5 + 0.1 * noise) == pytest.approx(0.1, rel=0.1)
    assert estimate_noise_sigma(0.5 + 0.1 * noise[..., 0]) == pytest.approx(0.1, rel=0.1)
