"""What a run records about itself: the environment that produced it and the recipe as it ran.

``environment.json`` (:func:`environment`, :func:`finish_environment`): versions, machine,
seeds, weight files, command line, git commits, start and end times. ``recipe.resolved.yaml``
(:func:`resolved_recipe`): every component's params with their defaults, the validated params
models the recipe carries (:attr:`invprob.params.ComponentSpec.validated_params`) dumped as
they are. ``metrics.json``'s description of what ran (:func:`describe_run`).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from invprob.seeding import stream_seed

if TYPE_CHECKING:
    from invprob.app.components import Components
    from invprob.recipe import Recipe
    from invprob.registry import Registry
    from invprob.weights import WeightRecord


PACKAGES: tuple[str, ...] = (
    "numpy", "scipy", "scikit-image", "Pillow", "pydantic", "lpips", "matplotlib", "safetensors",
)  # fmt: skip
"""Distributions whose versions ``environment.json`` records (None when not installed)."""


def environment(
    components: Components,
    registry: Registry,
    weights: Sequence[WeightRecord],
    *,
    started: datetime.datetime | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """What produced a run, enough to rerun it and to explain a difference between two runs.

    Versions (Python, invprob, torch, :data:`PACKAGES`, every plugin distribution), the
    machine (platform, CPU model, core and thread counts, CUDA and cuDNN versions, the device
    used), the seeds of every random stream, the sha256 of every weight file loaded, the
    command line (``sys.argv``, so the CLI's overrides are in it), the overrides applied to
    the recipe (from Python too), the working directory, the git commit of the recipe's and of
    invprob's checkout (None outside one), and the start time; ``ended`` is None until
    :func:`finish_environment` fills it in. ``device`` is the device asked for by the caller
    (``--device``), None when the recipe's was used.
    """
    from invprob import __version__
    from invprob.app.components import STREAMS

    recipe = components.recipe
    used = components.context.device
    device_name = torch.cuda.get_device_name(0) if used.startswith("cuda") else _cpu_model() or "cpu"
    seed = recipe.seed
    started = started or now()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "invprob": __version__,
        "torch": torch.__version__,
        "packages": {name: _version(name) for name in PACKAGES},
        "distributions": {
            info.name: info.version for info in sorted(registry.distributions.values(), key=lambda d: d.name)
        },
        "plugin_failures": [f.summary() for f in registry.failures],
        "device": used,
        "device_requested": device or recipe.device,
        "device_name": device_name,
        "cpu": {
            "model": _cpu_model(),
            "logical_cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "seeds": {"recipe": seed, **{name: stream_seed(seed, name) for name in STREAMS}},
        "weights": [{"path": r.path, "sha256": r.sha256, "bytes": r.bytes} for r in weights],
        "command": list(sys.argv),
        "overrides": list(recipe.overrides),
        "recipe_file": str(recipe.source.resolve()) if recipe.source is not None else None,
        "working_directory": os.getcwd(),
        "git": {
            "recipe": git_commit(recipe.source.resolve().parent) if recipe.source is not None else None,
            "invprob": git_commit(Path(__file__).resolve().parent),
        },
        "started": started.isoformat(timespec="seconds"),
        "ended": None,
    }


def finish_environment(environment: dict[str, Any]) -> dict[str, Any]:
    """``environment`` with its end time (UTC, now)."""
    return {**environment, "ended": now().isoformat(timespec="seconds")}


def now() -> datetime.datetime:
    """The time now, in UTC (run records' start and end times)."""
    return datetime.datetime.now(datetime.timezone.utc)


def _version(distribution: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what :mod:`platform` knows)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")) and ":" in line:
                return line.split(":", 1)[1].strip() or None
    return platform.processor() or None


def git_commit(folder: Path) -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the git checkout that holds ``folder``, or None when there
    is none (or no git, or git refuses the folder): never raises, gives up after 5 s.

    ``dirty`` says whether tracked files differ from the commit (None when that is unknown).
    """

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=5, check=False,
                env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
            )
        except (OSError, subprocess.SubprocessError, ValueError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None or not commit.strip():
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip())}


def resolved_recipe(
    recipe: Recipe, registry: Registry, *, device: str | None = None, directory: Path | None = None
) -> str:
    """``recipe.resolved.yaml``: the recipe exactly as it ran, as YAML a run reproduces from.

    Every component (nested ones included, such as ``compose``'s operators) has its params
    validated by its own params model and dumped *with their defaults*, so that a later
    change of a default cannot change what the file means; paths are absolute; the solver's
    default losses and priors are written out; ``metrics`` lists the metrics by name;
    ``device`` is the one asked for (``--device`` wins over the recipe's). The description
    says which overrides made the run from the recipe file, and the file opens with the
    command that reruns it.
    """
    import yaml

    from invprob.params import ComponentSpec, nested_specs
    from invprob.recipe import default_metric_names

    data = recipe.model_dump(mode="json", by_alias=True)

    def resolve(spec: ComponentSpec, kind: str) -> dict[str, Any]:
        params = registry.spec_params(kind, spec, recipe.base_dir)
        dumped = params.model_dump(mode="json", by_alias=True)
        for location, nested_kind, nested in nested_specs(params):
            _put(dumped, location, resolve(nested, nested_kind))
        return {**spec.model_dump(mode="json", by_alias=True), "params": dumped}

    for location, kind, spec in nested_specs(recipe):
        _put(data, location, resolve(spec, kind))
    if data.get("metrics") is None:
        data["metrics"] = default_metric_names(registry)
    if device is not None:
        data["device"] = device
    data["description"] = run_description(recipe)
    where = f"{directory}/recipe.resolved.yaml" if directory is not None else "recipe.resolved.yaml"
    header = [
        "# The recipe of this run, every default written out. Rerun it with",
        f"#   invprob run {where}",
    ]
    if recipe.source is not None or recipe.overrides:
        made = f"# Made from {recipe.source.resolve()}" if recipe.source is not None else "# Made"
        header.append(made + (" with overrides:" if recipe.overrides else "."))
        header += [f"#   {override}" for override in recipe.overrides]
    return "\n".join(header) + "\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _put(data: dict[str, Any], location: tuple[Any, ...], value: Any) -> None:
    """``data[key] = value`` or ``data[key][index] = value`` for ``location`` ``(key,)`` or ``(key, index)``."""
    if len(location) == 1:
        data[location[0]] = value
    else:
        data[location[0]][location[1]] = value


def run_description(recipe: Recipe) -> str | None:
    """The recipe's description, followed by the overrides that changed it for this run
    (``"... [overrides: solver.params.steps=200]"``); None when there is neither."""
    given = [o for o in recipe.overrides if not o.lstrip("~").startswith("description")]
    if not given:
        return recipe.description
    note = f"[overrides: {' '.join(given)}]"
    return f"{recipe.description} {note}" if recipe.description else note


def describe_run(recipe: Recipe) -> dict[str, Any]:
    """What ran, for ``metrics.json``: the recipe (name, file, description, overrides), the
    solver, operator and generator types, and the seed."""
    return {
        "recipe": {
            "name": recipe.name,
            "file": str(recipe.source.resolve()) if recipe.source is not None else None,
            "description": run_description(recipe),
            "overrides": list(recipe.overrides),
        },
        "solver": recipe.solver.type,
        "operator": recipe.operator.type,
        "generator": recipe.generator.type if recipe.generator is not None else None,
        "seed": recipe.seed,
    }
