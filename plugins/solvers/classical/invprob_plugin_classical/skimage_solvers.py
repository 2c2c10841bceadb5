"""Baselines from scikit-image, one image at a time: biharmonic inpainting, TV and NL-means denoising.

Images are handed to scikit-image as float64 ``[H, W, C]`` in [0, 1] (``[H, W]`` when grey)
and mapped back to [-1, 1].
"""

from __future__ import annotations

import time

import numpy as np
import torch

from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import Solver, SolverResult

from .common import classical_result, from_unit_hwc, image_shaped_observation, observed_mask, to_unit_hwc


class _PerImageSolver(Solver):
    """Applies ``self.restore(index, image)`` to each image; a stop request keeps the rest as observed."""

    name = ""

    def prepare(self, problem: InverseProblem) -> None:
        """Check the problem and read what ``restore`` needs."""

    def restore(self, index: int, image: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def solve(self, problem: InverseProblem, *, rng: torch.Generator | None = None, monitor: Monitor | None = None) -> SolverResult:
        monitor = monitor if monitor is not None else Monitor(show_progress=False)
        started = time.perf_counter()
        observation = image_shaped_observation(problem, self.name)
        self.prepare(problem)
        images = observation.detach().clone()
        monitor.start(problem.batch_size, self.name)
        interrupted = False
        for index in range(problem.batch_size):
            if monitor.stop_requested:
                interrupted = True
                break
            images[index] = from_unit_hwc(self.restore(index, to_unit_hwc(observation[index])), images[index])
            monitor.step(image=images[index : index + 1])
        return classical_result(problem, images, started, interrupted=interrupted, monitor=monitor)


class BiharmonicInpaintSolver(_PerImageSolver):
    """Fills the missing pixels with the biharmonic continuation of the observed ones."""

    name = "biharmonic-inpaint"

    def prepare(self, problem: InverseProblem) -> None:
        self._missing = (observed_mask(problem, self.name) < 0.5).cpu().numpy()  # [B, C, H, W]

    def restore(self, index: int, image: np.ndarray) -> np.ndarray:
        from skimage.restoration import inpaint_biharmonic

        missing = self._missing[index]
        if image.ndim == 2:
            return inpaint_biharmonic(image, missing[0]) if missing[0].any() else image
        if (missing == missing[:1]).all():
            return inpaint_biharmonic(image, missing[0], channel_axis=-1) if missing[0].any() else image
        channels = [inpaint_biharmonic(image[..., c], missing[c]) if missing[c].any() else image[..., c] for c in range(image.shape[-1])]
        return np.stack(channels, axis=-1)


class TVDenoiseSolver(_PerImageSolver):
    """Chambolle's TV denoising (``denoise_tv_chambolle``) of each observed image."""

    name = "tv-denoise"

    def __init__(self, weight: float = 0.1):
        self.weight = weight

    def restore(self, index: int, image: np.ndarray) -> np.ndarray:
        from skimage.restoration import denoise_tv_chambolle

        return denoise_tv_chambolle(image, weight=self.weight, channel_axis=_channel_axis(image))


class NLMeansDenoiseSolver(_PerImageSolver):
    """Non-local means (``denoise_nl_means``, fast mode) with ``h = h_factor * sigma``.

    ``sigma`` is the noise std in [-1, 1] units (halved for scikit-image's [0, 1]); when not
    given it is estimated per image by :func:`estimate_noise_sigma`.
    """

    name = "nl-means-denoise"

    def __init__(self, h_factor: float = 0.8, sigma: float | None = None, patch_size: int = 5, patch_distance: int = 6):
        self.h_factor = h_factor
        self.sigma = sigma
        self.patch_size = patch_size
        self.patch_distance = patch_distance

    def restore(self, index: int, image: np.ndarray) -> np.ndarray:
        from skimage.restoration import denoise_nl_means

        axis = _channel_axis(image)
        sigma = self.sigma / 2 if self.sigma is not None else estimate_noise_sigma(image)
        return denoise_nl_means(
            image,
            h=self.h_factor * max(sigma, 1e-6),
            sigma=sigma,
            fast_mode=True,
            patch_size=self.patch_size,
            patch_distance=self.patch_distance,
            channel_axis=axis,
        )


def estimate_noise_sigma(image: np.ndarray) -> float:
    """Donoho's robust noise estimate ``median(|HH|) / 0.6745``, averaged over channels.

    ``HH`` is the finest diagonal Haar detail ``(a - b - c + d) / 2`` of each 2x2 block, which
    for a smooth image holds little but noise (of std sigma). scikit-image's
    ``estimate_sigma`` computes the same from a wavelet transform but needs PyWavelets.
    """
    planes = image[..., None] if image.ndim == 2 else image
    height, width = (planes.shape[0] // 2) * 2, (planes.shape[1] // 2) * 2
    blocks = planes[:height, :width]
    detail = (blocks[0::2, 0::2] - blocks[0::2, 1::2] - blocks[1::2, 0::2] + blocks[1::2, 1::2]) / 2
    return float(np.mean(np.median(np.abs(detail).reshape(-1, planes.shape[-1]), axis=0) / 0.6745))


def _channel_axis(image: np.ndarray) -> int | None:
    return -1 if image.ndim == 3 else None


__all__: list[str] = ["BiharmonicInpaintSolver", "NLMeansDenoiseSolver", "TVDenoiseSolver"]
