"""The PULSE solver (Menon et al., CVPR 2020), by default as its official code
(adamian98/pulse, ``PULSE.py``) runs it, on the core's optimisation loop.

- On a StyleGAN2 (a :class:`~invprob.generator.HasGaussianFit` with a ``w``/``w+`` latent) the search is
  over PULSE's Gaussianised latent ``v``, ``w = leaky_relu(std * v + mean, 0.2)``, drawn from
  N(0, I); Adam updates ``v``. Penalties on the style latent (geocross) see ``w``, as
  PULSE's ``LossBuilder`` does. Any other generator's latent (a DCGAN's ``z``) is searched as it is.
- Of the noise maps (latents whose names start with ``noise``) only the first
  ``noise_layers`` are optimised (PULSE: 5); the others stay at their random draw.
- After every step every vector of the optimised latents (one per w+ slot, one per noise
  map, the whole ``z`` of a DCGAN) is rescaled to the norm it had at the start
  (``SphericalOptimizer``; ``sphere``).
- The objective is the recipe's measurement loss clamped from below at ``eps`` per image
  (PULSE's ``L2.clamp(min=eps)``), plus the penalties. PULSE's ``100*L2+0.05*GEOCROSS`` on
  [0, 1] images is ``25 * MSE`` on [-1, 1] (the recipe defaults, :data:`PULSE_DEFAULTS`) plus
  geocross 0.05, and its ``eps = 2e-3`` is 0.2 in those units (the default ``eps``).
- Learning rate: ``linear1cycledrop`` (``schedule="one-cycle-drop"``, PULSE's default).

When some image's best measurement loss is above ``eps``, the result says so in its
``notes`` and with a ``UserWarning``, and the best result is still returned (PULSE's own code
returned nothing then). The best iterate is ranked by the measurement loss (PULSE: by the
total loss); ``best_loss`` is the unclamped measurement loss.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, MutableMapping
from typing import Literal

import torch
import torch.nn.functional as F

from invprob import seeding
from invprob.generator import Generator, HasGaussianFit
from invprob.optimisation import OptimiserSettings, initial_latents, optimise
from invprob.prior import Penalty, PenaltyContext
from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.solver import Solver, SolverResult, problem_round


class PULSESolver(Solver):
    """PULSE; see the module docstring."""

    def __init__(
        self,
        steps: int = 100,
        lr: float = 0.4,
        eps: float | None = 0.2,
        noise_layers: int = 5,
        restarts: int = 1,
        schedule: Literal["constant", "cosine", "ramp", "one-cycle", "one-cycle-drop"] = "one-cycle-drop",
        sphere: bool = True,
        space: Literal["gaussianised", "w"] = "gaussianised",
    ):
        self.settings = OptimiserSettings(steps=steps, lr=lr, schedule=schedule)
        self.eps = eps
        self.noise_layers = noise_layers
        self.restarts = restarts
        self.sphere = sphere
        self.space = space

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
        style, to_w = self._gaussianised(generator)
        if to_w is not None:
            drawn = latents[style]
            latents[style] = seeding.randn(tuple(drawn.shape), rng, device=drawn.device, dtype=drawn.dtype).requires_grad_(True)

        def as_w(variables: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            return {**variables, style: to_w(variables[style])} if to_w is not None else dict(variables)

        def render(variables):
            return generator({**as_w(variables), **fixed})

        if self.sphere:
            clashing = sorted({c.variable for c in problem.constraints} & set(latents))
            if clashing:
                raise ValueError(
                    f"PULSE keeps {clashing} on the sphere itself after every step (as its official code); remove "
                    f"the constraint prior(s) on {clashing} from the recipe, or set solver.params.sphere: false"
                )
        project = _spherical(latents) if self.sphere else None
        objective = _objective(problem, self.eps, as_w if to_w is not None else None)
        result = optimise(latents, render, objective, self.settings, project=project, monitor=monitor, description="pulse")
        with torch.no_grad():
            result.best_loss = problem.measurement_loss(result.best_image)
        result.best_latents = as_w(result.best_latents)
        result.last_latents = as_w(result.last_latents)
        result.rounds = [problem_round(problem, 0, self.settings.steps, self.settings.lr, latents, ["sphere"] if self.sphere else [])]
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

    def _gaussianised(self, generator: Generator):
        """The style latent searched in PULSE's Gaussianised space and ``v -> w`` (None, None without one)."""
        style = next((name for name in ("w+", "w") if name in generator.latent_spaces), None)
        if self.space != "gaussianised" or style is None or not isinstance(generator, HasGaussianFit):
            return None, None
        mean, covariance = generator.gaussian_fit()
        std = covariance.diagonal().clamp(min=0).sqrt()
        return style, lambda v: F.leaky_relu(std.to(v) * v + mean.to(v), 0.2)


def _spherical(variables: Mapping[str, torch.Tensor]):
    """PULSE's ``SphericalOptimizer``: every vector (dimensions after the first two) back to its initial norm."""

    def norms(value: torch.Tensor) -> torch.Tensor:
        return (value.square().sum(dim=tuple(range(2, value.dim())), keepdim=True) + 1e-9).sqrt()

    radii = {name: norms(value.detach()).clone() for name, value in variables.items()}

    def project(state: MutableMapping[str, torch.Tensor]) -> None:
        for name, radius in radii.items():
            state[name].div_(norms(state[name])).mul_(radius)

    return project


class _SeesW(Penalty):
    """A penalty of the problem, shown the style latent in w (PULSE's geocross is on w)."""

    def __init__(self, inner: Penalty, as_w):
        super().__init__()
        self.inner, self.as_w = inner, as_w
        self.variable = inner.variable

    def forward(self, context: PenaltyContext) -> torch.Tensor:
        return self.inner(dataclasses.replace(context, variables=self.as_w(context.variables)))


@dataclasses.dataclass
class _Clamped(InverseProblem):
    """The problem with its measurement loss clamped from below at ``floor`` per image."""

    floor: float = 0.0

    def measurement_loss(self, image: torch.Tensor) -> torch.Tensor:
        return super().measurement_loss(image).clamp(min=self.floor)


def _objective(problem: InverseProblem, eps: float | None, as_w) -> InverseProblem:
    priors = [_SeesW(p, as_w) if as_w is not None and isinstance(p, Penalty) else p for p in problem.priors]
    fields = {f.name: getattr(problem, f.name) for f in dataclasses.fields(problem) if f.init}
    fields["priors"] = priors
    return _Clamped(**fields, floor=eps) if eps is not None else dataclasses.replace(problem, priors=priors)
