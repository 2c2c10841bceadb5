"""Study files: a base recipe, overrides, the image set and the axes to vary, expanded into cells.

A study is a YAML file::

    name: yeh-table1
    recipe: ../../recipes/yeh-inpaint-dcgan32.yaml     # relative to this file
    overrides: {solver.params.steps: 300, outputs.gif: false}
    data: {images: ../../../shared/data/celeba64/celeba32.npz, select: "-64:"}
    axes:
      - mode: zip                                      # the i-th values go together
        vary:
          solver: [{type: csgm}, {type: yeh}]
          priors: [null, [{type: box}]]
        labels: {solver: [CSGM, Yeh]}
      - vary:                                          # mode: product (the default)
          operator.params.fraction: [0.3, 0.5]
      - variants:                                      # named variants: each sets what it needs
          - {label: denoising 25, set: {operator: {type: denoise}, operator.params.sigma: 25}}
          - {label: x4, set: {operator: {type: downsample}, operator.params.factor: 4}}
    cases:                                             # settings of some combinations only
      - when: {solver: Yeh, operator.params.fraction: "0.3"}
        set: {solver.params.steps: 500}

Each group of ``axes`` is expanded on its own (``product``: every combination of its axes;
``zip``: the i-th value of every axis together, all lists of one length; ``variants``: one
point per variant, which sets the fields it names and leaves the others alone -- a field
another variant sets is absent from its cell, never ``null``), and the groups are combined
by product. A group given as a bare list is a list of variants. A variant's ``label`` is the
label of every field it sets, and labels are unique within their group. An axis is any recipe field by its dotted path, as in a command-line
override (``solver`` as a whole component, ``operator.params.sigma``, ``losses[0].weight``,
``seed``). A value ``null`` removes the field, so that its default applies (``priors``/
``losses``: the solver's defaults). ``overrides`` are applied first, then the axes.
The axis ``recipe`` takes recipe files (relative to the study file, like ``recipe:``): each is
its cells' base recipe, labelled by its stem, so one study runs several recipes as they are.
``data`` replaces the named fields of the recipe's ``data`` (giving ``images``, ``samples`` or
``observation`` replaces the recipe's image source); its paths are relative to the study file.
Paths inside ``overrides`` and axis values resolve against the recipe's folder, as on the
command line.

``cases`` set fields in the cells of some combinations of axis values only: a case applies to
a cell whose label on every axis its ``when`` names is the one given (or one of a list), and
its ``set`` is applied after the axes. A setting that only some methods have on some tasks
(ILO's noise addition on the denoising task, a loss that needs an inpainting mask) is a case;
its fields are not axes, so tables and plots are laid out as without it.

Every cell is a full recipe validated at plan time: every problem of every cell is reported
at once, each with its cell and its path (:class:`StudyError`). A cell's id
``<index>-<hash>`` hashes everything that decides its result (the base recipe as written,
the overrides, the data and its axis values), so an edited study never takes an earlier
result for a new cell. Torch is not imported here.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from invprob.hints import suggest
from invprob.params import Params
from invprob.recipe import (
    OverrideError,
    Recipe,
    RecipeError,
    RecipeProblem,
    apply_overrides,
    load_recipe,
    problems_from_validation_error,
    read_recipe_file,
    short_repr,
    solver_default,
)
from invprob.registry import Registry, default_registry

DATA_SOURCES = ("images", "samples", "observation")
"""The fields of ``data`` that name the image source; giving one replaces the recipe's."""
PATH_FIELDS = ("images", "observation")
"""Fields of a study's ``data`` that are paths, resolved against the study file's folder."""
MAX_CELLS = 10_000
"""The most cells a study may expand to: beyond that, an axis list is almost surely a mistake."""
RECIPE_AXIS = "recipe"
"""The axis whose values are recipe files (relative to the study file): each is its cells' base
recipe, so one study compares shipped recipes as they are. Its default labels are the files' stems."""


class Variant(Params):
    """One named point of a ``variants`` group: its label and the recipe fields it sets."""

    label: str = Field(min_length=1, max_length=100, description="the short name of the variant in tables and plots")
    set: dict[str, Any] = Field(min_length=1, description="dotted recipe path -> its value (null removes the field)")


