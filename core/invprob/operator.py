"""The operator interface: forward models ``y = noise(A(x))`` in deepinv's vocabulary."""

from __future__ import annotations

import torch
from torch import nn

from invprob.seeding import randn


class NoiseModel(nn.Module):
    """Noise added to a noiseless measurement; random draws come from ``rng``, a CPU
    ``torch.Generator``, through :func:`invprob.seeding.randn` (drawn on the CPU, then moved),
    so one seed gives the same noise on every device."""

    def forward(self, y: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        return y


class GaussianNoise(NoiseModel):
    """``y + sigma * n`` with ``n ~ N(0, I)``; sigma is in the units of ``y``."""

    def __init__(self, sigma: float):
        super().__init__()
        if sigma < 0:
            raise ValueError(f"noise sigma must be >= 0, got {sigma}")
        self.register_buffer("sigma", torch.tensor(float(sigma)))

    def forward(self, y: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        noise = randn(y.shape, rng, device=y.device, dtype=y.dtype)
        return y + self.sigma.to(y.dtype) * noise


class Operator(nn.Module):
    """A forward model acting identically on every element of an image batch ``[B, C, H, W]``.

    - ``A(x)``: the noiseless forward map; solvers differentiate through it.
    - ``A_adjoint(y)``: the adjoint, for linear operators (``linear = True``).
    - ``forward(x, rng)``: ``noise(A(x))``, the noise drawn from ``rng`` (a CPU generator).
    - ``observed_mask()``: for masking operators, the image-space mask (1 = observed).
    - ``op2 * op1`` is the composition ``op2(op1(x))``.

    Parameters are buffers, so ``.to(device)`` moves them and ``state_dict`` saves them.
    """

    linear: bool = False
    differentiable: bool = True

    def __init__(self, noise: NoiseModel | None = None):
        super().__init__()
        self.noise = noise if noise is not None else NoiseModel()

    def A(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement A")

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} is not linear: it has no adjoint")

    def forward(self, x: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        return self.noise(self.A(x), rng)

    def observed_mask(self) -> torch.Tensor | None:
        """Image-space mask ``[1 or B, 1 or C, H, W]`` with 1 = observed, if the operator masks."""
        return None

    def __mul__(self, inner: Operator) -> ComposedOperator:
        return ComposedOperator(self, inner)


class ComposedOperator(Operator):
    """``outer ∘ inner``: ``A(x) = outer.A(inner.A(x))``, with the outer operator's noise."""

    def __init__(self, outer: Operator, inner: Operator):
        super().__init__()
        self.outer = outer
        self.inner = inner
        self.linear = outer.linear and inner.linear
        self.differentiable = outer.differentiable and inner.differentiable

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return self.outer.A(self.inner.A(x))

    def forward(self, x: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        return self.outer.noise(self.A(x), rng)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        if not self.linear:
            return super().A_adjoint(y)
        return self.inner.A_adjoint(self.outer.A_adjoint(y))

    def observed_mask(self) -> torch.Tensor | None:
        return self.inner.observed_mask()
