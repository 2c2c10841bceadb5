"""Per-round settings given as a scalar or a list, and ILO's stochastic noise addition."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import torch

from invprob import seeding

T = TypeVar("T", int, float)


def per_round(name: str, value: T | Sequence[T], count: int, what: str = "round") -> list[T]:
    """``value`` for each of ``count`` rounds: a scalar is repeated, a list must have ``count`` entries."""
    if isinstance(value, (int, float)):
        return [value] * count
    values = list(value)
    if len(values) != count:
        raise ValueError(
            f"{name} has {len(values)} entries but there are {count} {what}s; give one per {what} "
            f"(a list of {count}) or a single value for all"
        )
    return values


class NoiseAddition:
    """Stochastic Noise Addition (ILO, sec. 4.2): the loss of step ``t`` sees ``G(v) + s_t * n``.

    ``n ~ N(0, I)`` is drawn afresh every step on ``rng`` (CPU; moved to the image's device).
    As the paper's text ("adding gaussian noise to the generated images before using them in
    the loss function"; the official code has no SNA), ``s_t = sigma / 127.5``: noise of the
    observation's own level (``sigma`` on the 0-255 scale, the operators' convention) at every
    step. With ``ramp`` (our variant, not in the paper), the strength decays,

        s_t = sigma / 127.5 * max(0, 1 - t / (ramp * T))^2

    for a round of ``T`` steps, to nothing after the first ``ramp`` of the round: the schedule
    StyleGAN2's projector uses for the noise it adds to w (``noise_ramp_length = 0.75``), here
    applied to the image. The noisy image only shapes the gradient: iterates are still ranked
    by the measurement loss of the clean image.
    """

    def __init__(self, sigma: float, steps: int, rng: torch.Generator | None, ramp: float | None = None):
        self.scale = sigma / 127.5
        self.length = None if ramp is None else max(ramp * steps, 1e-12)
        self.rng = rng

    def strength(self, step: int) -> float:
        if self.length is None:
            return self.scale
        return self.scale * max(0.0, 1 - step / self.length) ** 2

    def __call__(self, image: torch.Tensor, step: int) -> torch.Tensor:
        strength = self.strength(step)
        if strength == 0:
            return image
        noise = seeding.randn(tuple(image.shape), self.rng, device=image.device, dtype=image.dtype)
        return image + strength * noise
