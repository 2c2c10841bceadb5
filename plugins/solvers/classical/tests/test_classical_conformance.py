"""Every classical baseline meets the core's solver contract, on the toy problem of its task."""

from __future__ import annotations

import torch

from invprob.operator import GaussianNoise, Operator
from invprob.problem import InverseProblem
from invprob.testing import SolverConformance
from invprob.testing.toys import make_toy_problem

_DENOISERS = ("tv-denoise", "nl-means-denoise")


class TestClassicalInpaintingConformance(SolverConformance):
    """Inpainting and upsampling baselines on the toy inpainting problem (upsampling by x1)."""

    distribution = "invprob-plugin-classical"
    skip = {name: "a denoiser: tested on the toy denoising problem below" for name in _DENOISERS}


class _NoisyIdentity(Operator):
    linear = True

    def __init__(self, sigma: float):
        super().__init__(GaussianNoise(sigma))

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return y


class TestClassicalDenoisingConformance(SolverConformance):
    """Denoisers on the toy problem's ground truth seen through Gaussian noise of std 0.1."""

    distribution = "invprob-plugin-classical"
    skip = {
        "tv-inpaint": "an inpainter: tested on the toy inpainting problem above",
        "biharmonic-inpaint": "an inpainter: tested on the toy inpainting problem above",
        "bicubic-upsample": "an upsampler: tested on the toy inpainting problem above",
    }

    def make_problem(self) -> InverseProblem:
        toy = make_toy_problem(batch=self.batch_size, seed=self.seed)
        operator = _NoisyIdentity(0.1)
        observation = operator(toy.ground_truth, torch.Generator().manual_seed(self.seed))
        return InverseProblem(
            operator=operator,
            observation=observation,
            image_shape=toy.image_shape,
            generator=toy.generator,
            losses=toy.losses,
            ground_truth=toy.ground_truth,
        )
