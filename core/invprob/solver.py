"""The solver interface, its result, and the one tracker of the best iterate per image.

Batch layout, everywhere: ``R`` restarts of ``B`` images are one batch of ``R * B`` elements,
restart-major (element ``r * B + b`` is restart ``r`` of image ``b``), the layout
:meth:`InverseProblem.observation_for` expects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from invprob.problem import InverseProblem
from invprob.progress import Monitor


@dataclass
class SolverResult:
    """What a solver returns for a batch of ``B`` images.

    ``best_*`` is the iterate with the lowest measurement loss seen for each image across all
    rounds and restarts; ``best_round[b]`` says which round (0, 1, ...) image ``b``'s best came
    from (all zeros for a single-round solver; None for solvers without rounds, such as the
    classical ones). ``best_latents`` holds the variables of that round; a variable is present
    only when it exists, with one shape, in the best round of *every* image (a solver whose
    rounds optimise different variables reports, per image, the round's own variables and
    never fills a gap with zeros). ``last_*`` is where the optimisation ended. ``history``
    holds one list of floats per recorded scalar; ``timings`` seconds per phase;
    ``interrupted`` is True when the run was stopped early (Ctrl-C) and ``best_*`` is the best
    so far. ``extra_images`` are further ``[B, C, H, W]`` images the run directory keeps, by name
    (ILO: each round's best, ``images/<image>_round1.png``); ``notes`` are sentences for the
    user that the run records in ``metrics.json`` (PULSE: the target loss was not reached).
    ``rounds`` says what each round of a latent-search solver optimised (:func:`round_entry`);
    the run writes it to ``metrics.json``.
    ``trivial_metrics`` names the metrics the solver's own post-processing makes trivial, each
    with the reason (Yeh's Poisson blending copies the observed pixels into the result, so its
    ``measurement_loss`` is 0 by construction): the run records them under ``trivial`` in
    ``metrics.json``, and a study's report neither ranks nor bolds by them.
    """

    best_image: torch.Tensor
    best_latents: dict[str, torch.Tensor]
    best_loss: torch.Tensor
    last_image: torch.Tensor
    last_latents: dict[str, torch.Tensor] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
    frames: list[torch.Tensor] = field(default_factory=list)
    best_round: torch.Tensor | None = None
    extra_images: dict[str, torch.Tensor] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rounds: list[dict] = field(default_factory=list)
    trivial_metrics: dict[str, str] = field(default_factory=dict)


def constraint_name(constraint: object) -> str:
    """A constraint prior's name for ``rounds``: its class name in kebab case without
    ``Constraint`` (``L1BallConstraint`` -> ``l1-ball``, ``SphereConstraint`` -> ``sphere``)."""
    import re

    name = type(constraint).__name__.removesuffix("Constraint")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


def round_entry(
    index: int,
    steps: int,
    lr: float,
    variables: Mapping[str, torch.Tensor],
    constraints: list[str],
    radii: Mapping[str, float | None] | None = None,
) -> dict:
    """One entry of ``SolverResult.rounds``: ``{round, steps, lr, variables: [{name, shape,
    radius}], constraints}``; ``shape`` is per image, ``radius`` the l1 radius (None: no ball);
    ``constraints`` names the projections applied after each step, in order."""
    radii = radii or {}
    return {
        "round": index,
        "steps": int(steps),
        "lr": float(lr),
        "variables": [
            {"name": name, "shape": list(value.shape[1:]), "radius": radii.get(name)} for name, value in variables.items()
        ],
        "constraints": list(constraints),
    }


def problem_round(
    problem: InverseProblem, index: int, steps: int, lr: float, variables: Mapping[str, torch.Tensor], after: Sequence[str] = ()
) -> dict:
    """:func:`round_entry` of a round that optimises ``variables`` under the problem's constraint
    priors (radius: an ``l1-ball`` prior's), then the solver's own projections ``after``."""
    constraints = problem.constraints
    radii = {c.variable: float(c.radius) for c in constraints if constraint_name(c) == "l1-ball"}
    return round_entry(index, steps, lr, variables, [*(constraint_name(c) for c in constraints), *after], radii)


class Solver:
    """Solves an :class:`InverseProblem`; subclasses implement :meth:`solve`.

    ``rng`` (a CPU ``torch.Generator``) seeds every random choice (initial latents, restarts,
    noise); ``monitor`` shows progress, records history and frames, and tells the solver when
    to stop early (it then returns the best so far with ``interrupted=True``).
    """

    def solve(
        self,
        problem: InverseProblem,
        *,
        rng: torch.Generator | None = None,
        monitor: Monitor | None = None,
    ) -> SolverResult:
        raise NotImplementedError


class BestIterate:
    """Per image, the iterate with the lowest measurement loss, over restarts, steps and rounds.

    :meth:`update` takes ``R * B`` iterates (restart-major) with their measurement losses
    ``[R * B]``, the images they render and the variables that made them; it keeps, per image,
    the best over the restarts and over every earlier call. It never reads a value back to the
    host, so it costs no synchronisation inside an optimisation loop.

    Rounds: a solver whose phases optimise different variables (ILO: ``z``, then a deeper
    layer's state) calls :meth:`start_round` before each phase (:func:`invprob.optimisation.optimise`
    does it on every call). Each round keeps its own variables; :attr:`round` says which round
    holds each image's best, and :attr:`variables` reports, per image, the variables of that
    round. A variable missing from (or shaped differently in) the best round of some image is
    left out of :attr:`variables` rather than filled in.
    """

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self.loss: torch.Tensor | None = None
        self.image: torch.Tensor | None = None
        self._round: torch.Tensor | None = None  # None while every best is from round 0
        self._rounds: list[dict[str, torch.Tensor]] = [{}]
        self._updated_this_round = False
        self._image_index: torch.Tensor | None = None

    @property
    def round(self) -> torch.Tensor | None:
        """``[B]``: the round that holds each image's best (None before the first update)."""
        if self._round is None and self.loss is not None:
            return torch.zeros_like(self.loss, dtype=torch.long)
        return self._round

    @property
    def current_round(self) -> int:
        return len(self._rounds) - 1

    def start_round(self) -> int:
        """Begin a new round (a no-op before the first update of the current one); its index."""
        if self._updated_this_round:
            self._rounds.append({})
            self._updated_this_round = False
            if self._round is None and self.loss is not None:
                self._round = torch.zeros_like(self.loss, dtype=torch.long)
        return self.current_round

    def best_restart_index(self, loss: torch.Tensor) -> torch.Tensor:
        """Flat (restart-major) index ``[B]`` of the lowest-loss restart of each image."""
        restarts, remainder = divmod(loss.shape[0], self.batch_size)
        if remainder or restarts == 0:
            raise ValueError(
                f"a batch of {loss.shape[0]} iterates is not a whole number of restarts of {self.batch_size} images"
            )
        if self._image_index is None or self._image_index.device != loss.device:
            self._image_index = torch.arange(self.batch_size, device=loss.device)
        ranked = loss.detach().nan_to_num(nan=float("inf"))  # a diverged restart never wins
        return ranked.reshape(restarts, self.batch_size).argmin(dim=0) * self.batch_size + self._image_index

    @torch.no_grad()
    def update(self, loss: torch.Tensor, image: torch.Tensor, variables: Mapping[str, torch.Tensor]) -> None:
        """Keep, per image, whichever is lower: the best so far or the best of these iterates."""
        loss = loss.detach()
        if loss.shape[0] == self.batch_size:
            # one restart: the iterates themselves (views; copied only where they are stored)
            pick, keep = _detached, _copy
        else:
            index = self.best_restart_index(loss)
            pick = lambda value: value.detach().index_select(0, index)  # noqa: E731 - already a copy
            keep = _detached
        stored = self._rounds[-1]
        candidate_loss = pick(loss)
        if self.loss is None:
            self.loss, self.image = keep(candidate_loss), keep(pick(image))
            if self.current_round > 0:
                self._round = torch.full_like(self.loss, self.current_round, dtype=torch.long)
            better = None
        else:
            # a finite loss also replaces a NaN kept so far (a first iterate that diverged)
            better = (candidate_loss < self.loss) | (self.loss.isnan() & ~candidate_loss.isnan())
            self.loss = torch.where(better, candidate_loss, self.loss)
            self.image = _where_batch(better, pick(image), self.image)
            if self._round is not None:  # None while everything is round 0: one op less per step
                self._round = torch.where(better, self.current_round, self._round)
        for name, value in variables.items():
            if better is None or not self._updated_this_round:
                # the round's first iterate; images whose best is in another round ignore it
                stored[name] = keep(pick(value))
            else:
                stored[name] = _where_batch(better, pick(value), stored[name])
        self._updated_this_round = True

    @property
    def variables(self) -> dict[str, torch.Tensor]:
        """Per image, the variables of the round that holds its best (see the class docstring).

        Reads the best rounds back to the host once: call it when the optimisation is over.
        """
        if self.loss is None:
            return {}
        used = sorted({int(r) for r in self._round.tolist()}) if self._round is not None else [0]
        first = self._rounds[used[0]]
        names = [
            name
            for name, value in first.items()
            if all(name in self._rounds[r] and self._rounds[r][name].shape == value.shape for r in used[1:])
        ]
        out: dict[str, torch.Tensor] = {}
        for name in names:
            value = first[name]
            for r in used[1:]:
                value = _where_batch(self._round == r, self._rounds[r][name], value)
            out[name] = value.clone()
        return out


def _detached(value: torch.Tensor) -> torch.Tensor:
    return value.detach()


def _copy(value: torch.Tensor) -> torch.Tensor:
    return value.detach().clone()


def _where_batch(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.reshape(-1, *([1] * (a.dim() - 1))), a, b)
