"""What a component factory receives besides its params: shapes, device, random streams, registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from invprob.registry import Registry


@dataclass
class BuildContext:
    """Build-time facts shared by every component of a recipe.

    ``image_shape`` is ``(C, H, W)`` of the images being solved for (the generator's output
    when there is a generator, else the data's); ``base_dir`` is the recipe's folder, against
    which relative paths resolve; ``registry`` lets a component build others by name (a solver
    asking for a prior, a composed operator building its parts). Random choices made at build
    time (masks, sensing matrices) draw from ``rng("operator")``.
    """

    registry: Registry
    image_shape: tuple[int, int, int] | None = None
    device: str = "cpu"
    seed: int = 0
    base_dir: Path = field(default_factory=Path.cwd)
    extras: dict[str, Any] = field(default_factory=dict)

    def rng(self, name: str) -> torch.Generator:
        """A fresh CPU ``torch.Generator`` for the run's stream ``name`` (``"operator"``,
        ``"samples"``, ``"noise"``, ``"solver"``), seeded with ``stream_seed(seed, name)``.

        Draw with :func:`invprob.seeding.randn`/``rand`` and move the result, so that one seed
        gives the same numbers on every device.
        """
        from invprob.seeding import make_rng

        return make_rng(self.seed, name)

    def resolve(self, path: str | Path) -> Path:
        """``path`` resolved against the recipe's folder (absolute paths are kept)."""
        path = Path(path).expanduser()
        return path if path.is_absolute() else (self.base_dir / path).resolve()
