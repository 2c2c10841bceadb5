"""The ``dip`` solver: Deep Image Prior restoration through the problem's operator."""

from __future__ import annotations

import torch

from invprob import seeding
from invprob.optimisation import OptimiserSettings, optimise
from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import Solver, SolverResult

from .dip import SkipConfig, initial_weights, noise_input, skip_forward


class DIPSolver(Solver):
    """Fit one DIP skip network per image (and restart) so that ``A(net(noise))`` explains ``y``.

    ``min_theta sum_i w_i loss_i(A(net_theta(noise)), y)`` with Adam from PyTorch's default
    initialisation; the fixed ``noise`` input and the initial weights are drawn on the solver's
    ``rng``, one draw per restart, shared by the images of that restart (so an image gets the
    same result alone or in a batch). The number of ``steps`` is DIP's regulariser, with
    ``reg_noise_std``: as in DIP's notebooks, every step's forward sees the input plus fresh
    Gaussian noise of that std (0.03 in the inpainting and super-resolution notebooks, 1/30 for
    denoising; 0 turns it off), drawn per restart on a stream of its own; the final image (and
    the last iterate) is the network on the input itself, as the notebooks show it. Needs no
    generator and takes no priors: it optimises a network's weights, not a latent.

    ``grouped=False`` (the default) runs each network on its own, so an image's arithmetic is the
    same whatever else is in the batch and it gets bit-for-bit the same result alone or in a batch.
    ``grouped=True`` runs the ``N`` networks as one grouped convolution: the same maths, but the
    convolution library sums in another order for ``groups = N`` than for one image, and Adam,
    which divides each gradient by its own running magnitude, grows those float32 rounding
    differences step by step (measured 2e-5 after 5 steps on one CPU, 1.8e-4 on another).

    The result keeps images only: ``best_latents`` is empty (the weights of ``N`` networks,
    ~0.5 M numbers each, are not latents a user reuses).
    """

    def __init__(
        self,
        config: SkipConfig | None = None,
        *,
        steps: int = 1000,
        lr: float = 0.01,
        restarts: int = 1,
        grouped: bool = False,
        reg_noise_std: float = 0.03,
    ):
        if restarts < 1:
            raise ValueError(f"the dip solver needs restarts >= 1, got {restarts}")
        if reg_noise_std < 0:
            raise ValueError(f"the dip solver needs reg_noise_std >= 0, got {reg_noise_std}")
        self.config = config or SkipConfig()
        self.settings = OptimiserSettings(steps=steps, lr=lr)
        self.restarts = restarts
        self.grouped = grouped
        self.reg_noise_std = reg_noise_std

    def solve(
        self,
        problem: InverseProblem,
        *,
        rng: torch.Generator | None = None,
        monitor: Monitor | None = None,
    ) -> SolverResult:
        if problem.priors:
            names = ", ".join(type(p).__name__ for p in problem.priors)
            raise ValueError(
                f"the dip solver fits a network's weights and cannot use the prior(s) {names}, which act on a "
                "generator's latent: remove 'priors' from the recipe"
            )
        channels, height, width = problem.image_shape
        if channels != self.config.output_channels:
            raise ValueError(f"the DIP network makes {self.config.output_channels}-channel images, the problem's are {channels}")
        self.config.check_image(height, width)
        device = problem.observation.device
        batch = problem.batch_size
        draws = [
            (initial_weights(self.config, batch, rng, device=device), noise_input(self.config, batch, height, width, rng, device=device))
            for _ in range(self.restarts)
        ]
        weights = {name: torch.cat([w[name] for w, _ in draws]) for name in draws[0][0]}
        noise = torch.cat([n for _, n in draws])
        config, grouped, std, restarts = self.config, self.grouped, self.reg_noise_std, self.restarts
        jitter_rng = torch.Generator().manual_seed(int(torch.randint(2**62, (), generator=rng))) if std else None

        def render(variables):
            if std and torch.is_grad_enabled():  # a training step: DIP's reg_noise_std perturbs the input
                jitter = seeding.randn((restarts, 1, *noise.shape[1:]), jitter_rng, device=device) * std
                return skip_forward(config, variables, noise + jitter.expand(-1, batch, -1, -1, -1).flatten(0, 1), grouped=grouped)
            return skip_forward(config, variables, noise, grouped=grouped)

        result = optimise(weights, render, problem, self.settings, monitor=monitor, description="dip")
        result.best_latents, result.last_latents = {}, {}
        if problem.generator is not None:
            result.notes.append("the dip solver ignores the recipe's generator: DIP fits a fresh network to each image")
        return result