class Case(Params):
    """Fields set in the cells of some combinations of axis values only (module docstring)."""

    when: dict[str, str | list[str]] = Field(
        min_length=1, description="axis path -> the label (or labels) of the cells this case applies to"
    )
    set: dict[str, Any] = Field(min_length=1, description="dotted recipe path -> its value (null removes the field)")

    def applies(self, labels: Mapping[str, str]) -> bool:
        """Whether a cell with these axis labels is one of this case's."""
        return all(
            labels.get(path) in ([wanted] if isinstance(wanted, str) else wanted) for path, wanted in self.when.items()
        )


class AxisGroup(Params):
    """Axes varied together: every combination (``product``), value by value (``zip``), or
    one named variant after another (``variants``; a bare list is that too)."""

    mode: Literal["product", "zip"] | None = Field(None, description="product (the default) or zip; not with variants")
    vary: dict[str, list[Any]] | None = Field(None, min_length=1, description="dotted recipe path -> its values")
    labels: dict[str, list[str]] = Field(default_factory=dict, description="dotted path -> a short label per value")
    variants: list[Variant] | None = Field(None, min_length=1, description="named variants: {label, set: {path: value}}")

    @model_validator(mode="before")
    @classmethod
    def _bare_list_is_variants(cls, data: Any) -> Any:
        data = {"variants": data} if isinstance(data, list) else data
        variants = data.get("variants") if isinstance(data, Mapping) else None
        for number, variant in enumerate(variants if isinstance(variants, list) else []):
            if not isinstance(variant, Mapping):
                raise ValueError(
                    f"variant {number} is {short_repr(variant, 40)}; a variant is {{label: <name>, set: {{<path>: <value>}}}}"
                )
        return data

    @field_validator("vary")
    @classmethod
    def _values_given(cls, value: dict[str, list[Any]] | None) -> dict[str, list[Any]] | None:
        empty = [path for path, values in (value or {}).items() if not values]
        if empty:
            raise ValueError(f"axis {empty[0]!r} has no values; give at least one")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> AxisGroup:
        if self.variants is not None:
            if self.vary is not None or self.mode is not None or self.labels:
                given = ", ".join(k for k, v in (("vary", self.vary), ("mode", self.mode), ("labels", self.labels)) if v)
                raise ValueError(
                    f"a group has either variants or vary, not both: drop {given}, or move them to another group "
                    "(each variant has its own label)"
                )
        elif self.vary is None:
            raise ValueError("a group needs 'vary: {path: [values]}' or 'variants: [{label, set: {path: value}}]'")
        return self

    @property
    def paths(self) -> list[str]:
        """Every recipe path this group sets, in order of first appearance."""
        if self.variants is None:
            return list(self.vary or {})
        return list(dict.fromkeys(path for variant in self.variants for path in variant.set))


class StudySpec(Params):
    """A study file (module docstring)."""

    version: Literal[1] = 1
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", description="the study folder's name")
    description: str | None = None
    recipe: str | None = Field(None, description="the base recipe, relative to the study file (optional where an axis varies 'recipe')")
    overrides: dict[str, Any] = Field(default_factory=dict, description="dotted path -> value, applied to every cell")
    data: dict[str, Any] = Field(default_factory=dict, description="fields of the recipe's data section")
    axes: list[AxisGroup] = Field(default_factory=list)
    cases: list[Case] = Field(default_factory=list, description="fields set in some combinations of axis values only")


class StudyError(RecipeError):
    """A study is invalid; ``problems`` lists every reason, each with its path (and cell)."""

    def report(self) -> str:
        where = f"{self.source}: " if self.source else ""
        count = len(self.problems)
        header = f"{where}invalid study, {count} error{'s' if count != 1 else ''}:"
        return "\n".join([header, *(f"  {p}" for p in self.problems)])


@dataclass
class Cell:
    """One point of the study: its id, axis values and labels, and its validated recipe.

    ``recipe`` is the cell's recipe as written (a dict, with the base recipe's relative paths
    resolving against ``base_dir``): what a worker on another machine needs to run it.
    """

    id: str
    index: int
    axes: dict[str, Any]
    labels: dict[str, str]
    recipe: dict[str, Any]
    base_dir: Path
    validated: Recipe | None = field(default=None, repr=False)

    def plan_entry(self) -> dict[str, Any]:
        """The cell as ``cells.json`` lists it."""
        return {"cell": self.id, "axes": self.axes, "labels": self.labels}

    def describe(self) -> str:
        """``solver=CSGM operator=center``: the labels, for progress lines and errors; fields
        that one variant sets together share it (``solver,priors=Yeh``)."""
        runs: list[tuple[list[str], str]] = []
        for path, label in self.labels.items():
            if runs and runs[-1][1] == label:
                runs[-1][0].append(path)
            else:
                runs.append(([path], label))
        return " ".join(f"{','.join(paths)}={label}" for paths, label in runs) or "(the base recipe)"


