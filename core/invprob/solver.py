"""The solver interface and its result: the best iterate across all rounds, the last, the history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from invprob.problem import InverseProblem
from invprob.progress import Monitor


@dataclass
class SolverResult:
    """What a solver returns for a batch of ``B`` images.

    ``best_*`` is the iterate with the lowest measurement loss seen for each image across all
    rounds and restarts; ``last_*`` is where the optimisation ended. ``history`` holds one list
    of floats per recorded scalar; ``timings`` seconds per phase; ``interrupted`` is True when
    the run was stopped early (Ctrl-C) and ``best_*`` is the best so far.
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


class Solver:
    """Solves an :class:`InverseProblem`; subclasses implement :meth:`solve`.

    ``generator`` seeds every random choice (initial latents, restarts, noise); ``monitor``
    shows progress, records history and frames, and tells the solver when to stop early.
    """

    def solve(
        self,
        problem: InverseProblem,
        *,
        generator: torch.Generator | None = None,
        monitor: Monitor | None = None,
    ) -> SolverResult:
        raise NotImplementedError


class BestIterate:
    """Per image, the iterate with the lowest measurement loss seen so far.

    ``update`` takes a batch of ``R * B`` iterates in restart-major order (element ``r*B + b``
    is restart ``r`` of image ``b``) and keeps, for each image, the best over the restarts and
    over every earlier call, so a solver with several rounds never loses a better early iterate.
    """

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self.loss: torch.Tensor | None = None
        self.image: torch.Tensor | None = None
        self.variables: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def update(self, loss: torch.Tensor, image: torch.Tensor, variables: Mapping[str, torch.Tensor]) -> None:
        restarts = loss.shape[0] // self.batch_size
        per_restart = loss.detach().reshape(restarts, self.batch_size)
        best_restart = per_restart.argmin(dim=0)
        index = best_restart * self.batch_size + torch.arange(self.batch_size, device=loss.device)
        candidate_loss = loss.detach()[index]
        candidate_image = image.detach()[index]
        candidate_vars = {name: value.detach()[index] for name, value in variables.items()}
        if self.loss is None:
            self.loss = candidate_loss.clone()
            self.image = candidate_image.clone()
            self.variables = {name: value.clone() for name, value in candidate_vars.items()}
            return
        better = candidate_loss < self.loss
        self.loss = torch.where(better, candidate_loss, self.loss)
        self.image = _where_batch(better, candidate_image, self.image)
        for name, value in candidate_vars.items():
            previous = self.variables.get(name)
            if previous is None or previous.shape != value.shape:
                # a variable that appears in a later round (e.g. an intermediate layer) is new
                self.variables[name] = _where_batch(better, value, torch.zeros_like(value))
            else:
                self.variables[name] = _where_batch(better, value, previous)


def _where_batch(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.reshape(-1, *([1] * (a.dim() - 1))), a, b)
