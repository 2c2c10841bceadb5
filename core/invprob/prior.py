"""The prior interface: penalties, constraints and reparameterisations of the latent.

- A :class:`Penalty` adds a per-sample term to the objective (``lambda*log(1-D(G(z)))``,
  ``w*||z||^2``, geocross).
- A :class:`Constraint` projects a variable after each optimiser step (box clamp, sphere,
  l1 ball around a centre).
- A :class:`Reparameterisation` replaces a free latent by a function of its own parameters
  (the convolutional manifold: ``z = f_phi(s)``).

Variables are named tensors (:data:`invprob.generator.Latents`, ``{"z": [B, 100]}``, or the
entries of a split state): a prior reads or writes the entries it is set on, by name, and
leaves the others alone.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from invprob.generator import Generator, Latents


@dataclass
class PenaltyContext:
    """What a penalty may look at: the current variables, the image they give, the model."""

    variables: Mapping[str, torch.Tensor]
    image: torch.Tensor
    generator: Generator | None

    def variable(self, name: str, prior: str) -> torch.Tensor:
        """``variables[name]``, or a ``ValueError`` naming the ``prior`` and what is optimised instead."""
        if name not in self.variables:
            known = ", ".join(sorted(self.variables)) or "none"
            raise ValueError(
                f"the {prior} prior is set on variable {name!r}, which this solver does not "
                f"optimise (it optimises: {known}); set its 'variable' param to one of them"
            )
        return self.variables[name]


class Prior(nn.Module):
    """Base class of every prior.

    ``variable`` names the variable the prior reads or writes (``"z"``, ``"w"``); None for one
    on the image alone (the discriminator prior). A solver that optimises other variables in
    some rounds (ILO's deeper layers) reads it to tell which priors still apply.
    """

    variable: str | None = None


class Penalty(Prior):
    """A term added to the loss; returns one value per batch element, shape ``[B]``."""

    def forward(self, context: PenaltyContext) -> torch.Tensor:
        raise NotImplementedError


class Constraint(Prior):
    """A projection applied to ``variables[self.variable]`` after every optimiser step.

    Only that entry is touched. When the variables being optimised do not include it (a
    later ILO round optimises an intermediate state, not ``z``) there is nothing to project;
    a factory should check the name against the generator's latents when it is built.
    """

    def __init__(self, variable: str = "z"):
        super().__init__()
        self.variable = variable

    def project(self, value: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def project_(self, variables: MutableMapping[str, torch.Tensor]) -> None:
        """Project in place, keeping the tensor (and the optimiser state bound to it)."""
        if self.variable in variables:
            value = variables[self.variable]
            value.copy_(self.project(value))


class Reparameterisation(Prior):
    """Replaces the latent by ``forward()``, a function of this module's own parameters."""

    def initialise(self, template: Latents, rng: torch.Generator | None = None) -> None:
        """Set up parameters for latents shaped like ``template`` (one batch of named latents);
        random choices (a fixed noise input) are drawn on ``rng`` with :mod:`invprob.seeding`."""
        raise NotImplementedError

    def forward(self) -> Latents:
        """The latents, ``{name: tensor}`` shaped like the template."""
        raise NotImplementedError
