"""The ILO solver (Daras et al., ICML 2021, Algorithm 1), for any generator that splits.

Rounds, with ``s_k = first_layer + k - 1`` the split point of round ``k >= 1``:

0. CSGM: optimise the generator's latents ``z`` (``restarts`` starts batched; the problem's
   priors apply); the best start per image goes on.
k. Take the state at ``s_k`` of the previous solution, ``c = segment(s_{k-1}, s_k)(previous)``
   (``G1(z*)`` in round 1), as the round's variables -- for a DCGAN the feature map, for a
   StyleGAN2 the feature map, the RGB skip, the remaining w+ entries and noises -- and run
   projected gradient descent on ``G2`` of ``split(s_k)``, each variable kept in an l1 ball
   around its entry of ``c`` (line 4); priors set on a variable the round does not have (a
   Gaussian norm on ``z``) and the problem's constraints (round 0's sphere) are left out of it,
   penalties on the image and on the round's own variables stay. The radius depends on what the entry is: an entry
   whose name starts with ``noise`` takes ``radius_noises``, another latent (a name in the generator's
   ``latent_spaces`` or in its optional ``state_latents``, e.g. StyleGAN2's ``w+``) ``radius_latents``,
   everything else (feature maps, StyleGAN2's RGB skip) ``radius_features``.
   Then, with ``project_to_range`` (the default, as the paper; the reference code omits it),
   the projection back to the range (lines 5-6): fit the previous round's variables so that
   ``segment(s_{k-1}, s_k)`` reproduces the round's solution (MSE, Adam, the previous round's
   own constraint kept: the problem's priors on ``z``, or the previous l1 balls), and take its
   output as the solution the next round starts from. After the last round there is no next
   round to feed, so no projection.

Every round is one call of the core's loop (:func:`invprob.optimisation.optimise`) with its
own tracker; each round's best is merged into one :class:`~invprob.solver.BestIterate`, so the
result is the best over all rounds by measurement loss (``best_round`` says which), and each
round's best image is kept in ``extra_images["round<k>"]`` (the run directory saves them). The
next round starts from the round's best iterate (per image). Learning rate: StyleGAN2's
linear ramp-up and cosine ramp-down within every round (``schedule="ramp"``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Literal

import torch

from invprob import ops
from invprob.generator import Generator
from invprob.losses import MSELoss
from invprob.operator import Operator
from invprob.optimisation import OptimiserSettings, initial_latents, optimise
from invprob.prior import Constraint
from invprob.problem import InverseProblem, WeightedLoss
from invprob.progress import Monitor
from invprob.solver import BestIterate, Solver, SolverResult

from .schedule import NoiseAddition, per_round

State = dict[str, torch.Tensor]
Projection = Callable[[MutableMapping[str, torch.Tensor]], None]

PAPER_RADII = {
    "features": [500.0, 1000.0, 2000.0],
    "latents": [300.0, 500.0, 1000.0, 2000.0],
    "noises": [300.0, 2000.0, 2000.0, 4000.0],
}
"""The l1 radii of ILO's appendix 6.3 for the first layers of a 1024x1024 StyleGAN2."""


