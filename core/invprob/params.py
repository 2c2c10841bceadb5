"""Building blocks for component parameter models.

Every component's params are a pydantic model deriving from :class:`Params` (``extra="forbid"``:
a misspelled key is an error, with a did-you-mean in the recipe report). Its docstring is the
component's one-line description in ``invprob plugins`` and the JSON Schema.

Use :data:`RecipePath` for file and folder parameters: a relative path is resolved against
the folder of the recipe that names it, not the working directory. Use :data:`ExistingFile` for a
file the component cannot be built without (weights): a missing one is a validation error.

A component that is configured with other components (``compose`` takes a list of operators)
declares the field as :class:`ComponentSpec` values marked with the kind they name::

    class ComposeParams(Params):
        operators: Annotated[list[ComponentSpec], NestedKind("operators"), Field(min_length=1)]

The marker goes on the field itself (a single spec, an optional one, or a list of them).
Recipe validation then checks the nested components like top-level ones, with their full
path (``operator.params.operators[1].params.sigma``) and a did-you-mean for unknown names;
the factory receives the specs and builds them with ``context``'s registry. The recipe's own
sections (``generator``, ``operator``, ``priors``, ``losses``, ``solver``) use the same marker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

FLOAT32_MAX = 3.4028234663852886e38
"""The largest finite float32, the dtype runs compute in: a larger number becomes ``inf``."""


class Params(BaseModel):
    """Base of every component's params model and of the recipe's own models: unknown keys are
    errors, and so are non-finite floats (``lr: .inf``, ``weight: .nan``; write ``null`` where
    a field means "no limit") and numbers beyond float32's range (``lr: 1e39``), which the run
    would turn into ``inf``.

    ``needs_generator`` (a class attribute, not a field) declares that the component works on
    a generator's latent (a latent solver, a prior on z): a recipe that uses it without a
    ``generator`` section is invalid before anything is built.

    ``provides_mask`` declares that an operator observes a subset of pixels (its
    ``observed_mask()`` is not ``None``); ``mask_from_first`` names a field of nested operators
    whose first one decides instead (``compose``: the mask is its first operator's).
    ``needs_mask`` declares that a solver, loss or prior only works with such an operator (Yeh's
    solver and context loss): a recipe whose operator provides none is invalid.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)
    """``defer_build``: a model's validator is built when it first validates, not when its
    class is defined, so that loading every plugin (``invprob plugins``) builds none."""

    @field_validator("*", mode="after")
    @classmethod
    def _fits_float32(cls, value: Any) -> Any:
        """Refuse a number that float32 cannot hold (``lr: 1e39`` would become ``inf`` in the
        run): in every field of every params model, and in its lists and tuples."""
        for number in _floats(value):
            if abs(number) > FLOAT32_MAX:
                raise ValueError(
                    f"{number:.6g} overflows float32, the dtype runs compute in (at most {FLOAT32_MAX:.6g} in "
                    "magnitude); give a smaller number"
                )
        return value

    needs_generator: ClassVar[bool] = False
    needs_mask: ClassVar[bool] = False
    provides_mask: ClassVar[bool] = False
    mask_from_first: ClassVar[str | None] = None

    def declared_image_shape(self) -> tuple[int, int, int] | None:
        """Generators: the ``(C, H, W)`` of the images made with these params, when the params
        alone tell it (a fixed architecture, a size field); ``None`` when only the built model
        knows (a checkpoint's size). ``invprob validate`` checks operator params against it."""
        return None

    def image_shape_problems(self, image_shape: tuple[int, int, int]) -> list[tuple[str, str]]:
        """Operators: ``(field, message)`` for every param that cannot fit images of ``image_shape``
        (a box outside the image, a factor that does not divide its sides), so that ``invprob
        validate`` reports them before anything is built. Empty when they all fit."""
        return []


def _floats(value: Any) -> list[float]:
    """The floats of a field's value: itself, or the items of a list or tuple (not of a dict:
    a component's raw params are checked by its own params model, with their own paths).
    Integer fields keep their own bounds (a seed's is torch's)."""
    if isinstance(value, (list, tuple)):
        return [number for item in value for number in _floats(item)]
    return [value] if isinstance(value, float) else []


class ComponentSpec(Params):
    """A component: a registered ``type`` name and its ``params``."""

    type: str
    params: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class NestedKind:
    """Marks a field of :class:`ComponentSpec` values as naming components of ``kind``.

    ``kind`` is a registry kind (``"operators"``, ``"priors"``, ...). See the module docstring.
    """

    kind: str


def nested_component_fields(model: type[BaseModel]) -> dict[str, str]:
    """``{key in the data: kind}`` for every field of ``model`` marked with :class:`NestedKind`."""
    fields = {}
    for name, info in model.model_fields.items():
        for marker in info.metadata:
            if isinstance(marker, NestedKind):
                fields[info.alias or name] = marker.kind
    return fields


NAME_MAX, PATH_MAX = 255, 4096
"""The longest file name and path, in bytes, that Linux, macOS and Windows file systems accept."""


def path_too_long(path: str | os.PathLike[str]) -> str | None:
    """Why the file system will refuse ``path`` (a name over :data:`NAME_MAX` bytes, a path over
    :data:`PATH_MAX`), in one line; None when its length is fine."""
    text = os.fsdecode(path)
    for name in Path(text).parts:
        size = len(os.fsencode(name))
        if size > NAME_MAX:
            return f"the name {name[:24] + '...' + name[-8:]!r} in the path is {size} bytes long; the file system allows {NAME_MAX}"
    size = len(os.fsencode(text))
    return f"the path is {size} bytes long; the file system allows {PATH_MAX}" if size >= PATH_MAX else None


def resolve_against_recipe(path: Path, info: ValidationInfo) -> Path:
    try:
        path = path.expanduser()
    except RuntimeError:  # ~nosuchuser/x.png: no home directory to expand
        raise ValueError(f"cannot expand {str(path).split('/', 1)[0]!r}: no such user's home directory") from None
    base_dir = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    too_long = path_too_long(path)
    if too_long:
        raise ValueError(too_long)
    return path


RecipePath = Annotated[Path, AfterValidator(resolve_against_recipe)]
"""A path that resolves against the recipe's folder when relative."""


def _existing_file(path: Path) -> Path:
    if not path.is_file():
        where = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise ValueError(
            f"file {path.name!r} not found: {os.path.abspath(path)} {where} (a relative path is read from the "
            "recipe's folder)"
        )
    return path


ExistingFile = Annotated[RecipePath, AfterValidator(_existing_file)]
"""A :data:`RecipePath` to a file that must exist when the recipe is validated (weights a
component cannot be built without): ``invprob validate`` names the file and where it looked."""


def _odd(value: int) -> int:
    if value % 2 == 0:
        raise ValueError(f"the window must be odd so that it centres on the pixel, got {value}")
    return value


OddWindow = Annotated[int, Field(ge=1), AfterValidator(_odd)]
"""The odd side of a square window centred on a pixel (e.g. the context loss's neighbourhood)."""


def needs_no_params(model: type[BaseModel]) -> bool:
    """Whether a params model validates with no params at all (every field has a default)."""
    return all(not field.is_required() for field in model.model_fields.values())
