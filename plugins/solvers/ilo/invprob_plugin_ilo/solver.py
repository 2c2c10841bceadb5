"""The ILO solver (Daras et al., ICML 2021), by default as its official code
(giannisdaras/ilo, ``ilo_stylegan.py``) runs it, for any generator that splits.

Rounds, with ``s_k = first_layer + k - 1`` the split point of round ``k >= 1``:

0. Optimise the generator's latents (``restarts`` starts batched; the problem's priors apply).
k. Take the state at ``s_k`` of the previous round's *last* iterate,
   ``c = segment(s_{k-1}, s_k)(previous)``, as the round's variables (a DCGAN: the feature
   map; a StyleGAN2: the feature map, the w+ slots and the noise maps still to come) and run
   projected gradient descent on ``G2`` of ``split(s_k)``.

On a StyleGAN2 (a :class:`~invprob.generator.HasGaussianFit` with a ``w``/``w+`` latent), as the official code:

- the style latent is optimised in PULSE's Gaussianised space, ``w = leaky_relu(std * v + mean,
  0.2)`` (``space="gaussianised"``; ``v`` starts at N(0, I); ``space="w"`` optimises w itself);
- round ``k`` optimises the first ``noise_layers + 2k`` noise maps (``range(5 + 2k)``); the
  others stay at their value (the start's random draw);
- after every step of every round, every w+ slot (of ``v``) and every optimised noise map is
  rescaled to the norm it had when the round began (``SphericalOptimizer``; ``sphere``), then
  each variable is projected onto its l1 ball around its value at the round's start;
- the RGB skip of the blocks before the split is carried unchanged (not optimised; the
  official code drops it, see the README).

Radii: ``radius_latents`` and ``radius_noises`` per round *from round 0* (the official
``max_radius_*[round]``; appendix 6.3: latents 300, 500, 1000, 2000, noises 300, 2000, 2000,
4000), ``radius_features`` per deeper round (500, 1000, 2000; round 0 has no features). A
name starting with ``noise`` takes the noise radius, another latent (the generator's
``latent_spaces``, and its ``state_latents`` when it is a :class:`~invprob.generator.HasStateLatents`)
the latent radius, everything else the feature radius.

Priors: round 0 has the problem's; deeper rounds keep the penalties on the image only (the
official geocross slices the batch axis, ``latent_z[2 * start_layer:]``, which at batch size 1
is empty from round 1 on: no gradient).

Best: ``best="per-round"`` (official): each round starts from the previous round's last
iterate, the tracker is reset every round and the result is the last round's best (by the
measurement loss of the iterate before each step). ``best="overall"`` (our earlier variant):
each round starts from the previous round's best and the result is the best over all rounds.
``project_to_range`` (Algorithm 1, lines 5-6; the official code has none; off by default) fits
the previous round's variables so that ``segment(s_{k-1}, s_k)`` reproduces the round's
solution before the next round. Learning rate: ``get_lr`` (linear ramp-up over 5%, cosine
ramp-down over the last 75% of every round, ``schedule="ramp"``). Each round's best image is
kept in ``extra_images["round<k>"]``; ``rounds`` in the result says what each round optimised.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Literal

import torch

from invprob import ops, seeding
from invprob.generator import Generator, HasGaussianFit, HasStateLatents
from invprob.losses import MSELoss
from invprob.operator import Operator
from invprob.optimisation import OptimiserSettings, initial_latents, optimise
from invprob.prior import Constraint
from invprob.problem import InverseProblem, WeightedLoss
from invprob.progress import Monitor
from invprob.solver import BestIterate, Solver, SolverResult, constraint_name, round_entry

from .latents import Gaussianised, spherical
from .schedule import NoiseAddition, per_round

State = dict[str, torch.Tensor]
Projection = Callable[[MutableMapping[str, torch.Tensor]], None]

PAPER_RADII = {
    "features": [500.0, 1000.0, 2000.0],
    "latents": [300.0, 500.0, 1000.0, 2000.0],
    "noises": [300.0, 2000.0, 2000.0, 4000.0],
}
"""The l1 radii of ILO's appendix 6.3 for a 1024x1024 StyleGAN2: latents and noises for
rounds 0-3, the previous solutions (features) for rounds 1-3."""

ROUND_KINDS = {"features": False, "latents": True, "noises": True}
"""Whether a kind of radius is given for every round (True) or for the deeper rounds only."""


class ILOSolver(Solver):
    """Intermediate Layer Optimization; see the module docstring for the algorithm.

    ``steps`` and ``lr`` are per round (a scalar for every round, or a list with one entry
    per round); ``radius_latents`` and ``radius_noises`` per round (``rounds`` entries, from
    round 0), ``radius_features`` per deeper round (``rounds - 1``). ``sna`` (noise std on the
    0-255 scale) switches on stochastic noise addition
    (:class:`~invprob_plugin_ilo.schedule.NoiseAddition`) in every round; ``sna_ramp``
    decays it. ``init_latents`` (a ``.safetensors`` file or a dict ``{latent name: [N or 1,
    ...]}``) replaces the drawn initial latents: with ``steps[0] == 0`` round 0 keeps them.
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
        noise_layers: int = 5,
        sphere: bool = True,
        space: Literal["gaussianised", "w"] = "gaussianised",
        best: Literal["per-round", "overall"] = "per-round",
        project_to_range: bool = False,
        range_steps: int = 100,
        range_lr: float = 0.05,
        restarts: int = 1,
        schedule: Literal["constant", "cosine", "ramp", "one-cycle"] = "ramp",
        ramp_up: float = 0.05,
        ramp_down: float = 0.75,
        sna: float | None = None,
        sna_ramp: float | None = None,
        init_latents: str | Path | Mapping[str, torch.Tensor] | None = None,
    ):
        if rounds is None:
            rounds = len(steps) if not isinstance(steps, int) else 4
        if rounds < 1:
            raise ValueError(f"ILO needs at least one round, got rounds={rounds}")
        if first_layer < 1:
            raise ValueError(f"first_layer is the split point of round 1 and must be at least 1, got {first_layer}")
        if best not in ("per-round", "overall"):
            raise ValueError(f"best must be 'per-round' or 'overall', got {best!r}")
        if space not in ("gaussianised", "w"):
            raise ValueError(f"space must be 'gaussianised' or 'w', got {space!r}")
        self.rounds = rounds
        self.steps = per_round("steps", steps, rounds)
        self.lr = per_round("lr", lr, rounds)
        self.radii: dict[str, list[float | None]] = {}
        for kind, given in (("features", radius_features), ("latents", radius_latents), ("noises", radius_noises)):
            count, what = (rounds, "round") if ROUND_KINDS[kind] else (rounds - 1, "deeper round")
            values = per_round(f"radius_{kind}", given, count, what) if given is not None else _paper(kind, count)
            if any(value is not None and value < 0 for value in values):
                raise ValueError(f"radius_{kind} must be >= 0 in every round, got {values}")
            self.radii[kind] = values
        self.first_layer = first_layer
        self.noise_layers = noise_layers
        self.sphere = sphere
        self.space = space
        self.best = best
        self.project_to_range = project_to_range
        self.range_settings = OptimiserSettings(steps=range_steps, lr=range_lr) if range_steps > 0 else None
        self.restarts = restarts
        self.settings = [
            OptimiserSettings(steps=n, lr=rate, schedule=schedule, ramp_up=ramp_up, ramp_down=ramp_down)
            for n, rate in zip(self.steps, self.lr)
        ]
        self.sna = sna
        self.sna_ramp = sna_ramp
        if init_latents is not None and restarts != 1:
            raise ValueError(f"init_latents gives one start per image, so restarts must be 1 (got {restarts})")
        self.init_latents = _read_latents(init_latents) if isinstance(init_latents, (str, Path)) else init_latents

    def split_points(self) -> list[int]:
        """The split point of every round (0 for the first round)."""
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
        style, gauss = self._gaussianised(generator)
        if gauss is not None:
            latents[style] = (
                gauss.from_w(latents[style].detach()) if self.init_latents is not None
                else seeding.randn(tuple(latents[style].shape), rng, device=latents[style].device, dtype=latents[style].dtype)
            ).requires_grad_(True)  # fmt: skip
        spherical_names = self._spherical_names(generator, problem)
        monitor = monitor if monitor is not None else Monitor(show_progress=False)
        overall = BestIterate(problem.batch_size)
        extra: dict[str, torch.Tensor] = {}
        timings: dict[str, float] = {}
        provenance: list[dict] = []
        splits = self.split_points()

        def to_w(state: Mapping[str, torch.Tensor]) -> State:
            return {**state, style: gauss.to_w(state[style])} if gauss is not None and style in state else dict(state)

        started = time.perf_counter()
        variables, fixed = self._split_fixed(latents, 0)
        batch = problem.batch_size  # the maps round 0 does not optimise: one draw per image, the same for every restart
        fixed = {name: value[:batch].repeat(self.restarts, *([1] * (value.dim() - 1))) for name, value in fixed.items()}
        render0 = generator if not fixed and gauss is None else (lambda v: generator(to_w({**v, **fixed})))
        project = self._projection(variables, 0, generator, spherical_names)
        round_best = BestIterate(problem.batch_size)
        result = optimise(
            variables, render0, problem, self.settings[0], project=project, perturb=self._noise(0, rng),
            monitor=monitor, best=round_best, description="ilo round 0",
        )
        provenance.append(self._provenance(0, variables, generator, spherical_names, problem))
        _merge(overall, round_best, extra, 0)
        timings["round0"] = time.perf_counter() - started
        previous: State = to_w({**self._carried(result, round_best), **{n: v[:batch] for n, v in fixed.items()}})
        previous_project: Projection | None = problem.project_ if gauss is None else None
        for k in range(1, self.rounds):
            if result.interrupted:
                break
            started = time.perf_counter()
            split = splits[k]
            with torch.no_grad():
                centre = dict(generator.segment(splits[k - 1], split)(previous))
            if gauss is not None and style in centre:
                centre[style] = gauss.from_w(centre[style])
            variables, fixed = self._split_fixed(centre, k)
            variables = {name: value.detach().clone() for name, value in variables.items()}
            project = self._projection(variables, k, generator, spherical_names)
            g2 = generator.split(split)[1]
            round_best = BestIterate(problem.batch_size)
            result = optimise(
                variables, lambda v: g2(to_w({**v, **fixed})), _for_variables(problem), self.settings[k],
                project=project, perturb=self._noise(k, rng), monitor=monitor, best=round_best,
                description=f"ilo round {k} (layer {split})",
            )
            provenance.append(self._provenance(k, variables, generator, spherical_names, problem))
            _merge(overall, round_best, extra, k)
            solution = to_w({**self._carried(result, round_best), **fixed})
            timings[f"round{k}"] = time.perf_counter() - started
            if self.project_to_range and k < self.rounds - 1 and not result.interrupted and self.range_settings:
                started = time.perf_counter()
                segment = generator.segment(splits[k - 1], split)
                fitted = project_to_range(segment, previous, solution, self.range_settings, project=previous_project)
                with torch.no_grad():
                    solution = dict(segment(fitted))
                timings[f"range{k}"] = time.perf_counter() - started
            previous, previous_project = solution, (project if gauss is None else None)

        final = overall if self.best == "overall" else round_best
        assert final.loss is not None and final.image is not None
        return SolverResult(
            best_image=final.image,
            best_latents=to_w(final.variables),
            best_loss=final.loss,
            last_image=result.last_image,
            last_latents=to_w(result.last_latents),
            history=monitor.history,
            timings=timings,
            interrupted=result.interrupted,
            frames=list(monitor.frames),
            best_round=overall.round if self.best == "overall" else torch.full_like(overall.round, len(provenance) - 1),
            extra_images=extra,
            rounds=provenance,
        )

    def _carried(self, result: SolverResult, round_best: BestIterate) -> State:
        """What the next round starts from: the last iterate (official) or the round's best."""
        chosen = round_best.variables if self.best == "overall" else result.last_latents
        return {name: value.detach() for name, value in chosen.items()}

    def _gaussianised(self, generator: Generator) -> tuple[str | None, Gaussianised | None]:
        """The style latent optimised in PULSE's Gaussianised space, and the map (None, None without one)."""
        style = next((name for name in ("w+", "w") if name in generator.latent_spaces), None)
        if self.space != "gaussianised" or style is None or not isinstance(generator, HasGaussianFit):
            return None, None
        mean, covariance = generator.gaussian_fit()
        return style, Gaussianised(mean, covariance.diagonal().clamp(min=0).sqrt())

    def _spherical_names(self, generator: Generator, problem: InverseProblem) -> set[str]:
        """The latents kept on their sphere every step: the generator's state latents (w+, noise maps)."""
        if not self.sphere:
            return set()
        names = set(_state_latents(generator))
        clashing = sorted({c.variable for c in problem.constraints} & names & set(generator.latent_spaces))
        if clashing:
            raise ValueError(
                f"ILO keeps {clashing} on the sphere itself after every step of every round (as its official code); "
                f"remove the constraint prior(s) on {clashing} from the recipe, or set solver.params.sphere: false"
            )
        return names

    def _split_fixed(self, state: Mapping[str, torch.Tensor], k: int) -> tuple[State, State]:
        """The round's variables and the entries it carries unchanged: the RGB skip and the noise
        maps past the first ``noise_layers + 2k``."""
        limit = self.noise_layers + 2 * k
        variables, fixed = {}, {}
        for name, value in state.items():
            if name == "skip" or (name.startswith("noise_") and name[6:].isdigit() and int(name[6:]) >= limit):
                fixed[name] = value.detach()
            else:
                variables[name] = value
        return variables, fixed

    def _projection(
        self, variables: Mapping[str, torch.Tensor], k: int, generator: Generator, spherical_names: set[str]
    ) -> Projection:
        """The sphere (every round), then the l1 balls around the round's start (official order)."""
        sphere = spherical(variables, spherical_names)
        radii = {name: self._radius(name, k, generator) for name in variables}
        balls = l1_balls({n: v.detach().clone() for n, v in variables.items() if radii[n] is not None}, radii)

        def project(state: MutableMapping[str, torch.Tensor]) -> None:
            sphere(state)
            balls(state)

        return project

    def _provenance(
        self, k: int, variables: Mapping[str, torch.Tensor], generator: Generator, spherical_names: set[str],
        problem: InverseProblem,
    ) -> dict:  # fmt: skip
        """``metrics.json``'s ``rounds`` entry: what round ``k`` optimised and how it was constrained."""
        radii = {name: self._radius(name, k, generator) for name in variables}
        constraints = [constraint_name(c) for c in problem.constraints] if k == 0 else []
        if any(name in spherical_names for name in variables):
            constraints.append("sphere")
        if radii:
            constraints.append("l1-ball")
        return round_entry(k, self.steps[k], self.lr[k], variables, constraints, radii)

    def _radius(self, name: str, k: int, generator: Generator) -> float | None:
        latents = {*generator.latent_spaces, *_state_latents(generator)}
        if name.startswith("noise"):
            kind = "noises"
        elif name in latents:
            kind = "latents"
        else:
            kind = "features"
        index = k if ROUND_KINDS[kind] else k - 1
        radius = self.radii[kind][index]
        if radius is None:
            values = PAPER_RADII[kind]
            count = self.rounds if ROUND_KINDS[kind] else self.rounds - 1
            raise ValueError(
                f"round {k} optimises {name!r}, which takes radius_{kind}, but the paper gives radius_{kind} "
                f"for {len(values)} rounds only ({values}); give radius_{kind}: one value, or a list of {count}"
            )
        return float(radius)

    def _noise(self, k: int, rng: torch.Generator | None) -> NoiseAddition | None:
        return NoiseAddition(self.sna, self.steps[k], rng, ramp=self.sna_ramp) if self.sna else None


def _state_latents(generator: Generator) -> tuple[str, ...]:
    """The split-state entries that are latents (:class:`~invprob.generator.HasStateLatents`); none
    declared: only the input latents are."""
    return generator.state_latents if isinstance(generator, HasStateLatents) else ()


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


def _for_variables(problem: InverseProblem) -> InverseProblem:
    """``problem`` for a deeper round: only the penalties on the image (the discriminator prior).

    Priors on latents (a Gaussian norm on ``z``, geocross on w+) and constraints shape round 0
    only: a deeper round's constraints are its sphere and l1 balls (appendix 6.3), and the
    official geocross has no gradient from round 1 on (it slices the batch axis).
    """
    kept = [p for p in problem.priors if not isinstance(p, Constraint) and p.variable is None]
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
