"""The variables ILO optimises on a StyleGAN2, as its official code does.

- :class:`Gaussianised`: PULSE's reparameterisation of w, ``w = leaky_relu(std * v + mean, 0.2)``
  with the mapping's fitted per-coordinate ``mean`` and ``std`` of ``leaky_relu(w, 5)``; Adam,
  the sphere and the l1 balls act on ``v`` (``MappingProxy`` in giannisdaras/ilo).
- :func:`spherical`: the official ``SphericalOptimizer``: after every step, every vector (the
  dimensions after the first two: one per w+ slot, one per noise map) is rescaled to the norm
  it had when the round began.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping

import torch
import torch.nn.functional as F


class Gaussianised:
    """``to_w(v) = leaky_relu(std * v + mean, 0.2)`` and its exact inverse ``from_w``."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        self.mean, self.std = mean.detach(), std.detach()

    def to_w(self, v: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.std.to(v) * v + self.mean.to(v), 0.2)

    def from_w(self, w: torch.Tensor) -> torch.Tensor:
        return (F.leaky_relu(w, 5.0) - self.mean.to(w)) / self.std.to(w)


def _norms(value: torch.Tensor) -> torch.Tensor:
    dims = tuple(range(2, value.dim()))
    return (value.square().sum(dim=dims, keepdim=True) + 1e-9).sqrt()


def spherical(variables: Mapping[str, torch.Tensor], names: Iterable[str]):
    """The projection that keeps each vector of ``variables[name]`` at its current norm."""
    radii = {name: _norms(variables[name].detach()).clone() for name in names if name in variables}

    def project(state: MutableMapping[str, torch.Tensor]) -> None:
        for name, radius in radii.items():
            value = state[name]
            value.div_(_norms(value)).mul_(radius)

    return project
