"""What a component factory receives besides its params: shapes, device, random streams, registry, the generator."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from invprob.generator import Generator
    from invprob.registry import Registry


@dataclass
class BuildContext:
    """Build-time facts shared by every component of a recipe.

    ``image_shape`` is ``(C, H, W)`` of the images being solved for (the generator's output
    when there is a generator, else the data's); ``base_dir`` is the recipe's folder, against
    which relative paths resolve; ``registry`` lets a component build others by name (a solver
    asking for a prior, a composed operator building its parts); ``generator`` is the recipe's
    built generator (None without one), set before the operator, losses, priors and solver are
    built, so that they can check their params against it (a prior's variable against its
    latents, a solver's rounds against its stages) and use its optional capabilities
    (:mod:`invprob.generator`'s protocols, checked with ``isinstance``). Random choices made at
    build time (masks, sensing matrices) draw from ``rng("operator")``.
    """

    registry: Registry
    image_shape: tuple[int, int, int] | None = None
    device: str = "cpu"
    seed: int = 0
    base_dir: Path = field(default_factory=Path.cwd)
    generator: Generator | None = None

    def rng(self, name: str) -> torch.Generator:
        """A fresh CPU ``torch.Generator`` for the run's stream ``name`` (``"operator"``,
        ``"samples"``, ``"noise"``, ``"solver"``), seeded with ``stream_seed(seed, name)``.

        Draw with :func:`invprob.seeding.randn`/``rand`` and move the result, so that one seed
        gives the same numbers on every device.
        """
        from invprob.seeding import make_rng

        return make_rng(self.seed, name)
