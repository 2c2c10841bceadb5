"""Per-image latent parameterisations of the two models, in one batched interface.

- :class:`ManifoldLatents` (LCM): each image has the parameters phi_i of its own latent ConvNet
  and ``z_i = f_phi_i(s)`` (:class:`invprob_plugin_conv_manifold.manifold.ManifoldNet`, all
  images of a batch at once as grouped convolutions); after every step phi's conv weights are
  clamped to ``[-bound, bound]``. Every image starts from the same phi.
- :class:`FreeLatents` (GLO): each image has its own free latent maps ``z_i``, drawn
  ``N(0, init_std^2)`` at the start; or, GLO's vector variant, a vector projected onto the unit
  ball after every step.

Both take and return ``{name: [B, ...]}`` dicts, the rows a :class:`LatentStore` holds, and both
are updated by :func:`sgd_step_`: plain SGD with a *per-image* learning rate (each image's
parameters move by ``lr * grad of its own loss``, so the result does not depend on the batch
size; with a batch-mean loss that is ``lr * batch * grad``).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

import torch

from invprob import seeding


class ManifoldLatents:
    """LCM: phi_i per image, ``z = f_phi(s)``."""

    kind = "lcm"

    def __init__(self, net, *, bound: float = 0.01, seed: int = 0):
        self.net = net
        self.bound = float(bound)
        self.seed = int(seed)

    def initial(self, count: int) -> dict[str, torch.Tensor]:
        """``count`` rows of the initial phi (the same for every image)."""
        return self.net.initial_parameters(count, self.seed, bound=self.bound)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-image parameter shapes (what a :class:`LatentStore` holds)."""
        return self.net.parameter_shapes()

    def fill_store(self, store) -> None:
        """Write every image's initial phi (the same row for all) into ``store``."""
        for name, value in self.initial(1).items():
            store.fill(name, value[0])

    def latent(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.net.latent(params)

    def constrain_(self, params: MutableMapping[str, torch.Tensor]) -> None:
        self.net.clamp_(params, self.bound)

    def to(self, device: torch.device) -> ManifoldLatents:
        self.net = self.net.to(device)
        return self


class FreeLatents:
    """GLO: free latent maps ``z_i [C, h, w]`` (or vectors ``[d]``) per image; ``unit_ball``
    projects each z_i onto ``||z|| <= 1`` after every step (and at the start)."""

    kind = "glo"

    def __init__(self, shape: tuple[int, ...], *, init_std: float = 0.1, seed: int = 0, unit_ball: bool = False):
        self.shape = tuple(shape)
        self.init_std = float(init_std)
        self.seed = int(seed)
        self.unit_ball = unit_ball

    def initial(self, count: int, *, stream: str = "glo.z") -> dict[str, torch.Tensor]:
        """``count`` rows ``N(0, init_std^2)``, drawn in order from one seeded stream."""
        rng = seeding.make_rng(self.seed, stream)
        params = {"z": seeding.randn((count, *self.shape), rng) * self.init_std}
        self.constrain_(params)
        return params

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {"z": self.shape}

    def fill_store(self, store) -> None:
        """Write every image's initial z into ``store``, chunk by chunk from one seeded stream
        (the same values for the same store size, whatever the memory)."""
        rng = seeding.make_rng(self.seed, "glo.z")

        def rows(start: int, stop: int) -> torch.Tensor:
            chunk = {"z": seeding.randn((stop - start, *self.shape), rng) * self.init_std}
            self.constrain_(chunk)
            return chunk["z"]

        store.fill("z", rows)

    def latent(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return params["z"]

    def constrain_(self, params: MutableMapping[str, torch.Tensor]) -> None:
        if self.unit_ball:
            with torch.no_grad():
                z = params["z"]
                norms = z.flatten(1).norm(dim=1).clamp(min=1.0)
                z.div_(norms.reshape(-1, *([1] * (z.ndim - 1))))

    def to(self, device: torch.device) -> FreeLatents:
        return self


def sgd_step_(params: Mapping[str, torch.Tensor], lr: float, batch: int) -> None:
    """Plain SGD on the per-image leaves of a batch-mean loss: ``p -= lr * batch * p.grad``, so
    every image moves by ``lr`` times the gradient of its own loss."""
    with torch.no_grad():
        for value in params.values():
            if value.grad is not None:
                value.sub_(value.grad, alpha=lr * batch)
                value.grad = None
