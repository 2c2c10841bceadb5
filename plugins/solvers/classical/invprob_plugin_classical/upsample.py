"""Bicubic upsampling: the observation, resized to the image size with a bicubic kernel.

The factor is the ratio of the image size to the observation's (e.g. a 64x64 image observed
at 16x16 is upsampled x4); the observation must have the image's channels.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import Solver, SolverResult

from .common import classical_result


class BicubicUpsampleSolver(Solver):
    """``x = bicubic(y)`` to ``problem.image_shape`` (align_corners=False), clamped to [-1, 1]."""

    def solve(self, problem: InverseProblem, *, rng: torch.Generator | None = None, monitor: Monitor | None = None) -> SolverResult:
        monitor = monitor if monitor is not None else Monitor(show_progress=False)
        started = time.perf_counter()
        observation = problem.observation
        channels, height, width = problem.image_shape
        if observation.dim() != 4 or observation.shape[1] != channels:
            raise ValueError(
                f"bicubic-upsample needs a low-resolution image observation [B, {channels}, h, w], got "
                f"{tuple(observation.shape)}; it suits downsampling operators"
            )
        if observation.shape[-2] > height or observation.shape[-1] > width:
            raise ValueError(
                f"the observation {tuple(observation.shape[-2:])} is larger than the image {(height, width)}: nothing to upsample"
            )
        monitor.start(1, "bicubic-upsample")
        if monitor.stop_requested:
            image, interrupted = torch.zeros(problem.batch_size, channels, height, width).to(observation), True
        else:
            with torch.no_grad():
                image = F.interpolate(observation, size=(height, width), mode="bicubic", align_corners=False)
            interrupted = False
            monitor.step(image=image)
        return classical_result(problem, image, started, interrupted=interrupted, monitor=monitor)
