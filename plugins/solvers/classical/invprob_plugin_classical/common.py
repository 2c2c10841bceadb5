"""What the classical solvers share: input checks and the result they return."""

from __future__ import annotations

import time

import numpy as np
import torch

from invprob.loss import per_sample_mean
from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import SolverResult


def image_shaped_observation(problem: InverseProblem, solver: str) -> torch.Tensor:
    """The observation, checked to be a batch of images of ``problem.image_shape``."""
    expected = (problem.batch_size, *problem.image_shape)
    if tuple(problem.observation.shape) != expected:
        raise ValueError(
            f"{solver} works on image-shaped observations {expected}, got {tuple(problem.observation.shape)}; "
            "it suits inpainting and denoising operators"
        )
    return problem.observation


def observed_mask(problem: InverseProblem, solver: str) -> torch.Tensor:
    """The operator's image-space mask expanded to the observation's shape (1 = observed)."""
    mask = problem.operator.observed_mask()
    if mask is None:
        raise ValueError(
            f"{solver} inpaints: it needs an operator with an observed-pixel mask, but "
            f"{type(problem.operator).__name__} has none"
        )
    return mask.to(problem.observation).expand_as(problem.observation)


def measurement_loss(problem: InverseProblem, image: torch.Tensor) -> torch.Tensor:
    """The problem's measurement loss, or the MSE of ``A(x)`` against ``y`` when it has none."""
    with torch.no_grad():
        if problem.losses:
            return problem.measurement_loss(image)
        return per_sample_mean((problem.operator.A(image) - problem.observation) ** 2)


def classical_result(problem: InverseProblem, image: torch.Tensor, started: float, *, interrupted: bool, monitor: Monitor) -> SolverResult:
    """A result whose best and last iterates are the one estimate a classical method makes."""
    monitor.close()
    image = image.detach().clamp(-1, 1)
    return SolverResult(
        best_image=image,
        best_latents={},
        best_loss=measurement_loss(problem, image),
        last_image=image,
        history=monitor.history,
        timings={"solve": time.perf_counter() - started},
        interrupted=interrupted,
        frames=list(monitor.frames),
    )


def to_unit_hwc(image: torch.Tensor) -> np.ndarray:
    """``[C, H, W]`` in [-1, 1] to ``[H, W, C]`` float64 in [0, 1] (``[H, W]`` for one channel)."""
    array = ((image.detach().double().cpu() + 1) / 2).permute(1, 2, 0).numpy()
    return array[..., 0] if array.shape[-1] == 1 else array


def from_unit_hwc(array: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_unit_hwc`."""
    if array.ndim == 2:
        array = array[..., None]
    return (torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1) * 2 - 1).to(like)