class ILOSolver(Solver):
    """Intermediate Layer Optimization; see the module docstring for the algorithm.

    ``steps`` and ``lr`` are per round (a scalar for every round, or a list with one entry
    per round); the radii are per deeper round (rounds 1, 2, ...: a scalar or a list of
    ``rounds - 1``). ``sna`` (noise std on the 0-255 scale) switches on stochastic noise
    addition (:class:`~invprob_plugin_ilo.schedule.NoiseAddition`) in every round.
    ``init_latents`` (a ``.safetensors`` file or a dict ``{latent name: [N or 1, ...]}``)
    replaces the drawn initial latents: with ``steps[0] == 0`` round 0 keeps them, and the
    deeper rounds start from the image they make (the classifier-guided example starts from a
    given digit this way).
    """

    def __init__(
        self,
        steps: int | Sequence[int] = (300, 200, 200, 100),
        lr: float | Sequence[float] = 0.1,
        *,
        rounds: int | None = None,
        radius_features: float | Sequence[float] | None = None,
        radius_latents: float | Sequence[float] | None = None,
        radius_noises: float | Sequence[float] | None = None,
        first_layer: int = 1,
        project_to_range: bool = True,
        range_steps: int = 100,
        range_lr: float = 0.05,
        restarts: int = 1,
        schedule: Literal["constant", "cosine", "ramp", "one-cycle"] = "ramp",
        ramp_up: float = 0.05,
        ramp_down: float = 0.25,
        sna: float | None = None,
        init_latents: str | Path | Mapping[str, torch.Tensor] | None = None,
    ):
        if rounds is None:
            rounds = len(steps) if not isinstance(steps, int) else 4
        if rounds < 1:
            raise ValueError(f"ILO needs at least one round, got rounds={rounds}")
        if first_layer < 1:
            raise ValueError(f"first_layer is the split point of round 1 and must be at least 1, got {first_layer}")
        self.rounds = rounds
        self.steps = per_round("steps", steps, rounds)
        self.lr = per_round("lr", lr, rounds)
        deeper = rounds - 1
        self.radii = {
            kind: per_round(f"radius_{kind}", given, deeper, "deeper round") if given is not None else _paper(kind, deeper)
            for kind, given in (("features", radius_features), ("latents", radius_latents), ("noises", radius_noises))
        }
        for kind, values in self.radii.items():
            if any(value is not None and value < 0 for value in values):
                raise ValueError(f"radius_{kind} must be >= 0 in every round, got {values}")
        self.first_layer = first_layer
        self.project_to_range = project_to_range
        self.range_settings = OptimiserSettings(steps=range_steps, lr=range_lr) if range_steps > 0 else None
        self.restarts = restarts
        self.settings = [
            OptimiserSettings(steps=n, lr=rate, schedule=schedule, ramp_up=ramp_up, ramp_down=ramp_down)
            for n, rate in zip(self.steps, self.lr)
        ]
        self.sna = sna
        if init_latents is not None and restarts != 1:
            raise ValueError(f"init_latents gives one start per image, so restarts must be 1 (got {restarts})")
        self.init_latents = _read_latents(init_latents) if isinstance(init_latents, (str, Path)) else init_latents

    def split_points(self) -> list[int]:
        """The split point of every round (0 for the CSGM round)."""
        return [0] + [self.first_layer + k - 1 for k in range(1, self.rounds)]

    def check_generator(self, generator: Generator) -> None:
        """The deepest split point must exist in ``generator``."""
        deepest = self.split_points()[-1]
        if deepest > generator.num_stages:
            raise ValueError(
                f"ILO with {self.rounds} rounds from first_layer {self.first_layer} splits {type(generator).__name__} "
                f"at layer {deepest}, but it has split points 0..{generator.num_stages}; use at most "
                f"{generator.num_stages - self.first_layer + 2} rounds (fewer steps/lr entries) or a smaller first_layer"
            )

    def solve(
        self,
        problem: InverseProblem,
        *,
        rng: torch.Generator | None = None,
        monitor: Monitor | None = None,
    ) -> SolverResult:
        latents = initial_latents(problem, self.restarts, rng, solver="ilo")
        generator = problem.generator
        assert generator is not None
        if self.init_latents is not None:
            latents = given_latents(self.init_latents, generator, problem.batch_size, like=latents)
        self.check_generator(generator)
        monitor = monitor if monitor is not None else Monitor(show_progress=False)
        best = BestIterate(problem.batch_size)
        extra: dict[str, torch.Tensor] = {}
        timings: dict[str, float] = {}
        splits = self.split_points()

        started = time.perf_counter()
        round_best = BestIterate(problem.batch_size)
        result = optimise(
            latents, generator, problem, self.settings[0], perturb=self._noise(0, rng),
            monitor=monitor, best=round_best, description="ilo round 0 (z)",
        )
        _merge(best, round_best, extra, 0)
        timings["round0"] = time.perf_counter() - started
        previous: State = round_best.variables
        previous_project: Projection = problem.project_
        for k in range(1, self.rounds):
            if result.interrupted:
                break
            started = time.perf_counter()
            split = splits[k]
            with torch.no_grad():
                centre = dict(generator.segment(splits[k - 1], split)(previous))
            radii = {name: self._radius(name, k, generator) for name in centre}
            project = l1_balls(centre, radii)
            variables = {name: value.detach().clone() for name, value in centre.items()}
            round_best = BestIterate(problem.batch_size)
            result = optimise(
                variables, generator.split(split)[1], _for_variables(problem, variables), self.settings[k], project=project,
                perturb=self._noise(k, rng), monitor=monitor, best=round_best,
                description=f"ilo round {k} (layer {split})",
            )
            _merge(best, round_best, extra, k)
            solution = round_best.variables
            timings[f"round{k}"] = time.perf_counter() - started
            if self.project_to_range and k < self.rounds - 1 and not result.interrupted and self.range_settings:
                started = time.perf_counter()
                segment = generator.segment(splits[k - 1], split)
                fitted = project_to_range(segment, previous, solution, self.range_settings, project=previous_project)
                with torch.no_grad():
                    solution = dict(segment(fitted))
                timings[f"range{k}"] = time.perf_counter() - started
            previous, previous_project = solution, project

        assert best.loss is not None and best.image is not None
        return SolverResult(
            best_image=best.image,
            best_latents=best.variables,
            best_loss=best.loss,
            last_image=result.last_image,
            last_latents=result.last_latents,
            history=monitor.history,
            timings=timings,
            interrupted=result.interrupted,
            frames=list(monitor.frames),
            best_round=best.round,
            extra_images=extra,
        )

    def _radius(self, name: str, k: int, generator: Generator) -> float:
        latents = {*generator.latent_spaces, *getattr(generator, "state_latents", ())}
        if name.startswith("noise"):
            kind = "noises"
        elif name in latents:
            kind = "latents"
        else:
            kind = "features"
        radius = self.radii[kind][k - 1]
        if radius is None:
            values = PAPER_RADII[kind]
            raise ValueError(
                f"round {k} optimises {name!r}, which takes radius_{kind}, but the paper gives radius_{kind} "
                f"for {len(values)} deeper rounds only ({values}); give radius_{kind}: one value, or a list of "
                f"{self.rounds - 1}"
            )
        return float(radius)

    def _noise(self, k: int, rng: torch.Generator | None) -> NoiseAddition | None:
        return NoiseAddition(self.sna, self.steps[k], rng) if self.sna else None


