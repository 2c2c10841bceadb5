"""The DIP solver: its skip network, batching, and that it fits one image."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from invprob import build_solver
from invprob.images import load_images
from invprob.losses import MSELoss
from invprob.problem import InverseProblem, WeightedLoss
from invprob.progress import Monitor
from invprob.seeding import make_rng
from invprob.testing.toys import MaskOperator, make_toy_problem
from invprob_plugin_lcm_solvers.dip import SkipConfig, initial_weights, noise_input, skip_forward
from invprob_plugin_lcm_solvers.dip_solver import DIPSolver

FACE = Path(__file__).resolve().parents[4] / "recipes" / "images" / "astronaut-face64.png"
SMALL = SkipConfig(down=(8, 16), up=(8, 16), skip=(2, 2))


class _Identity(MaskOperator):
    def __init__(self, shape):
        super().__init__(shape)
        self.mask.fill_(1.0)


def _problem(truth: torch.Tensor, operator=None) -> InverseProblem:
    operator = operator if operator is not None else _Identity(tuple(truth.shape[1:]))
    return InverseProblem(
        operator=operator,
        observation=operator.A(truth),
        image_shape=tuple(truth.shape[1:]),
        losses=[WeightedLoss(1.0, MSELoss())],
        ground_truth=truth,
    )


def test_the_default_network_is_dips_skip_shape_sized_for_64_pixels():
    config = SkipConfig()
    assert config.input_depth == 32 and config.scales == 4
    assert 400_000 < config.parameter_count() < 700_000
    weights = initial_weights(config, 2, make_rng(0))
    image = skip_forward(config, weights, noise_input(config, 2, 64, 64, make_rng(1)))
    assert image.shape == (2, 3, 64, 64)
    assert image.min() >= -1 and image.max() <= 1


def test_the_noise_input_is_uniform_times_a_tenth_and_seeded():
    noise = noise_input(SkipConfig(), 3, 16, 16, make_rng(5))
    assert noise.shape == (3, 32, 16, 16)
    assert 0 <= float(noise.min()) and float(noise.max()) <= 0.1 and float(noise.max()) > 0.09
    assert torch.equal(noise[0], noise[2])  # one draw shared by the batch
    assert torch.equal(noise, noise_input(SkipConfig(), 3, 16, 16, make_rng(5)))


def test_grouped_networks_equal_the_loop_over_images():
    weights = initial_weights(SMALL, 3, make_rng(0))
    generator = make_rng(1)
    weights = {k: v + 0.05 * torch.randn(v.shape, generator=generator) for k, v in weights.items()}  # three different nets
    noise = torch.rand(3, 32, 16, 16, generator=generator) * 0.1
    grouped = skip_forward(SMALL, weights, noise, grouped=True)
    looped = skip_forward(SMALL, weights, noise, grouped=False)
    # one forward of float32 convolutions summed in another order: measured <= 1.9e-6 over 20 weight
    # draws with 1 and 2 threads; the bound below is over 10x that
    torch.testing.assert_close(grouped, looped, rtol=1e-4, atol=2e-5)
    assert not torch.allclose(grouped[0], grouped[1])  # batch norm did not mix the networks' statistics


def test_dip_fits_a_single_image():
    truth = load_images(FACE, (3, 32, 32)).images[:1]  # the face at 32 px keeps the test short
    problem = _problem(truth)
    result = DIPSolver(steps=100, lr=0.01).solve(problem, rng=make_rng(0), monitor=Monitor(show_progress=False))
    start = result.history["measurement_loss"][0]
    assert result.best_image.shape == truth.shape
    assert float(result.best_loss) < 0.15 * start, (start, float(result.best_loss))
    assert result.best_latents == {}


@pytest.mark.parametrize("batch", [2, 3])
def test_an_image_gets_the_same_result_alone_or_in_a_batch(batch):
    # The default runs each image's network by itself: the same library calls on the same shapes
    # whether the image is alone or in a batch, so the result is identical to the bit on any CPU
    # (a grouped convolution sums in another order for groups = N, and Adam grows that rounding).
    truth = make_toy_problem(batch=batch).ground_truth
    operator = MaskOperator((3, 16, 16))
    solver = DIPSolver(SMALL, steps=20)
    together = solver.solve(_problem(truth, operator), rng=make_rng(0))
    alone = solver.solve(_problem(truth[1:2], operator), rng=make_rng(0))
    assert torch.equal(together.best_image[1:2], alone.best_image)


def test_the_default_batching_is_the_loop_that_makes_batches_exact():
    assert DIPSolver(SMALL).grouped is False
    assert build_solver("dip").grouped is False
    assert build_solver("dip", batching="grouped").grouped is True


def test_every_step_perturbs_the_input_as_dips_reg_noise_std_does():
    truth = make_toy_problem(batch=1).ground_truth
    operator = MaskOperator((3, 16, 16))
    runs = {std: DIPSolver(SMALL, steps=3, reg_noise_std=std).solve(_problem(truth, operator), rng=make_rng(0)) for std in (0.0, 0.03)}
    assert not torch.equal(runs[0.0].last_image, runs[0.03].last_image)
    again = DIPSolver(SMALL, steps=3, reg_noise_std=0.03).solve(_problem(truth, operator), rng=make_rng(0))
    assert torch.equal(again.last_image, runs[0.03].last_image)  # seeded
    assert build_solver("dip").reg_noise_std == 0.03
    with pytest.raises(ValueError, match="reg_noise_std >= 0"):
        DIPSolver(SMALL, reg_noise_std=-1)


def test_dip_refuses_latent_priors():
    problem = make_toy_problem()
    from invprob.prior import Constraint

    problem.priors = [Constraint("z")]
    with pytest.raises(ValueError, match="dip solver fits a network's weights and cannot use the prior"):
        DIPSolver(SMALL, steps=1).solve(problem)


def test_an_image_the_network_cannot_halve_enough_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="not divisible by 16; use fewer scales"):
        SkipConfig().check_image(64, 40)
