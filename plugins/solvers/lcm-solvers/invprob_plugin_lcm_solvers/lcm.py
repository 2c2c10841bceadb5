"""The ``lcm`` solver: restoration with a trained latent model held fixed (LCM, eq. 4 and 5).

With a convolutional-manifold prior in the problem (``conv-manifold``), the variables are the
parameters ``phi`` of the per-image latent ConvNet and the image is ``G(f_phi(s))`` (eq. 4):

    phi* = argmin_phi sum_i w_i loss_i(A(G(f_phi(s))), y),   phi in [-B, B] (conv weights)

Every image starts from the same initial ``phi`` (the prior's seed, the one training started
every image from), and the box clamp follows every step. Without a reparameterisation prior
the latent ``z`` itself is optimised (eq. 5): the GLO restoration, and "LCM without the
manifold at test time" when ``G`` is an LCM generator. Both run through the core's one loop,
:func:`invprob.optimisation.optimise`; restarts are batched restart-major.

The default is the authors' procedure (``inpaint()`` in ``src/inpainting.py`` of
srxdev0619/Latent_Convolutional_Models): plain SGD (no momentum) with ``lr 1.0`` on the *mean*
over their batch of 50 images, 3001 steps. Our loop sums the per-image losses, so the same
steps are a per-image rate of ``1.0 / 50 = 0.02`` (:data:`PHI_SGD_LR`). The authors' objective,
Lap-L1 + MSE with a 5x band around the hole on [0, 1] pixels, is the recipes' losses
(``band-mse`` x 0.25 + ``lap-l1`` x 0.5 on our [-1, 1] pixels: the same value). Their code has
no GLO restoration; on ``z`` the SGD rate follows the same rule from their GLO training rate,
``10 / 50`` (:data:`Z_SGD_LR`). ``optimizer: adam`` (lr 0.01, 500 steps in the recipes that
measured it) is our earlier procedure, kept as an option.
"""

from __future__ import annotations

import json
import math

from collections.abc import Mapping

import torch

from invprob.generator import Generator, HasLCMInfo
from invprob.optimisation import OptimiserSettings, initial_latents, optimise
from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import Solver, SolverResult

OFFICIAL_BATCH = 50
"""The batch of the authors' restoration, whose batch-mean loss their lr 1.0 steps on."""
PHI_SGD_LR = 1.0 / OFFICIAL_BATCH
"""SGD's default per-image rate on ``phi``: the authors' lr 1.0 on the mean over 50 images."""
Z_SGD_LR = 10.0 / OFFICIAL_BATCH
"""SGD's default per-image rate on ``z``: the GLO training rate 10 (the paper) over the same 50."""
PHI_LR = 0.01
"""Adam's default rate on ``phi`` (box B = 0.01: a step may cross it, the clamp brings it back).
A probe on 4 held-out faces, centre inpainting, 150 steps, the committed LCM: 0.003 / 0.01 / 0.03
gave hole MSE 0.014 / 0.020 / 0.012 (noisy: no clear optimum; 0.01 sits in the box's scale)."""
Z_LR = 0.01
"""Adam's default rate on a free latent map stack ``z``: trained GLO latents have std ~0.12, and
0.1 walks z off them in a few steps (same probe, GLO: 0.003 / 0.01 / 0.03 gave 0.027 each; 0.1
at 300 steps 0.047)."""
OFFICIAL_STEPS = 3001


class LCMSolver(Solver):
    """SGD (the authors') or Adam on ``phi`` of the convolutional manifold (with a
    ``conv-manifold`` prior), or on the latent ``z`` directly (without one); the best iterate
    per image by measurement loss.

    ``lr`` None picks, for what is optimised, :data:`PHI_SGD_LR` / :data:`Z_SGD_LR` (SGD) or
    :data:`PHI_LR` / :data:`Z_LR` (Adam). ``restarts``: restart 0 starts from the prior's initial
    ``phi`` (or the generator's first latent draw); further restarts start from ``phi`` drawn
    with seeds from ``rng`` (or further latent draws).
    """

    def __init__(self, steps: int = OFFICIAL_STEPS, lr: float | None = None, restarts: int = 1, optimizer: str = "sgd"):
        if restarts < 1:
            raise ValueError(f"the lcm solver needs restarts >= 1, got {restarts}")
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"the lcm solver's optimizer is 'sgd' (the authors') or 'adam', got {optimizer!r}")
        self.steps, self.lr, self.restarts, self.optimizer = steps, lr, restarts, optimizer

    def settings(self, on_phi: bool) -> OptimiserSettings:
        """The optimiser of a solve: on ``phi`` (``on_phi``) or on ``z``."""
        if self.optimizer == "sgd":
            lr = self.lr or (PHI_SGD_LR if on_phi else Z_SGD_LR)
            return OptimiserSettings(steps=self.steps, lr=lr, optimizer="sgd", momentum=0.0)
        return OptimiserSettings(steps=self.steps, lr=self.lr or (PHI_LR if on_phi else Z_LR))

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
            return optimise(latents, generator, problem, self.settings(on_phi=False), monitor=monitor, description="lcm (z)")
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
        net, bound = prior.net, prior.bound
        check_trained_manifold(generator, net.config(), bound)
        seeds = [net.seed] + [int(torch.randint(0, 2**62, (1,), generator=rng)) for _ in range(self.restarts - 1)]
        draws = [net.initial_parameters(batch, seed, bound=bound) for seed in seeds]
        phi = {name: torch.cat([d[name] for d in draws]) for name in draws[0]}
        return self.optimise_phi(problem, prior, phi, template, monitor=monitor)

    def optimise_phi(self, problem: InverseProblem, prior, phi: Mapping[str, torch.Tensor], template, *, monitor=None) -> SolverResult:
        """Optimise ``phi`` (batched restart-major, :class:`ManifoldNet` keys) from the values given,
        the generator's other latents in ``template`` free beside it."""
        generator, net, bound, variable = problem.generator, prior.net, prior.bound, prior.variable
        device = problem.observation.device
        variables = {name: value.detach().clone().to(device) for name, value in phi.items()}
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

        settings = self.settings(on_phi=True)
        result = optimise(variables, render, problem, settings, project=clamp, monitor=monitor, description="lcm (phi)")
        with torch.no_grad():  # the run keeps z = f_phi(s) of the best phi too, beside phi itself
            if set(phi) <= set(result.best_latents):
                result.best_latents[variable] = net.latent(result.best_latents)
        return result


PRIOR_PARAM = {"in_channels": "input_channels", "channels": "channels", "noise_scale": "noise_scale", "seed": "seed"}
"""The manifold's config keys the prior's params set (the other keys follow the generator's latent)."""


def check_trained_manifold(generator: Generator, config: Mapping[str, object], bound: float) -> None:
    """A ``ValueError`` when the prior's manifold is not the one the LCM model was trained with.

    An LCM model file records its manifold (``generator.lcm_info``, the capability
    :class:`~invprob.generator.HasLCMInfo`); restoring on another one (other widths, another
    seed for ``s``) would optimise a latent the generator never saw and give a wrong result
    without an error. Generators without that record (or with a GLO record: no manifold) are
    not checked.
    """
    if not isinstance(generator, HasLCMInfo):
        return
    info = generator.lcm_info
    trained = info.manifold
    if not trained:
        return
    differ = [
        f"{PRIOR_PARAM.get(key, key)}: {config.get(key)!r} (trained: {value!r})"
        for key, value in trained.items()
        if json.dumps(config.get(key)) != json.dumps(value)
    ]
    trained_bound = info.bound
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
