"""The ``conv-manifold`` reparameterisation: the latent map stack ``z = f_phi(s)`` per image.

The solver optimises ``phi`` (one latent ConvNet per image, :class:`ManifoldNet`'s batched form)
instead of ``z``; after every optimiser step it calls :meth:`ConvManifoldPrior.constrain_`,
which clamps the conv weights to ``[-bound, bound]`` (the paper's box constraint). Latents of
the generator other than ``variable`` stay free parameters of the prior.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from invprob.generator import Latents
from invprob.prior import Reparameterisation

from .manifold import ManifoldNet


class ConvManifoldPrior(Reparameterisation):
    """``forward() -> {variable: f_phi(s), other latents: free}``, phi box-constrained.

    ``initialise(template)`` sizes f for the template's ``[B, C, h, w]`` entry ``variable``: the
    output has ``C`` channels and ``h x w`` maps, the input ``s`` is ``input_channels`` maps of
    ``(h + 2L) x (w + 2L)``. ``s`` and the initial phi (the same for every image) come from
    ``seed``, so they match a model trained with the same settings; with ``seed=None`` they are
    drawn from the ``rng`` given to ``initialise``.
    """

    def __init__(
        self,
        variable: str = "z",
        input_channels: int = 2,
        channels: Sequence[int] = (8, 16, 32),
        bound: float = 0.01,
        noise_scale: float = 0.1,
        seed: int | None = 0,
    ):
        super().__init__()
        self.variable = variable
        self.input_channels = int(input_channels)
        self.channels = tuple(channels)
        self.bound = float(bound)
        self.noise_scale = float(noise_scale)
        self.seed = seed
        self.net: ManifoldNet | None = None
        self.phi = nn.ParameterDict()
        self.free = nn.ParameterDict()

    def initialise(self, template: Latents, rng: torch.Generator | None = None) -> None:
        if self.variable not in template:
            raise ValueError(
                f"the conv-manifold prior is set on latent {self.variable!r}, but the generator's latents are "
                f"{sorted(template)}; set its 'variable' param to one of them"
            )
        value = template[self.variable]
        if value.ndim != 4:
            raise ValueError(
                f"the conv-manifold prior needs a stack of maps [B, C, h, w] for latent {self.variable!r}, "
                f"got shape {tuple(value.shape)}; use it with a generator whose latent is a map stack (lcm-hourglass)"
            )
        batch, out_channels, height, width = value.shape
        seed = self.seed
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,), generator=rng).item()) if rng is not None else 0
        self.net = ManifoldNet(
            self.input_channels, self.channels, out_channels, (height, width), self.noise_scale, seed
        ).to(value.device)
        phi = self.net.initial_parameters(batch, seed, bound=self.bound)
        self.phi = nn.ParameterDict({k: nn.Parameter(v.to(value.dtype)) for k, v in phi.items()})
        self.free = nn.ParameterDict(
            {k: nn.Parameter(v.detach().clone()) for k, v in template.items() if k != self.variable}
        )

    def forward(self) -> Latents:
        if self.net is None:
            raise RuntimeError("the conv-manifold prior is used before initialise(template)")
        latents = dict(self.free.items())
        latents[self.variable] = self.net.latent(dict(self.phi.items()))
        return latents

    def constrain_(self) -> None:
        """Clamp phi's conv weights to ``[-bound, bound]`` in place: call after every optimiser step."""
        if self.net is not None:
            self.net.clamp_(self.phi, self.bound)
