"""Building blocks for component parameter models.

Every component's params are a pydantic model deriving from :class:`Params` (``extra="forbid"``:
a misspelled key is an error, with a did-you-mean in the recipe report). Its docstring is the
component's one-line description in ``invprob plugins`` and the JSON Schema.

Use :data:`RecipePath` for file and folder parameters: a relative path is resolved against
the folder of the recipe that names it, not the working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo


class Params(BaseModel):
    """Base of every component's params model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def _resolve_against_recipe(path: Path, info: ValidationInfo) -> Path:
    path = path.expanduser()
    base_dir = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path


RecipePath = Annotated[Path, AfterValidator(_resolve_against_recipe)]
"""A path that resolves against the recipe's folder when relative."""


def _odd(value: int) -> int:
    if value % 2 == 0:
        raise ValueError(f"the window must be odd so that it centres on the pixel, got {value}")
    return value


OddWindow = Annotated[int, Field(ge=1), AfterValidator(_odd)]
"""The odd side of a square window centred on a pixel (e.g. the context loss's neighbourhood)."""
