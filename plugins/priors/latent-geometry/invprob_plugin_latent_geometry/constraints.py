"""Constraints on a latent's geometry: the l1 ball around a centre (ILO) and the sphere (PULSE),
on the latent itself or in PULSE's Gaussianised space of StyleGAN2's w.

Both are Euclidean projections applied after every optimiser step, row by row along the batch
axis, without reading anything back to the host.
"""

from __future__ import annotations

import math

import torch

from invprob import ops
from invprob.prior import Constraint


class L1BallConstraint(Constraint):
    """Project the latent onto ``{v : ||v - centre||_1 <= radius}``, each batch element its own ball.

    The projection is the core op ``invprob::project_l1_ball`` (exact, sort-based, identity
    inside the ball; a kernel plugin may replace it on its device). ``centre`` is ``None``
    (the origin), one latent ``[*shape]`` shared by the batch, or a batch ``[B, *shape]``
    (ILO: the previous round's solution, one per image); :meth:`recentre` moves it.
    """

    def __init__(self, radius: float, variable: str = "z", centre: torch.Tensor | None = None):
        super().__init__(variable)
        if radius < 0:
            raise ValueError(f"the l1 ball needs radius >= 0, got {radius}")
        self.radius = float(radius)
        self.centre: torch.Tensor | None = None
        if centre is not None:
            self.recentre(centre)

    def recentre(self, centre: torch.Tensor | None) -> None:
        """Centre the ball on ``centre`` (``[*shape]`` or ``[B, *shape]``; None = the origin)."""
        self.centre = None if centre is None else centre.detach().clone()

    def project(self, value: torch.Tensor) -> torch.Tensor:
        if self.centre is None:
            centre = torch.zeros_like(value)
        elif self.centre.dim() == value.dim() - 1:
            centre = self.centre.to(value).expand_as(value).contiguous()
        else:
            centre = self.centre.to(value)
            if centre.shape != value.shape:
                raise ValueError(
                    f"the l1 ball's centre has shape {tuple(centre.shape)}, the latent {self.variable!r} "
                    f"{tuple(value.shape)}; recentre it on one latent or a batch of the latent's shape"
                )
        return ops.project_l1_ball(value, centre, self.radius)


class SphereConstraint(Constraint):
    """Rescale each vector of the latent to the norm ``radius`` (PULSE's spherical optimiser).

    The vectors are the last ``vector_dims`` dimensions (``None``: everything after the batch
    axis): ``z [B, 100]`` is one vector per image; ``w+ [B, L, 512]`` with ``vector_dims=1`` is
    one per layer, as PULSE does. ``radius`` defaults to ``rms * sqrt(n)`` for vectors of ``n``
    entries: the norm a latent with entries of root mean square ``rms`` concentrates at (1 for
    N(0, 1), ``1/sqrt(3)`` for U(-1, 1)). PULSE renormalises to each latent's *initial* norm,
    which for a start drawn from the latent distribution is this radius up to ``O(1)``; a fixed
    radius keeps the projection stateless (the same for every restart and run, and idempotent).
    """

    def __init__(
        self, radius: float | None = None, variable: str = "z", vector_dims: int | None = None, rms: float = 1.0
    ):
        super().__init__(variable)
        if radius is not None and radius <= 0:
            raise ValueError(f"the sphere needs radius > 0, got {radius}")
        if vector_dims is not None and vector_dims < 1:
            raise ValueError(f"vector_dims must be at least 1 (or None for every dimension), got {vector_dims}")
        self.radius = radius
        self.vector_dims = vector_dims
        self.rms = float(rms)

    def project(self, value: torch.Tensor) -> torch.Tensor:
        trailing = value.dim() - 1 if self.vector_dims is None else min(self.vector_dims, value.dim() - 1)
        dims = tuple(range(value.dim() - trailing, value.dim()))
        size = math.prod(value.shape[d] for d in dims)
        radius = self.radius if self.radius is not None else self.rms * math.sqrt(size)
        norm = value.square().sum(dim=dims, keepdim=True).sqrt().clamp(min=torch.finfo(value.dtype).tiny)
        return value * (radius / norm)


class GaussianisedSphereConstraint(SphereConstraint):
    """The sphere in PULSE's Gaussianised w space (ILO appendix 6.3: "project each latent code
    to the unit sphere").

    StyleGAN2's ``w = mapping(z)`` ends in a leaky ReLU of slope 0.2, so ``leaky_relu(w, 5)`` is
    close to Gaussian; whitened per coordinate with the mapping's fitted ``mean`` and ``std``,
    each vector (one per w+ layer with ``vector_dims=1``) is rescaled to the sphere there and
    mapped back: ``w' = leaky_relu(sphere((leaky_relu(w, 5) - mean) / std) * std + mean, 0.2)``.
    Applying it twice gives the same point (``leaky_relu(., 5)`` inverts ``leaky_relu(., 0.2)``).
    """

    def __init__(
        self, mean: torch.Tensor, std: torch.Tensor, radius: float | None = None, variable: str = "w+",
        vector_dims: int | None = 1,
    ):  # fmt: skip
        super().__init__(radius=radius, variable=variable, vector_dims=vector_dims)
        if mean.shape != std.shape or mean.dim() != 1:
            raise ValueError(f"mean and std must be vectors of one size, got {tuple(mean.shape)} and {tuple(std.shape)}")
        self.register_buffer("mean", mean.detach().clone())
        self.register_buffer("std", std.detach().clamp(min=torch.finfo(std.dtype).tiny).clone())

    def project(self, value: torch.Tensor) -> torch.Tensor:
        mean, std = self.mean.to(value), self.std.to(value)
        whitened = (torch.nn.functional.leaky_relu(value, 5.0) - mean) / std
        return torch.nn.functional.leaky_relu(super().project(whitened) * std + mean, 0.2)
