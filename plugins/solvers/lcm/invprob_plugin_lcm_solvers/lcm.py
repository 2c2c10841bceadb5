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

import json
import math

from collections.abc import Mapping

import torch

from invprob.optimisation import OptimiserSettings, initial_latents, optimise
from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import Solver, SolverResult

PHI_LR = 0.01
"""Adam's default rate on ``phi`` (box B = 0.01: a step may cross it, the clamp brings it back).
A probe on 4 held-out faces, centre inpainting, 150 steps, the committed LCM: 0.003 / 0.01 / 0.03
gave hole MSE 0.014 / 0.020 / 0.012 (noisy: no clear optimum; 0.01 sits in the box's scale)."""
Z_LR = 0.01
"""Adam's default rate on a free latent map stack ``z``: trained GLO latents have std ~0.12, and
0.1 walks z off them in a few steps (same probe, GLO: 0.003 / 0.01 / 0.03 gave 0.027 each; 0.1
at 300 steps 0.047)."""


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
        if not reparameterisations:  # GLO, or LCM without the manifold at test time: z itself
            latents = initial_latents(problem, self.restarts, rng, solver="lcm")
            settings = OptimiserSettings(steps=self.steps, lr=self.lr or Z_LR)
            return optimise(latents, generator, problem, settings, monitor=monitor, description="lcm (z)")
        if len(reparameterisations) > 1 or not _is_conv_manifold(reparameterisations[0]):
            names = ", ".join(type(p).__name__ for p in reparameterisations)
            raise ValueError(
                f"the lcm solver optimises the parameters of one convolutional manifold (the conv-manifold prior), "
                f"got the reparameterisation prior(s) {names}: use one conv-manifold prior, or none to optimise z"
            )
        return self._solve_on_manifold(problem, reparameterisations[0], rng, monitor)

    def _solve_on_manifold(self, problem: InverseProblem, prior, rng, monitor) -> SolverResult:
        generator = problem.generator
        batch = problem.batch_size
        # initialise() sizes f for the generator's latent and fixes s and the initial phi's seed
        template = generator.sample_latent(batch * self.restarts, rng)
        prior.initialise(template, rng)
        net, bound, variable = prior.net, prior.bound, prior.variable
        check_trained_manifold(generator, net.config(), bound)
        seeds = [net.seed] + [int(torch.randint(0, 2**62, (1,), generator=rng)) for _ in range(self.restarts - 1)]
        draws = [net.initial_parameters(batch, seed, bound=bound) for seed in seeds]
        device = problem.observation.device
        variables = {name: torch.cat([d[name] for d in draws]).to(device) for name in draws[0]}
        if set(variables) & set(template):
            raise ValueError(f"the manifold's parameter names {sorted(variables)} clash with the latents {sorted(template)}")
        # the generator's other latents, if any, stay free variables (as in the prior's own forward)
        variables.update({name: value.detach().clone() for name, value in template.items() if name != variable})

        def render(v: Mapping[str, torch.Tensor]) -> torch.Tensor:
            latents = {name: v[name] for name in template if name != variable}
            latents[variable] = net.latent(v)
            return generator(latents)

        def clamp(v) -> None:
            net.clamp_(v, bound)

        settings = OptimiserSettings(steps=self.steps, lr=self.lr or PHI_LR)
        result = optimise(variables, render, problem, settings, project=clamp, monitor=monitor, description="lcm (phi)")
        with torch.no_grad():  # the run keeps z = f_phi(s) of the best phi too, beside phi itself
            if set(draws[0]) <= set(result.best_latents):
                result.best_latents[variable] = net.latent(result.best_latents)
        return result


PRIOR_PARAM = {"in_channels": "input_channels", "channels": "channels", "noise_scale": "noise_scale", "seed": "seed"}
"""The manifold's config keys the prior's params set (the other keys follow the generator's latent)."""


def check_trained_manifold(generator: object, config: Mapping[str, object], bound: float) -> None:
    """A ``ValueError`` when the prior's manifold is not the one the LCM model was trained with.

    An LCM model file records its manifold (``generator.lcm_info``); restoring on another one
    (other widths, another seed for ``s``) would optimise a latent the generator never saw and
    give a wrong result without an error. Generators without that record are not checked.
    """
    info = getattr(generator, "lcm_info", None)
    trained = getattr(info, "manifold", None)
    if not trained:
        return
    differ = [
        f"{PRIOR_PARAM.get(key, key)}: {config.get(key)!r} (trained: {value!r})"
        for key, value in trained.items()
        if json.dumps(config.get(key)) != json.dumps(value)
    ]
    trained_bound = getattr(info, "bound", None)
    if trained_bound is not None and not math.isclose(bound, trained_bound):
        differ.append(f"bound: {bound!r} (trained: {trained_bound!r})")
    if differ:
        raise ValueError(
            "the conv-manifold prior is not the manifold this LCM model was trained with: "
            + "; ".join(differ)
            + "; set the prior's params to the trained values (or leave them out: the defaults are the committed models')"
        )


def _is_conv_manifold(prior: object) -> bool:
    from invprob_plugin_conv_manifold.prior import ConvManifoldPrior

    return isinstance(prior, ConvManifoldPrior)
