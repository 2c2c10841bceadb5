"""An inverse problem: what was observed, through which operator, and what defines a solution."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from invprob.generator import Generator
from invprob.loss import Loss
from invprob.operator import Operator
from invprob.prior import Constraint, Penalty, PenaltyContext, Prior, Reparameterisation


@dataclass
class WeightedLoss:
    weight: float
    loss: Loss


@dataclass
class InverseProblem:
    """Recover images ``x`` (``[B, C, H, W]`` in [-1, 1]) from ``observation = noise(A(x))``.

    ``losses`` define the measurement loss ``sum_i w_i * loss_i(A(x), y)``, by which solvers
    rank iterates; ``priors`` add penalties, constraints and reparameterisations.
    ``ground_truth`` is known only in experiments and must never be used by a solver.

    Batched restarts: an image batch of ``R * B`` elements, restart-major (element
    ``r * B + b`` is restart ``r`` of image ``b``), is compared with the observation repeated
    ``R`` times.
    """

    operator: Operator
    observation: torch.Tensor
    image_shape: tuple[int, int, int]
    generator: Generator | None = None
    losses: Sequence[WeightedLoss] = ()
    priors: Sequence[Prior] = ()
    ground_truth: torch.Tensor | None = field(default=None, repr=False)
    _repeated: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def batch_size(self) -> int:
        return self.observation.shape[0]

    @property
    def penalties(self) -> list[Penalty]:
        return [p for p in self.priors if isinstance(p, Penalty)]

    @property
    def constraints(self) -> list[Constraint]:
        return [p for p in self.priors if isinstance(p, Constraint)]

    @property
    def reparameterisations(self) -> list[Reparameterisation]:
        return [p for p in self.priors if isinstance(p, Reparameterisation)]

    def observation_for(self, batch: int) -> torch.Tensor:
        """The observation repeated to a batch of ``batch`` (a multiple of ``batch_size``)."""
        repeats, remainder = divmod(batch, self.batch_size)
        if remainder or repeats == 0:
            raise ValueError(f"a batch of {batch} is not a whole number of restarts of {self.batch_size} images")
        if repeats == 1:
            return self.observation
        source, repeated = self._repeated.get(repeats, (None, None))
        if source is not self.observation or repeated is None:
            # solvers call this every step: repeat once per observation, not once per step
            repeated = self.observation.repeat(repeats, *([1] * (self.observation.dim() - 1)))
            self._repeated[repeats] = (self.observation, repeated)
        return repeated

    def measurement_loss(self, image: torch.Tensor) -> torch.Tensor:
        """``sum_i w_i * loss_i(A(image), y)`` per batch element, shape ``[batch]``."""
        if not self.losses:
            raise ValueError("the inverse problem has no loss: add one under 'losses' in the recipe")
        predicted = self.operator.A(image)
        observed = self.observation_for(image.shape[0])
        terms = [
            _weighted(term.weight, term.loss(predicted, observed, self.operator, **_image_for(term.loss, image)))
            for term in self.losses
        ]
        return terms[0] if len(terms) == 1 else torch.stack(terms).sum(dim=0)

    def penalty(self, variables: Mapping[str, torch.Tensor], image: torch.Tensor) -> torch.Tensor:
        """Sum of every penalty prior per batch element (zeros when there is none)."""
        penalties = self.penalties
        if not penalties:
            return image.new_zeros(image.shape[0])
        context = PenaltyContext(variables=variables, image=image, generator=self.generator)
        terms = [prior(context) for prior in penalties]
        return terms[0] if len(terms) == 1 else torch.stack(terms).sum(dim=0)

    @torch.no_grad()
    def project_(self, variables: dict[str, torch.Tensor]) -> None:
        """Apply every constraint prior in place."""
        for constraint in self.constraints:
            constraint.project_(variables)


def _image_for(loss: object, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """``{"image": image}`` for a loss that declares ``uses_image`` (see :class:`invprob.loss.Loss`)."""
    return {"image": image} if getattr(loss, "uses_image", False) else {}


def _weighted(weight: float, value: torch.Tensor) -> torch.Tensor:
    return value if weight == 1 else weight * value