@dataclass
class Study:
    """A loaded, validated study: its spec, where it came from, the text as given, its cells,
    and the warnings about them (:func:`carried_section_warnings`), which ``plan`` and ``run``
    print."""

    spec: StudySpec
    source: Path
    text: str
    cells: list[Cell]
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name


def load_study(path: str | Path, *, registry: Registry | None = None) -> Study:
    """Read, validate and expand a study file; every cell's recipe is validated.

    Raises :class:`StudyError` listing every problem: of the study file itself (with its path,
    ``axes[1].vary``, and a did-you-mean for unknown keys and recipe fields), else of every
    cell's recipe (``cell 0003-1a2b3c4d (solver=csgm operator=center): solver.params.steps``).
    """
    registry = registry if registry is not None else default_registry()
    path = Path(path)
    try:
        data = read_recipe_file(path)
    except RecipeError as exc:
        raise StudyError([_as_study_problem(p) for p in exc.problems], source=path) from None
    text = path.read_text(encoding="utf-8-sig")
    try:
        spec = StudySpec.model_validate(data)
    except ValidationError as exc:
        raise StudyError(problems_from_validation_error(exc, StudySpec), source=path) from None
    problems = _axis_problems(spec)
    study_dir = path.resolve().parent
    bases: dict[str | None, tuple[dict[str, Any], Path]] = {}
    for where, name in _recipe_names(spec):
        if not isinstance(name, str):
            problems.append(RecipeProblem(where, f"{short_repr(name, 40)} is no recipe file; give its path"))
            continue
        recipe_path = (study_dir / name).resolve()
        try:
            bases[name] = (read_recipe_file(recipe_path), recipe_path.parent)
        except RecipeError as exc:
            problems += [RecipeProblem(where, f"{recipe_path}: {p.message}") for p in exc.problems]
    if not bases and not problems:
        problems.append(RecipeProblem("recipe", f"required field is missing (or an axis '{RECIPE_AXIS}' with recipe files)"))
    if problems:
        raise StudyError(problems, source=path)
    try:
        cells = expand(spec, bases, study_dir=study_dir, registry=registry)
    except StudyError as exc:
        raise StudyError(exc.problems, source=path) from None
    before_axes = _with_data(bases[spec.recipe][0] if spec.recipe else {}, spec.data, study_dir)
    with contextlib.suppress(OverrideError):  # a bad override is reported by expand
        before_axes = apply_overrides(before_axes, _overrides_for(before_axes, list(spec.overrides.items())))
    return Study(spec, path, text, cells, carried_section_warnings(before_axes, cells, registry))


def _recipe_names(spec: StudySpec) -> list[tuple[str, Any]]:
    """``(where, file)`` for the base recipe and each value of a ``recipe`` axis, as written."""
    names = [("recipe", spec.recipe)] if spec.recipe else []
    for index, group in enumerate(spec.axes):
        for number, point in enumerate(_group_points(group)):
            names += [(f"axes[{index}].{RECIPE_AXIS}[{number}]", v) for p, v, _ in point if p == RECIPE_AXIS]
    return names


CARRIED_SECTIONS = ("losses", "priors")
"""Recipe sections that a solver fills with its own defaults when a recipe omits them."""


def carried_section_warnings(before_axes: Mapping[str, Any], cells: Sequence[Cell], registry: Registry) -> list[str]:
    """Where an axis changes the solver, the recipe's explicit ``losses:``/``priors:`` (written
    for the base recipe's solver) carry into the cell unchanged, while the cell's solver would
    have used other defaults: one warning per section, solver and value, naming the cells.

    ``before_axes`` is the base recipe with the study's data and overrides. A cell whose axes
    set the section themselves (``losses: null`` restores the new solver's defaults) is fine.
    """
    base_solver = _solver_type(before_axes)
    found: dict[tuple[str, str, str], list[Cell]] = {}
    for cell in cells:
        solver = _solver_type(cell.recipe)
        if solver is None or solver == base_solver or not any(_head(p) == "solver" for p in cell.axes):
            continue
        for section in CARRIED_SECTIONS:
            if section not in cell.recipe or any(_head(p) == section for p in cell.axes):
                continue
            default, _ = solver_default(cell.recipe, section, registry)
            if cell.recipe[section] != default:
                key = (section, solver, json.dumps(cell.recipe[section], sort_keys=True, default=str))
                found.setdefault(key, []).append(cell)
    warnings = []
    for (section, solver, _), carried in found.items():
        value, default = carried[0].recipe[section], solver_default(carried[0].recipe, section, registry)[0]
        ids = ", ".join(c.id for c in carried[:4]) + (", ..." if len(carried) > 4 else "")
        warnings.append(
            f"{section} {_compact(value, 120)} of the base recipe (written for solver {base_solver!r}) carry into "
            f"{len(carried)} cell{'s' if len(carried) != 1 else ''} with solver {solver!r} ({ids}), whose own "
            f"default is {_compact(default, 120)}; set '{section}: null' beside that solver in its axis to use its "
            f"default, or set {section} there to keep these"
        )
    return warnings