def _read_latents(path: str | Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"init_latents must be a .safetensors file (a run's latents.safetensors), got {path.name}")
    return load_file(str(path), device="cpu")


def given_latents(
    given: Mapping[str, torch.Tensor], generator: Generator, batch: int, *, like: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """``given`` as the round-0 variables of ``batch`` images: one entry per latent space of
    ``generator``, each ``[batch or 1, *shape]`` (one row is used for every image), on the
    device and dtype of the drawn latents ``like``."""
    spaces = generator.latent_spaces
    if set(given) != set(spaces):
        raise ValueError(
            f"init_latents holds {sorted(given)} but {type(generator).__name__} takes the latents {sorted(spaces)}"
        )
    out = {}
    for name, space in spaces.items():
        value = given[name]
        if tuple(value.shape[1:]) != tuple(space.shape) or value.shape[0] not in (1, batch):
            raise ValueError(
                f"init_latents[{name!r}] has shape {list(value.shape)}; expected [{batch} or 1, "
                f"{', '.join(map(str, space.shape))}] for {batch} image(s)"
            )
        value = value.expand(batch, *space.shape) if value.shape[0] == 1 else value
        out[name] = value.to(like[name]).detach().clone().requires_grad_(True)
    return out


def l1_balls(centre: Mapping[str, torch.Tensor], radii: Mapping[str, float]) -> Projection:
    """Project each variable onto its l1 ball, ``||v[b] - centre[b]||_1 <= radii[name]`` per image."""
    centres = {name: value.detach() for name, value in centre.items()}

    def project(variables: MutableMapping[str, torch.Tensor]) -> None:
        for name, value in variables.items():
            value.copy_(ops.project_l1_ball(value, centres[name], radii[name]))

    return project


class _Identity(Operator):
    linear = True

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return y


def project_to_range(
    segment: torch.nn.Module,
    start: Mapping[str, torch.Tensor],
    target: Mapping[str, torch.Tensor],
    settings: OptimiserSettings,
    *,
    project: Projection | None = None,
) -> State:
    """Lines 5-6 of Algorithm 1: ``argmin_u ||segment(u) - target||^2`` from ``u = start``.

    ``start`` are the variables of the previous round (``z`` in round 1), ``target`` the
    intermediate solution (every entry of the state, compared flattened and concatenated);
    ``project`` keeps ``u`` where the previous round kept it. Solved with the core's loop on
    a problem whose "image" is the flattened state; returns the best ``u`` per element (its
    distance to the target is never larger than that of ``start``).
    """
    names = sorted(target)

    def flat(state: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([state[name].reshape(state[name].shape[0], -1) for name in names], dim=1)

    observation = flat(target).detach()
    problem = InverseProblem(
        operator=_Identity(),
        observation=observation,
        image_shape=(1, 1, observation.shape[1]),
        losses=[WeightedLoss(1.0, MSELoss())],
    )
    variables = {name: value.detach().clone() for name, value in start.items()}
    result = optimise(
        variables, lambda state: flat(segment(state)), problem, settings, project=project, description="ilo range"
    )
    return {name: value for name, value in result.best_latents.items()}


def _for_variables(problem: InverseProblem, variables: Mapping[str, torch.Tensor]) -> InverseProblem:
    """``problem`` for a deeper round: without the priors set on a variable the round does not
    optimise, and without the problem's constraints.

    A prior on ``z`` (a Gaussian norm, a box) shapes round 0; a deeper round optimises the
    state at its split point and has no ``z``. Penalties on the image (the discriminator prior)
    and on variables the round has (geocross on the w+ entries still to come) stay. Constraints
    are round 0's: a deeper round's constraint is its l1 ball around the previous solution
    (appendix 6.3: the latents are projected to the sphere first, then l1 projections).
    """
    kept = [
        p for p in problem.priors
        if not isinstance(p, Constraint) and getattr(p, "variable", None) in (None, *variables)
    ]  # fmt: skip
    if len(kept) == len(problem.priors):
        return problem
    return dataclasses.replace(problem, priors=kept)


def _merge(best: BestIterate, round_best: BestIterate, extra: dict[str, torch.Tensor], k: int) -> None:
    assert round_best.loss is not None and round_best.image is not None
    best.start_round()
    best.update(round_best.loss, round_best.image, round_best.variables)
    extra[f"round{k}"] = round_best.image


def _paper(kind: str, count: int) -> list[float | None]:
    """The paper's radii for ``count`` deeper rounds; None past them (an error if a round needs one)."""
    values: list[float | None] = list(PAPER_RADII[kind][:count])
    return values + [None] * (count - len(values))
