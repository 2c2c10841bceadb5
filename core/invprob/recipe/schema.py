"""The recipe model: what a recipe may say, field by field (stage 1 of validation).

A recipe names every component as ``{type: <registered name>, params: {...}}``
(:class:`~invprob.params.ComponentSpec`); ``extra="forbid"`` everywhere, so a typo is an error.
Each component's own params are checked against its params model in stage 2
(:mod:`invprob.recipe.validation`), which keeps the validated params with the spec
(:attr:`~invprob.params.ComponentSpec.validated_params`): building and the resolved recipe use
them as they are.

**Solver defaults.** A solver may declare recipe-level defaults when it is registered
(``registry.add("yeh", ..., defaults={"losses": [...], "priors": [...]})``). A recipe that
omits ``losses:`` or ``priors:`` gets the solver's defaults (:func:`solver_default`; else
``losses: [mse]`` and ``priors: []``); a section that is written, even as ``[]``, is used
exactly as written. :attr:`Recipe.raw` keeps what the user wrote,
:attr:`Recipe.from_solver_defaults` names the sections that were filled in, and
:func:`dump_recipe` writes the resolved components.

**Metrics** are names of registered metric components; ``metrics:`` omitted (``None``) means
every installed metric whose params all have defaults
(:func:`invprob.recipe.checks.default_metric_names`).

Torch is not imported here: validating a recipe is instant.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from invprob.params import ComponentSpec, NestedKind, Params, RecipePath, nested_component_fields, resolve_against_recipe
from invprob.registry import Component, Registry

SEED_RANGE = (-(2**63), 2**64)
"""The seeds ``torch.manual_seed`` accepts: ``low <= seed < high``."""

SOLVER_DEFAULT_SECTIONS: tuple[str, ...] = ("losses", "priors")
FALLBACK_DEFAULTS: dict[str, list[dict[str, Any]]] = {"losses": [{"type": "mse"}], "priors": []}
"""What an omitted ``losses:``/``priors:`` means when the solver declares no default for it."""


class LossSpec(ComponentSpec):
    """A loss term with its weight in the measurement loss."""

    weight: float = 1.0


def _images_source(value: Any, info: ValidationInfo) -> Any:
    """``data.images``: a path (resolved against the recipe's folder), or from Python a tensor
    ``[B, C, H, W]`` in [0, 1], kept as it is (checked when it is read: :mod:`invprob.images`)."""
    if type(value).__module__.startswith("torch") and hasattr(value, "shape"):
        return value
    if isinstance(value, (str, os.PathLike)):
        return resolve_against_recipe(Path(value), info)
    raise ValueError(
        "give a path (an image, a folder, a glob, a .zip or an .npz) or, from Python, a tensor [B, C, H, W] in [0, 1]"
    )


def _describe_images_source(value: Any) -> str:
    if isinstance(value, Path):
        return str(value)
    return f"<a tensor {list(value.shape)} {str(value.dtype).removeprefix('torch.')} given from Python>"


ImagesSource = Annotated[
    Any,
    PlainValidator(_images_source),
    PlainSerializer(_describe_images_source),
    WithJsonSchema({"type": "string", "description": "an image, a folder, a glob, a .zip or an .npz"}),
]


FitPolicy = Literal["centre-crop", "pad", "resize", "refuse"]
"""What is done to an image whose size is not the generator's (see :mod:`invprob.images`)."""
DEFAULT_FIT: FitPolicy = "centre-crop"


class DataSpec(Params):
    """The data to solve for: exactly one of ``images``, ``samples`` or ``observation``.

    - ``images``: ground-truth images, observed through the operator: an image file, a
      folder of images, a glob pattern, or an ``.npz`` with an array ``npz_key`` of uint8
      images (``[N, H, W, C]``); from Python also a tensor ``[B, C, H, W]`` in [0, 1]. They
      are fitted to the generator's output size by ``fit``; without a generator each image
      keeps its own size.
    - ``fit``: what is done to an image of another size than the generator's:
      ``centre-crop`` (default: crop to the target's aspect ratio, then resize), ``pad``
      (pad with grey to its aspect ratio, then resize), ``resize`` (stretch) or ``refuse``
      (an error). One line on the terminal says what was done to which images.
    - ``samples``: that many draws from the generator, observed through the operator.
    - ``observation``: real measurements, used as they are, with no ground truth: an image
      file, folder or glob sized to the operator's *output* (a low-resolution photo, a damaged
      image whose mask comes with the operator), or ``.npy``/``.pt``/``.safetensors``
      measurement tensors. Metrics that need the truth are skipped.

    ``select`` is a Python slice over the sorted files (``"-64:"`` is the last 64).
    """

    images: ImagesSource | None = None
    samples: int | None = Field(default=None, gt=0)
    observation: RecipePath | None = None
    npz_key: str = "images"
    select: str | None = None
    batch_size: int = Field(default=8, gt=0)
    fit: FitPolicy = Field(
        default=DEFAULT_FIT,
        description="images of another size than the generator's: centre-crop (keep the aspect ratio, lose the "
        "borders), pad (keep everything, grey bars), resize (stretch) or refuse",
    )

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        given = [x for x in (self.images, self.samples, self.observation) if x is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'images' (ground-truth image files), 'samples' (draws from the "
                "generator) or 'observation' (measurements without ground truth)"
            )
        return self

    @field_validator("select")
    @classmethod
    def _slice_syntax(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()  # "" and "  " keep every file
        index = r"-?[0-9]{1,18}"
        if value and not re.fullmatch(rf"{index}|({index})?\s*:\s*({index})?", value):
            raise ValueError(
                "select must be one index or a Python slice start:stop of integers, such as '3', '0:64' "
                "or '-64:' (no step)"
            )
        return value



class OutputSpec(Params):
    """What a run writes besides metrics and images."""

    dir: RecipePath | None = None
    latents: bool = True
    gif: bool = False
    gif_every: int = Field(default=10, gt=0)


def _solver_defaults_are_optional(schema: dict[str, Any]) -> None:
    schema["required"] = [name for name in schema.get("required", []) if name not in SOLVER_DEFAULT_SECTIONS]


class Recipe(Params):
    """A complete experiment: model, forward model, priors, losses, solver, data, outputs.

    Build one with :func:`~invprob.recipe.loading.load_recipe` or
    :func:`~invprob.recipe.validation.validate_recipe`, which fill in the solver's
    defaults for omitted ``losses``/``priors`` before validating (the model itself requires
    them, so a recipe never silently falls back to a loss its solver does not expect).
    """

    model_config = ConfigDict(json_schema_extra=_solver_defaults_are_optional)

    version: Literal[1]
    name: str | None = None
    description: str | None = None
    requires: list[str] = Field(default_factory=list)
    seed: int = Field(default=0, description="an integer in [-2**63, 2**64): torch.manual_seed's range")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    generator: Annotated[ComponentSpec | None, NestedKind("generators")] = None
    operator: Annotated[ComponentSpec, NestedKind("operators")]
    priors: Annotated[
        list[ComponentSpec], NestedKind("priors"), Field(description="omitted: the solver's default priors, else none")
    ]
    losses: Annotated[
        list[LossSpec], NestedKind("losses"), Field(description="omitted: the solver's default losses, else [mse]")
    ]
    solver: Annotated[ComponentSpec, NestedKind("solvers")]
    data: DataSpec
    metrics: list[str] | None = Field(
        default=None, description="metric names; omitted: every installed metric whose params all have defaults"
    )
    outputs: OutputSpec = Field(default_factory=OutputSpec)

    @field_validator("seed", mode="before")
    @classmethod
    def _seed_is_not_a_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a seed is an integer, not true/false")
        return value

    @field_validator("seed")
    @classmethod
    def _seed_in_torch_range(cls, value: int) -> int:
        low, high = SEED_RANGE
        if not low <= value < high:
            raise ValueError("a seed must be in [-2**63, 2**64), the range torch.manual_seed accepts")
        return value

    _source: Path | None = PrivateAttr(default=None)
    _live: dict[tuple[str, str], Any] = PrivateAttr(default_factory=dict)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    _from_solver_defaults: tuple[str, ...] = PrivateAttr(default=())
    _overrides: tuple[str, ...] = PrivateAttr(default=())

    @property
    def source(self) -> Path | None:
        """The recipe file, when it was loaded from one."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """The folder relative paths resolve against (the recipe's folder)."""
        return self._base_dir

    @property
    def live_components(self) -> dict[tuple[str, str], Any]:
        """``{(kind, name): object}`` for the components given as Python objects
        (:mod:`invprob.user_modules`); the recipe names them ``python:<name>``."""
        return self._live

    def registry_with_live_components(self, registry: Registry) -> Registry:
        """``registry``, plus the components given as Python objects when there are any."""
        if not self._live:
            return registry
        from invprob.user_modules import with_live_components

        return with_live_components(registry, self._live)

    @property
    def raw(self) -> dict[str, Any]:
        """The recipe as written, after overrides, before any default is filled in."""
        return self._raw

    @property
    def from_solver_defaults(self) -> tuple[str, ...]:
        """The sections (``"losses"``, ``"priors"``) that the recipe omitted and the solver filled in."""
        return self._from_solver_defaults

    @property
    def overrides(self) -> tuple[str, ...]:
        """The overrides applied to the file or dict, in order (already part of :attr:`raw`)."""
        return self._overrides

    def set_origin(
        self,
        *,
        source: Path | None,
        base_dir: Path,
        raw: Mapping[str, Any],
        from_solver_defaults: Sequence[str] = (),
        overrides: Sequence[str] = (),
        live: Mapping[tuple[str, str], Any] | None = None,
    ) -> None:
        """Record where this recipe came from (:attr:`source`, :attr:`base_dir`, :attr:`raw`,
        :attr:`from_solver_defaults`, :attr:`overrides`, :attr:`live_components`).

        :func:`~invprob.recipe.validation.validate_recipe` calls it once, on the recipe it has
        just validated; ``raw`` is copied.
        """
        self._source = source
        self._base_dir = base_dir
        self._raw = copy.deepcopy(dict(raw))
        self._from_solver_defaults = tuple(from_solver_defaults)
        self._overrides = tuple(overrides)
        self._live = dict(live or {})


COMPONENT_SECTIONS: dict[str, str] = nested_component_fields(Recipe)
"""Recipe section -> component kind: ``{"generator": "generators", "operator": "operators", ...}``."""


def solver_default(
    data: Mapping[str, Any], section: str, registry: Registry
) -> tuple[list[dict[str, Any]], str | None]:
    """What an omitted ``section`` (``"losses"`` or ``"priors"``) of recipe ``data`` stands for.

    Returns the component specs and the name of the solver that declared them, or the
    fallback (``[mse]`` / ``[]``) and ``None`` when the solver declares no such default or is
    not a known solver (that is reported on its own).
    """
    solver = _solver_component(data, registry)
    if solver is not None and section in solver.defaults:
        return copy.deepcopy([dict(spec) for spec in solver.defaults[section]]), solver.name
    return copy.deepcopy(FALLBACK_DEFAULTS[section]), None


def _solver_component(data: Mapping[str, Any], registry: Registry) -> Component | None:
    solver = data.get("solver")
    name = solver.get("type") if isinstance(solver, Mapping) else None
    return registry.components["solvers"].get(name) if isinstance(name, str) else None



def dump_recipe(recipe: Recipe) -> str:
    """The resolved recipe as YAML: every default filled in, the solver's default components included."""
    data = recipe.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False)