def _solver_type(recipe: Mapping[str, Any]) -> str | None:
    solver = recipe.get("solver")
    return solver.get("type") if isinstance(solver, Mapping) and isinstance(solver.get("type"), str) else None


def _head(path: str) -> str:
    """The recipe section a dotted path starts in: ``losses[0].weight`` -> ``losses``."""
    return path.lstrip("~").split(".", 1)[0].split("[", 1)[0]


def _as_study_problem(problem: RecipeProblem) -> RecipeProblem:
    message = problem.message.replace("a recipe must be", "a study must be").replace("a recipe is", "a study is")
    return RecipeProblem(problem.path, message, problem.value, problem.has_value)


def _axis_problems(spec: StudySpec) -> list[RecipeProblem]:
    """Axis paths that name no recipe field, zip groups of unequal lengths, labels that do not fit."""
    problems: list[RecipeProblem] = []
    seen: dict[str, int] = {}
    for path in spec.overrides:
        problems += _path_problems(path, f"overrides.{path}", axis=False)
    for index, group in enumerate(spec.axes):
        where = f"axes[{index}]"
        if group.variants is not None:
            problems += _variant_problems(group.variants, where, index, seen)
            continue
        assert group.vary is not None  # checked by the model
        for path, values in group.vary.items():
            problems += _path_problems(path, f"{where}.vary.{path}")
            if path in seen:
                problems.append(RecipeProblem(f"{where}.vary.{path}", f"axis {path!r} is already varied in axes[{seen[path]}]"))
            seen[path] = index
        lengths = {path: len(values) for path, values in group.vary.items()}
        if group.mode == "zip" and len(set(lengths.values())) > 1:
            shown = ", ".join(f"{p}: {n}" for p, n in lengths.items())
            problems.append(
                RecipeProblem(f"{where}.vary", f"a zip group's axes need one number of values each (got {shown}); "
                              "use mode: product for every combination")  # fmt: skip
            )
        for path, labels in group.labels.items():
            if path not in group.vary:
                hint = suggest(path, list(group.vary))
                extra = f"; did you mean {hint[0]!r}?" if hint else f"; the axes of this group: {', '.join(group.vary)}"
                problems.append(RecipeProblem(f"{where}.labels.{path}", f"labels for {path!r}, which this group does not vary{extra}"))
            elif len(labels) != len(group.vary[path]):
                problems.append(
                    RecipeProblem(f"{where}.labels.{path}",
                                  f"{len(labels)} labels for {len(group.vary[path])} values; give one label per value")  # fmt: skip
                )
    problems += _case_problems(spec, seen)
    count = 1
    for group in spec.axes:
        count *= _group_size(group)
    if count > MAX_CELLS:
        problems.append(RecipeProblem("axes", f"expands to {count} cells, more than {MAX_CELLS}; split the study"))
    return problems


def _case_problems(spec: StudySpec, varied: Mapping[str, int]) -> list[RecipeProblem]:
    """Cases that name an axis the study does not vary, or a label none of its values has
    (such a case would never apply), or a field that is no recipe field."""
    problems: list[RecipeProblem] = []
    labels: dict[str, set[str]] = {}
    for group in spec.axes:
        for point in _group_points(group):
            for path, _, label in point:
                labels.setdefault(path, set()).add(str(label))
    for number, case in enumerate(spec.cases):
        at = f"cases[{number}]"
        for path, wanted in case.when.items():
            if path not in varied:
                hint = suggest(path, list(varied))
                extra = f"; did you mean {hint[0]!r}?" if hint else f"; the study's axes: {', '.join(varied) or '(none)'}"
                problems.append(RecipeProblem(f"{at}.when.{path}", f"{path!r} is not an axis of this study{extra}"))
                continue
            for label in [wanted] if isinstance(wanted, str) else wanted:
                if label not in labels[path]:
                    known = ", ".join(sorted(labels[path]))
                    problems.append(RecipeProblem(f"{at}.when.{path}", f"no value of axis {path!r} has the label "
                                                  f"{label!r}, so this case never applies; its labels: {known}"))  # fmt: skip
        for path in case.set:
            problems += _path_problems(path, f"{at}.set.{path}", axis=False)
    return problems


