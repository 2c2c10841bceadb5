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

    ``n ~ N(0, I)`` is drawn afresh every step on ``rng`` (CPU; moved to the image's device) and

        s_t = sigma / 127.5 * max(0, 1 - t / (ramp * T))^2

    for a round of ``T`` steps: noise of the observation's own level (``sigma`` on the 0-255
    scale, the operators' convention) at the start, decaying quadratically to nothing after
    the first ``ramp`` of the round (StyleGAN2's projector uses the same ramp, 0.75, for the
    noise it adds to w). The noisy image only shapes the gradient: iterates are still ranked by
    the measurement loss of the clean image. The effect is a stochastic smoothing of the loss
    early in each round, which keeps the generator from fitting the noise of the observation.
    """

    def __init__(self, sigma: float, steps: int, rng: torch.Generator | None, ramp: float = 0.75):
        self.scale = sigma / 127.5
        self.length = max(ramp * steps, 1e-12)
        self.rng = rng

    def strength(self, step: int) -> float:
        return self.scale * max(0.0, 1 - step / self.length) ** 2

    def __call__(self, image: torch.Tensor, step: int) -> torch.Tensor:
        strength = self.strength(step)
        if strength == 0:
            return image
        noise = seeding.randn(tuple(image.shape), self.rng, device=image.device, dtype=image.dtype)
        return image + strength * noise
