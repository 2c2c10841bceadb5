"""The PULSE solver (Menon et al., CVPR 2020) on the core's optimisation loop.

PULSE searches the latents of a generator, kept on the sphere, for an image whose
downscaling matches the low-resolution observation to within ``eps``:

- the latents stay on the sphere and w+ layers are tied by geocross: the plugin's recipe
  defaults (:data:`invprob_plugin_pulse.plugin.PULSE_DEFAULTS`) put the ``sphere`` constraint
  on the primary latent; a generator with a w+ latent adds ``geocross`` over its layer axis;
- of the noise maps (latents whose names start with ``noise``, in declaration order) only the
  first ``noise_layers`` are optimised, the others stay at their random draw (PULSE: 5);
- Adam with the linear 1-cycle schedule (``schedule="one-cycle"``: from lr/10 up to lr at
  the middle and back);
- the loss is the recipe's, on the operator's output (for super-resolution, the bicubic
  downscaling: the "downscaling loss").

When some image's best measurement loss is above ``eps``, the result says so in its
``notes`` (written to ``metrics.json``) and with a ``UserWarning``, and the best result is
still returned: PULSE's own code raised an exception and returned nothing in that case, its
most reported complaint.

A DCGAN has one latent ``z`` and no layers or noise maps: PULSE on it is the sphere on ``z``
(radius ``sqrt(n / 3)`` for the default model's U(-1, 1) latent), the 1-cycle schedule and the
downscaling loss; geocross does not apply.
"""

from __future__ import annotations

import warnings
from typing import Literal

import torch

from invprob.optimisation import OptimiserSettings, initial_latents, optimise
from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import Solver, SolverResult


class PULSESolver(Solver):
    """PULSE; see the module docstring."""

    def __init__(
        self,
        steps: int = 100,
        lr: float = 0.4,
        eps: float | None = 2e-3,
        noise_layers: int = 5,
        restarts: int = 1,
        schedule: Literal["constant", "cosine", "ramp", "one-cycle"] = "one-cycle",
    ):
        self.settings = OptimiserSettings(steps=steps, lr=lr, schedule=schedule)
        self.eps = eps
        self.noise_layers = noise_layers
        self.restarts = restarts

    def solve(
        self,
        problem: InverseProblem,
        *,
        rng: torch.Generator | None = None,
        monitor: Monitor | None = None,
    ) -> SolverResult:
        latents = initial_latents(problem, self.restarts, rng, solver="pulse")
        generator = problem.generator
        assert generator is not None
        noises = [name for name in generator.latent_spaces if name.startswith("noise")]
        fixed = {name: latents.pop(name).detach() for name in noises[self.noise_layers :]}
        if not latents:
            raise ValueError("PULSE has nothing to optimise: every latent of the generator is a fixed noise map")

        def render(variables):
            return generator({**variables, **fixed}) if fixed else generator(variables)

        result = optimise(latents, render, problem, self.settings, monitor=monitor, description="pulse")
        if self.eps is not None:
            missed = (result.best_loss > self.eps).nonzero().flatten().tolist()  # once, after the loop
            if missed:
                losses = ", ".join(f"{float(result.best_loss[i]):.4g}" for i in missed)
                note = (
                    f"PULSE did not reach the target loss eps={self.eps:g} for {len(missed)} of "
                    f"{problem.batch_size} image(s) (batch indices {missed}; best measurement losses {losses}); "
                    "the best result found is returned. Raise steps or restarts, or eps"
                )
                result.notes.append(note)
                warnings.warn(note, stacklevel=2)
        return result
