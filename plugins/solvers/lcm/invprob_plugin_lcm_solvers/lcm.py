"""The ``lcm`` solver: restoration with a trained latent model held fixed (LCM, eq. 4 and 5).

With a convolutional-manifold prior in the problem (``conv-manifold``), the variables are the
parameters ``phi`` of the per-image latent ConvNet and the image is ``G(f_phi(s))`` (eq. 4):

    phi* = argmin_phi sum_i w_i loss_i(A(G(f_phi(s))), y),   phi in [-B, B] (conv weights)

Every image starts from the same initial ``phi`` (the prior's seed, the one training started
every image from), and the box clamp follows every step. Without a reparameterisation prior
the latent ``z`` itself is optimised (eq. 5): the GLO restoration, and "LCM without the
manifold at test time" when ``G`` is an LCM generator. Both run through the core's one loop,
:func:`invprob.optimisation.optimise`, with Adam; restarts are batched restart-major.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import torch

from invprob.optimisation import OptimiserSettings, initial_latents, optimise
from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import Solver, SolverResult

PHI_LR = 0.001
"""Adam's default rate on ``phi``: its box is [-B, B] with B = 0.01, so 0.001 moves a tenth of it per step."""
Z_LR = 0.01
"""Adam's default rate on a free latent map stack ``z``."""


@runtime_checkable
class ManifoldNet(Protocol):
    """What the solver uses of invprob-plugin-conv-manifold's functional, batched latent ConvNet."""

    def initial_parameters(self, batch: int, seed: int) -> dict[str, torch.Tensor]: ...

    def latent(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor: ...

    def clamp_(self, params: Mapping[str, torch.Tensor], bound: float) -> None: ...


class LCMSolver(Solver):
    """Adam on ``phi`` of the convolutional manifold (with a ``conv-manifold`` prior), or on the
    latent ``z`` directly (without one); the best iterate per image by measurement loss.

    ``lr`` None picks :data:`PHI_LR` or :data:`Z_LR` for what is optimised. ``restarts``:
    restart 0 starts from the prior's initial ``phi`` (or the generator's first latent draw);
    further restarts start from ``phi`` drawn with seeds from ``rng`` (or further latent draws).
    """

    def __init__(self, steps: int = 500, lr: float | None = None, restarts: int = 1):
        if restarts < 1:
            raise ValueError(f"the lcm solver needs restarts >= 1, got {restarts}")
        self.steps, self.lr, self.restarts = steps, lr, restarts

    def solve(
        self,
        problem: InverseProblem,
        *,
        rng: torch.Generator | None = None,
        monitor: Monitor | None = None,
    ) -> SolverResult:
        generator = problem.generator
        if generator is None:
            raise ValueError(
                "the lcm solver restores through a trained generator, but the problem has none: add a 'generator' "
                "(lcm-hourglass) to the recipe, or use the dip solver, which needs none"
            )
        reparameterisations = problem.reparameterisations
        if not reparameterisations:
            latents = initial_latents(problem, self.restarts, rng, solver="lcm")
            settings = OptimiserSettings(steps=self.steps, lr=self.lr or Z_LR)
            return optimise(latents, generator, problem, settings, monitor=monitor, description="lcm (z)")
        if len(reparameterisations) > 1:
            raise ValueError("the lcm solver takes one convolutional-manifold prior, got " + str(len(reparameterisations)))
        prior = reparameterisations[0]
        net, bound, seed = manifold_of(prior)
        batch = problem.batch_size
        seeds = [seed] + [int(torch.randint(0, 2**31 - 1, (1,), generator=rng)) for _ in range(self.restarts - 1)]
        draws = [net.initial_parameters(batch, s) for s in seeds]
        device = problem.observation.device
        phi = {name: torch.cat([d[name] for d in draws]).to(device).detach().clone() for name in draws[0]}

        def render(variables: Mapping[str, torch.Tensor]) -> torch.Tensor:
            return generator(net.latent(variables))

        def clamp(variables) -> None:
            net.clamp_(variables, bound)

        settings = OptimiserSettings(steps=self.steps, lr=self.lr or PHI_LR)
        return optimise(phi, render, problem, settings, project=clamp, monitor=monitor, description="lcm (phi)")


def manifold_of(prior: Any) -> tuple[ManifoldNet, float, int]:
    """``(net, bound, seed)`` of a convolutional-manifold prior: its functional latent ConvNet,
    the box ``B`` of ``phi`` and the seed of the initial ``phi`` every image starts from."""
    net = getattr(prior, "net", prior)
    bound, seed = getattr(prior, "bound", None), getattr(prior, "seed", None)
    if not isinstance(net, ManifoldNet) or bound is None or seed is None:
        raise ValueError(
            f"the lcm solver optimises the parameters of a convolutional manifold (the conv-manifold prior); "
            f"the reparameterisation prior {type(prior).__name__} is not one: use conv-manifold, or no prior to optimise z"
        )
    return net, float(bound), int(seed)