def _variant_problems(variants: Sequence[Variant], where: str, index: int, seen: dict[str, int]) -> list[RecipeProblem]:
    """Paths that name no recipe field or that another group varies, a label or a set of
    values that two variants share (their cells could not be told apart)."""
    problems: list[RecipeProblem] = []
    labels: dict[str, int] = {}
    values: dict[str, int] = {}
    for number, variant in enumerate(variants):
        at = f"{where}.variants[{number}]"
        for path in variant.set:
            problems += _path_problems(path, f"{at}.set.{path}")
            if seen.get(path, index) != index:
                problems.append(RecipeProblem(f"{at}.set.{path}", f"axis {path!r} is already varied in axes[{seen[path]}]"))
        if variant.label in labels:
            problems.append(RecipeProblem(f"{at}.label", f"label {variant.label!r} is also variant {labels[variant.label]}'s; "
                                          "give each variant of a group its own label"))  # fmt: skip
        labels.setdefault(variant.label, number)
        key = json.dumps(variant.set, sort_keys=True, default=str)
        if key in values:
            problems.append(RecipeProblem(f"{at}.set", f"sets the same values as variant {values[key]}; "
                                          "remove one, or make them differ"))  # fmt: skip
        values.setdefault(key, number)
    for variant in variants:
        for path in variant.set:
            seen.setdefault(path, index)
    return problems


def _path_problems(path: str, where: str, *, axis: bool = True) -> list[RecipeProblem]:
    head = _head(path)
    if path == RECIPE_AXIS:
        return [] if axis else [RecipeProblem(where, f"'{RECIPE_AXIS}' (the base recipe file) is an axis or the study's own field")]
    if head in Recipe.model_fields:
        return []
    hint = suggest(head, list(Recipe.model_fields))
    extra = f"; did you mean {hint[0]!r}?" if hint else f"; recipe fields: {', '.join(Recipe.model_fields)}"
    return [RecipeProblem(where, f"{head!r} is not a recipe field{extra}")]


def _group_size(group: AxisGroup) -> int:
    if group.variants is not None:
        return len(group.variants)
    lengths = [len(values) for values in (group.vary or {}).values()]
    if group.mode == "zip":
        return min(lengths)
    size = 1
    for length in lengths:
        size *= length
    return size


def _group_points(group: AxisGroup) -> list[list[tuple[str, Any, str]]]:
    """The points of one group: lists of ``(path, value, label)``."""
    if group.variants is not None:
        return [[(path, value, variant.label) for path, value in variant.set.items()] for variant in group.variants]
    columns = []
    for path, values in (group.vary or {}).items():
        labels = group.labels.get(path) or default_labels(values, files=path == RECIPE_AXIS)
        columns.append([(path, value, label) for value, label in zip(values, labels)])
    if group.mode == "zip":
        return [list(point) for point in zip(*columns)]
    return [list(point) for point in itertools.product(*columns)]


def default_labels(values: Sequence[Any], *, files: bool = False) -> list[str]:
    """Short labels for axis values: a component's ``type`` (or with ``files``, a file's stem)
    where that tells them apart, else the value in compact YAML (at most 40 characters)."""
    types = [value.get("type") if isinstance(value, Mapping) else None for value in values]
    if files and all(isinstance(v, str) for v in values):
        types = [Path(v).stem for v in values]
    if all(isinstance(t, str) for t in types) and len(set(types)) == len(types):
        return [str(t) for t in types]
    return [_compact(v) if isinstance(v, (dict, list)) else v[:40] if isinstance(v, str) else short_repr(v, 40) for v in values]


def _compact(value: Any, limit: int = 40) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def override_text(path: str, value: Any) -> str:
    """``path=value`` with the value in YAML flow style, as a command-line override reads it."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False)
    return f"{path}={text.removesuffix('...' + chr(10)).strip()}"


def _overrides_for(data: Mapping[str, Any], values: Sequence[tuple[str, Any]]) -> list[str]:
    """Override strings for ``(path, value)`` pairs; ``None`` deletes a field that is there."""
    current = dict(data)
    overrides = []
    for path, value in values:
        text = f"~{path}" if value is None else override_text(path, value)
        try:
            current = apply_overrides(current, [text])
        except OverrideError:
            if value is None:
                continue  # not there: its default applies anyway
        overrides.append(text)
    return overrides


def _with_data(base: Mapping[str, Any], data: Mapping[str, Any], study_dir: Path) -> dict[str, Any]:
    """The base recipe with the study's ``data`` fields (paths resolved against the study's folder)."""
    result = copy.deepcopy(dict(base))
    if not data:
        return result
    section = dict(result.get("data") or {})
    if any(key in data for key in DATA_SOURCES):
        for key in DATA_SOURCES:
            section.pop(key, None)
    for key, value in data.items():
        if key in PATH_FIELDS and isinstance(value, str):
            value = str((study_dir / value).resolve()) if not Path(value).is_absolute() else value
        section[key] = value
    result["data"] = section
    return result


def _depth(path: str) -> int:
    """How deep a dotted path reaches: a whole component is set before its params."""
    return path.count(".") + path.count("[")


def cell_id(index: int, fingerprint: Mapping[str, Any]) -> str:
    """``0003-1a2b3c4d``: the cell's index and a hash of everything that decides its result."""
    digest = hashlib.sha256(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()
    return f"{index:04d}-{digest[:8]}"


def expand(
    spec: StudySpec, bases: Mapping[str | None, tuple[Mapping[str, Any], Path]], *, study_dir: Path, registry: Registry
) -> list[Cell]:
    """Every cell of the study, each with its validated recipe; a :class:`StudyError` with every
    problem of every cell otherwise. ``bases`` maps each recipe file as the study names it (the
    base recipe, the values of a ``recipe`` axis) to its contents and folder."""
    groups = [_group_points(group) for group in spec.axes]
    cells: list[Cell] = []
    problems: list[tuple[Cell, RecipeProblem]] = []
    for index, combination in enumerate(itertools.product(*groups)):
        point = [item for group_point in combination for item in group_point]
        axes = {path: value for path, value, _ in point}
        labels = {path: label for path, _, label in point}
        cases = [item for case in spec.cases if case.applies(labels) for item in case.set.items()]
        if axes.get(RECIPE_AXIS, spec.recipe) not in bases:  # a variant without 'recipe', and no 'recipe:'
            problem = RecipeProblem(RECIPE_AXIS, "no base recipe: give the study a 'recipe:' or set 'recipe' in every variant")
            problems.append((Cell(f"{index:04d}", index, axes, labels, {}, study_dir), problem))
            continue
        base, base_dir = bases[axes.get(RECIPE_AXIS, spec.recipe)]
        with_data = _with_data(base, spec.data, study_dir)
        fingerprint = {"recipe": dict(base), "overrides": spec.overrides, "data": spec.data, "axes": axes}
        if cases:  # the ids of cells no case applies to stay those of a study without cases
            fingerprint["cases"] = cases
        cell = Cell(cell_id(index, fingerprint), index, axes, labels, {}, base_dir)
        varied = sorted(((p, v) for p, v in axes.items() if p != RECIPE_AXIS), key=lambda item: _depth(item[0]))
        pairs = [*spec.overrides.items(), *varied, *cases]
        try:
            recipe = load_recipe(with_data, _overrides_for(with_data, pairs), registry=registry, base_dir=base_dir)
        except RecipeError as exc:
            problems += [(cell, problem) for problem in exc.problems]
            continue
        cell.recipe, cell.validated = copy.deepcopy(recipe.raw), recipe
        cells.append(cell)
    if problems:
        raise StudyError(_per_cell(problems, index + 1))
    return cells


def _per_cell(problems: list[tuple[Cell, RecipeProblem]], count: int) -> list[RecipeProblem]:
    """Each problem with its cell and path; one that every cell has (a typo in ``overrides``
    or ``data``) once, for all cells."""
    cells_with: dict[str, set[str]] = {}
    for cell, problem in problems:
        cells_with.setdefault(str(problem), set()).add(cell.id)
    out, said = [], set()
    for cell, problem in problems:
        every = count > 1 and len(cells_with[str(problem)]) == count
        if every and str(problem) in said:
            continue
        said.add(str(problem))
        where = f"every cell ({count})" if every else f"cell {cell.id} ({cell.describe()})"
        path = f"{where}: {problem.path}" if problem.path else where
        out.append(RecipeProblem(path, problem.message, problem.value, problem.has_value))
    return out
