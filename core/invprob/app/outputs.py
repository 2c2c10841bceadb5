"""Run directories and what goes in them.

Every run writes a new directory under the output root, ``<YYYYmmdd-HHMMSS>-<6 hex>`` or the
name the caller gives, and never touches an existing one. Inside:

- ``recipe.resolved.yaml``: the recipe as it ran, every component's params with their
  defaults, the solver's default losses and priors, the metrics by name
  (:func:`resolved_recipe`): ``invprob run <dir>/recipe.resolved.yaml`` reruns it;
- ``environment.json``: versions (invprob, torch, numpy, scipy, scikit-image, Pillow,
  pydantic, lpips, every plugin distribution), CPU, threads, CUDA and cuDNN, device, seeds,
  the sha256 of every weight file loaded, the command line and its overrides, the git commit
  of the recipe's and of invprob's checkout, and start and end times (:func:`environment`);
  written when every component is built, and again with the end time;
- ``metrics.json``: what ran (recipe, solver, operator, seed), per-image values and means,
  the same values as flat ``records`` that pandas reads in one call, which way each is better
  and which the solver made trivial (:func:`write_outputs`);
- ``images/`` (observed, reconstruction and, when known, ground truth per image; 16-bit PNGs
  for a 16-bit input), ``grid.png`` (labelled columns, each row with the image's name and
  PSNR), ``latents.safetensors``, ``history.json``, ``loss.png``, optionally
  ``optimisation.gif`` (laid out like the grid, each frame labelled with its step: the
  reported iterate as it improves, ending on the result), and ``status.json``: how the run ended (``complete``,
  ``interrupted``, ``diverged``, ``failed`` or ``aborted``), the error and the time, so that
  a partial directory is never mistaken for a result.

Every file is written under a temporary name and renamed into place, so that a file present
is a whole file. JSON is strict: NaN and infinities are written as ``null``.

``status.json`` says ``running`` from the moment the directory exists, with the process that
runs it (pid, host, boot id, start time), so that a killed run is told from a live one. The
numbers are written before the pictures: an output that a full disk refuses is said on the
terminal and listed under ``failed_outputs``, and the run keeps its results
(:func:`write_outputs`); an error that names a run directory says what it keeps (:func:`kept`).

A run given its observation (``data.observation``) has no ground truth: the metrics that
compare with it are listed under ``unavailable`` in ``metrics.json`` with the reason, and the
grid shows observation and reconstruction.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import platform
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from invprob.images import atomic_path, png16, tile, to_uint16
from invprob.metrics import evaluate, mse_in_region, psnr, psnr_in_region
from invprob.seeding import stream_seed
from invprob.solver import SolverResult

if TYPE_CHECKING:
    from invprob.app.components import Components
    from invprob.recipe import Recipe
    from invprob.registry import Registry
    from invprob.weights import WeightRecord

NO_GROUND_TRUTH = "no ground truth: data.observation was given"


@dataclass(frozen=True)
class RunSummary:
    """What a caller running many recipes keeps of a run: small, picklable, no tensors.

    ``metrics`` and ``environment`` are the contents of ``metrics.json`` and
    ``environment.json``.
    """

    directory: Path
    names: list[str]
    metrics: dict[str, Any]
    environment: dict[str, Any]
    interrupted: bool


@dataclass
class RunResult:
    """What a run produced: its directory, metrics, environment and the solver results.

    Its images -- :attr:`reconstructions`, :attr:`ground_truth`, :attr:`observations` -- are in
    [0, 1], invprob's public range (:mod:`invprob.unit_range`)."""

    directory: Path
    metrics: dict[str, Any]
    results: list[SolverResult] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    interrupted: bool = False
    environment: dict[str, Any] = field(default_factory=dict)
    signal: int | None = None
    """The signal that interrupted the run (None when none did)."""
    ground_truth: torch.Tensor | list[torch.Tensor] | None = None
    """The images solved for, in [0, 1] as fitted to the generator (None when
    ``data.observation`` was given), in the order of :attr:`names`."""
    observations: torch.Tensor | list[torch.Tensor] | None = None
    """The measurements solved from, in the units of the operator on [0, 1] images
    (:mod:`invprob.unit_range`), in the order of :attr:`names`."""

    @property
    def reconstructions(self) -> torch.Tensor | list[torch.Tensor]:
        """All best reconstructions ``[N, C, H, W]`` in [0, 1], in the order of :attr:`names`
        (clamped, as the metrics and the saved images are); a list of ``[C, H, W]`` when a run
        without a generator kept images of several sizes. :attr:`results` are the solvers' own
        records, on [-1, 1]."""
        from invprob.unit_range import to_unit

        return to_unit(join_batches([r.best_image for r in self.results]))

    def summary(self) -> RunSummary:
        """The run without its tensors, to send across processes or keep for many runs."""
        return RunSummary(
            self.directory, list(self.names), json.loads(_dumps(self.metrics)),
            json.loads(_dumps(self.environment)), self.interrupted,
        )


# -- the directory ----------------------------------------------------------------------


def check_root(root: str | Path, name: str | None = None) -> Path:
    """Create the output root if needed and check that a run directory can go there, before
    anything is built; raises :class:`OutputError` saying why not."""
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot use {root} for run directories: {exc.strerror or exc}") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise OutputError(f"cannot use {root} for run directories: it is not writable")
    if name is not None:
        _check_name(name)
        if (root / name).exists():
            raise FileExistsError(_exists_message(root / name))
    return root


def new_run_directory(root: str | Path, name: str | None = None) -> Path:
    """Create and return a fresh directory under ``root``: ``name``, or ``<timestamp>-<id>``.

    A given ``name`` must be a plain folder name that does not exist yet: nothing is ever
    overwritten.
    """
    root = check_root(root, name)
    try:
        if name is not None:
            (root / name).mkdir()
            return root / name
        for _ in range(100):
            name = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
            with contextlib.suppress(FileExistsError):
                (root / name).mkdir()
                return root / name
    except FileExistsError:
        raise FileExistsError(_exists_message(root / str(name))) from None
    except OSError as exc:
        raise OutputError(f"cannot create a run directory in {root}: {exc.strerror or exc}") from None
    raise OutputError(f"could not create a new run directory under {root}")


class OutputError(ValueError):
    """The output folder cannot hold a run directory (exit code 2)."""


def _check_name(name: str) -> None:
    if not name or Path(name).name != name or name in (".", ".."):
        raise OutputError(f"a run name must be a plain folder name (no '/'), got {name!r}")


def _exists_message(directory: Path) -> str:
    return (
        f"the run directory {directory} already exists; choose another name or remove it "
        "(runs never overwrite each other)"
    )


def write_json(path: Path, data: Any) -> None:
    """Write strict JSON atomically (NaN and infinities become ``null``)."""
    with atomic_path(path) as tmp:
        tmp.write_text(_dumps(data) + "\n", encoding="utf-8")


def write_status(
    directory: Path,
    status: str,
    *,
    error: str | None = None,
    signal: str | None = None,
    started: str | None = None,
    failed_outputs: list[dict[str, str]] | None = None,
) -> None:
    """``status.json``: ``running`` while the run runs, then how it ended; the error (None when
    there is none), the signal that stopped it (if one did), when (UTC), when the run started,
    the outputs that could not be written (when some could not), and the process that wrote it
    (``pid``, ``host``, ``boot_id``, ``process_start``: a ``running`` run whose process is gone,
    :func:`invprob.liveness.is_alive`, was killed). Written atomically."""
    from invprob.liveness import this_process

    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    record = {"status": status, "error": error, "signal": signal, "time": now, "started": started, **this_process()}
    if failed_outputs:
        record["failed_outputs"] = failed_outputs
    write_json(directory / "status.json", record)


def _dumps(data: Any) -> str:
    return json.dumps(json_safe(data), indent=2, allow_nan=False)


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None, tensors and numpy scalars as
    Python values and paths as strings: what strict JSON parsers accept."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return json_safe(value.item())
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


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


# -- the resolved recipe ----------------------------------------------------------------


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

    from invprob.params import nested_component_fields
    from invprob.recipe import COMPONENT_SECTIONS, default_metric_names

    base_dir = recipe.base_dir
    data = recipe.model_dump(mode="json", by_alias=True)

    def resolve(spec: Mapping[str, Any], kind: str) -> dict[str, Any]:
        component = registry.get(kind, spec["type"])
        params = component.validate_params(spec.get("params") or {}, base_dir=base_dir)
        dumped = params.model_dump(mode="json", by_alias=True)
        for key, nested in nested_component_fields(component.params_model).items():
            value = dumped.get(key)
            if isinstance(value, list):
                dumped[key] = [resolve(v, nested) if isinstance(v, Mapping) else v for v in value]
            elif isinstance(value, Mapping):
                dumped[key] = resolve(value, nested)
        return {**spec, "params": dumped}

    for section, kind in COMPONENT_SECTIONS.items():
        value = data.get(section)
        if isinstance(value, list):
            data[section] = [resolve(spec, kind) for spec in value]
        elif isinstance(value, Mapping):
            data[section] = resolve(value, kind)
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
    if recipe.source is not None:
        header.append(f"# Made from {recipe.source.resolve()}" + (" with overrides:" if recipe.overrides else "."))
        header += [f"#   {override}" for override in recipe.overrides]
    elif recipe.overrides:
        header.append("# Made with overrides:")
        header += [f"#   {override}" for override in recipe.overrides]
    return "\n".join(header) + "\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def run_description(recipe: Recipe) -> str | None:
    """The recipe's description, followed by the overrides that changed it for this run
    (``"... [overrides: solver.params.steps=200]"``); None when there is neither."""
    given = [o for o in recipe.overrides if not o.lstrip("~").startswith("description")]
    if not given:
        return recipe.description
    note = f"[overrides: {' '.join(given)}]"
    return f"{recipe.description} {note}" if recipe.description else note


# -- images -----------------------------------------------------------------------------


def save_png(image: torch.Tensor, path: Path, bits: int = 8) -> None:
    """A ``[C, H, W]`` image in [-1, 1] as an 8-bit PNG, or a 16-bit one with ``bits=16``
    (grey for one channel)."""
    from PIL import Image

    if bits == 16:
        array = to_uint16(torch.nan_to_num(image.detach(), nan=0.0))
        with atomic_path(path) as tmp:
            tmp.write_bytes(png16(array[..., 0] if array.shape[-1] == 1 else array))
        return
    with atomic_path(path) as tmp:
        Image.fromarray(tile(image, grey_as_rgb=False)).save(tmp)


def as_displayable(measurement: torch.Tensor, image_shape: Sequence[int], adjoint: Any = None) -> torch.Tensor | None:
    """An observation shown as an image ``[B, C, H, W]``, or None when it has no image form.

    Image-shaped observations are shown as they are (grey ones repeated to the image's
    channels); smaller ones (super-resolution) are upscaled with nearest neighbour; others are
    shown through the adjoint when the operator is linear.
    """
    channels, height, width = image_shape
    if measurement.dim() == 4:
        shown = measurement
        if shown.shape[1] != channels:
            shown = shown.mean(dim=1, keepdim=True).expand(-1, channels, -1, -1)
        if tuple(shown.shape[-2:]) != (height, width):
            shown = torch.nn.functional.interpolate(shown, size=(height, width), mode="nearest")
        return shown
    if adjoint is not None:
        try:
            return adjoint(measurement)
        except NotImplementedError:
            return None
    return None


GRID_ROWS = 32
"""The most images ``grid.png`` shows (the first ones); every image is in ``images/``."""
GIF_FRAME_MS = 100
"""How long each frame of ``optimisation.gif`` shows, in milliseconds (GIF delays are whole
hundredths of a second): 10 frames a second."""
GIF_LAST_FRAME_MS = 2000
"""How long the GIF's last frame, the reported result, shows before the loop restarts."""


def save_grid(
    columns: Mapping[str, torch.Tensor | Sequence[torch.Tensor] | None],
    names: Sequence[str],
    path: Path,
    *,
    row_notes: Sequence[str] | None = None,
    title: str | None = None,
) -> None:
    """``grid.png``: one row per image, one labelled column per tensor that is not None.

    ``columns`` maps a column's label (``"observed"``, ``"reconstruction"``, ``"ground
    truth"``) to ``[N, C, H, W]`` images in [-1, 1], or to a list of ``[C, H, W]`` images of
    several sizes (a generator-free run on images of their own sizes); each row is labelled with the image's
    name and its ``row_notes`` entry (the PSNR). Made with matplotlib's Agg canvas (no pyplot:
    a notebook's backend is left alone). See :func:`grid_figure`.
    """
    figure = grid_figure(columns, names, row_notes=row_notes, title=title)
    with atomic_path(path) as tmp:
        figure.savefig(tmp)


def grid_figure(
    columns: Mapping[str, torch.Tensor | Sequence[torch.Tensor] | None],
    names: Sequence[str],
    *,
    row_notes: Sequence[str] | None = None,
    title: str | None = None,
):
    """The matplotlib ``Figure`` of :func:`save_grid`.

    Small images are shown enlarged (nearest neighbour, at least 256 pixels a side), large
    ones at most 512 pixels a side; at most :data:`GRID_ROWS` rows, and the title says when
    images were left out.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    present = {label: tensor for label, tensor in columns.items() if tensor is not None}
    if not present:
        raise ValueError("a grid needs at least one column of images")
    total = len(names)
    rows = min(total, GRID_ROWS)
    height = max(int(column[row].shape[-2]) for column in present.values() for row in range(rows))
    width = max(int(column[row].shape[-1]) for column in present.values() for row in range(rows))
    longest = max(height, width)
    scale = max(1, 256 // longest) if longest < 256 else min(1.0, 512 / longest)
    dpi = 100
    panel_w, panel_h = width * scale / dpi, height * scale / dpi
    label_w, title_h = 0.5, 0.35 + (0.3 if title or rows < total else 0)
    figure = Figure(
        figsize=(len(present) * (panel_w + 0.08) + label_w, rows * (panel_h + 0.08) + title_h), dpi=dpi,
        layout="constrained",
    )
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, len(present), squeeze=False)
    for col, (label, tensor) in enumerate(present.items()):
        axes[0, col].set_title(label, fontsize=10)
        for row in range(rows):
            axis = axes[row, col]
            axis.imshow(tile(tensor[row], grey_as_rgb=True), interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            for spine in axis.spines.values():
                spine.set_visible(False)
    for row in range(rows):
        text = _short(names[row], 28)
        if row_notes is not None and row_notes[row]:
            text += "\n" + row_notes[row]
        axes[row, 0].set_ylabel(text, fontsize=8)
    heading = [title] if title else []
    if rows < total:
        heading.append(f"the first {rows} of {total} images (all of them are in images/)")
    if heading:
        figure.suptitle("\n".join(heading), fontsize=10)
    return figure


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


GIF_ROWS = 8
"""The most images ``optimisation.gif`` shows (the first ones of the first batch)."""


@dataclass(frozen=True)
class GifLayout:
    """Where things go in a frame of ``optimisation.gif``: a heading band (the step), a band of
    column labels, then one row per image with its name on the left; tiles of ``tile``
    ``(height, width)`` pixels, ``pad`` apart."""

    names: tuple[str, ...]
    columns: tuple[str, ...]
    tile: tuple[int, int]
    label_width: int
    heading: int = 22
    labels: int = 18
    pad: int = 4

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of a frame."""
        height, width = self.tile
        return (self.label_width + len(self.columns) * (width + self.pad) + self.pad,
                self.heading + self.labels + len(self.names) * (height + self.pad))  # fmt: skip

    def box(self, row: int, column: int) -> tuple[int, int]:
        """``(x, y)`` of the top left corner of the tile of image ``row`` in ``column``."""
        height, width = self.tile
        return self.label_width + self.pad + column * (width + self.pad), self.heading + self.labels + row * (height + self.pad)


def gif_layout(names: Sequence[str], columns: Sequence[str], tile: tuple[int, int]) -> GifLayout:
    """The :class:`GifLayout` of ``names`` (rows) and ``columns`` with tiles of ``tile`` pixels:
    the name column as wide as the longest name (at most 20 characters) in the GIF's font."""
    font = _gif_font()
    width = int(max((font.getlength(_short(name, 20)) for name in names), default=0)) + 8
    return GifLayout(tuple(names), tuple(columns), tile, width)


def _gif_font() -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=12)
    except TypeError:  # Pillow without FreeType sizes: the small bitmap font
        return ImageFont.load_default()


def save_gif(
    frames: Sequence[torch.Tensor],
    path: Path,
    *,
    frame_ms: int = GIF_FRAME_MS,
    last_frame_ms: int = GIF_LAST_FRAME_MS,
    steps: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    observed: torch.Tensor | None = None,
    truth: torch.Tensor | None = None,
) -> GifLayout:
    """``optimisation.gif``, looping, laid out like ``grid.png``: one row per image (the first
    :data:`GIF_ROWS` of the batch) named on the left, labelled columns ``observed``,
    ``reconstruction`` and ``ground truth`` (those given), and a heading with each frame's
    ``steps`` label ("step 40", the last "result"). Each frame ``[B, C, H, W]`` fills the
    reconstruction column; the other columns stay.

    Each frame shows ``frame_ms`` milliseconds and the last ``last_frame_ms`` (Pillow writes
    the delay in the file: read it back as ``Image.open(path).info["duration"]``). Small images
    are enlarged to at least 128 pixels high (nearest neighbour). Returns the layout.
    """
    from PIL import Image, ImageDraw

    if not frames:
        raise ValueError("a GIF needs at least one frame")
    count = min(GIF_ROWS, max(frame.shape[0] for frame in frames))
    names = [str(n) for n in names[:count]] if names is not None else [f"image {i}" for i in range(count)]
    fixed = {"observed": observed, "reconstruction": None, "ground truth": truth}
    columns = tuple(label for label, images in fixed.items() if label == "reconstruction" or images is not None)
    height, width = (int(s) for s in frames[-1].shape[-2:])
    scale = max(1, 128 // max(height, 1))
    font = _gif_font()
    layout = gif_layout(names, columns, (height * scale, width * scale))

    def scaled(image: torch.Tensor) -> Image.Image:
        picture = Image.fromarray(tile(image, grey_as_rgb=True))
        return picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST) if scale > 1 else picture

    def text(draw: Any, x: float, y: float, words: str, centred: bool = False) -> None:
        """``words`` with its left edge (or centre) at ``x``, centred on ``y`` (any Pillow font)."""
        left, top, right, bottom = draw.textbbox((0, 0), words, font=font)
        draw.text((x - (right - left) / 2 * centred - left, y - (bottom + top) / 2), words, fill="black", font=font)

    base = Image.new("RGB", layout.size, "white")
    draw = ImageDraw.Draw(base)
    for column, label in enumerate(columns):
        x, _ = layout.box(0, column)
        text(draw, x + layout.tile[1] / 2, layout.heading + layout.labels / 2, label, centred=True)
        for row in range(count):
            if fixed[label] is not None and row < fixed[label].shape[0]:  # type: ignore[union-attr]
                base.paste(scaled(fixed[label][row]), layout.box(row, column))  # type: ignore[index]
    for row, name in enumerate(names):
        text(draw, 4, layout.box(row, 0)[1] + layout.tile[0] / 2, _short(name, 20))
    shown = max(frame.shape[0] for frame in frames)
    note = f" (the first {count} of {shown} images)" if count < shown else ""
    where = columns.index("reconstruction")
    pictures = []
    for index, frame in enumerate(frames):
        picture = base.copy()
        for row in range(min(count, frame.shape[0])):
            picture.paste(scaled(frame[row]), layout.box(row, where))
        if steps is not None:
            text(ImageDraw.Draw(picture), 4, layout.heading / 2, steps[index] + note)
        pictures.append(picture)
    durations = [frame_ms] * (len(pictures) - 1) + [last_frame_ms]
    with atomic_path(path) as tmp:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0)
    return layout


def save_latents(latents: Mapping[str, torch.Tensor], path: Path, metadata: Mapping[str, str] | None = None) -> None:
    from invprob.weights import save_safetensors

    save_safetensors(latents, path, metadata)


def plot_history(histories: Sequence[Mapping[str, Sequence[float]]], path: Path) -> None:
    """Loss curves, one line per recorded scalar and batch, log scale when positive."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), dpi=100, layout="tight")
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    positive = True
    for index, history in enumerate(histories):
        for name, values in history.items():
            if not values:
                continue
            label = name if len(histories) == 1 else f"{name} (batch {index})"
            finite = [v for v in values if v is not None and math.isfinite(v)]
            axis.plot(range(len(values)), [v if v is not None else math.nan for v in values], label=label)
            positive = positive and bool(finite) and min(finite) > 0
    if positive:
        axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.legend(fontsize="small")
    with atomic_path(path) as tmp:
        figure.savefig(tmp)


# -- a finished run ---------------------------------------------------------------------


def write_outputs(
    directory: Path,
    components: Components,
    names: list[str],
    observations: list[torch.Tensor],
    results: list[SolverResult],
    truth: torch.Tensor | list[torch.Tensor] | None,
    interrupted: bool,
    *,
    operators: Sequence[Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    bit_depths: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Every output of a finished (or stopped) run; returns the metrics dict (``metrics.json``).

    The numbers come first: ``metrics.json``, then ``latents.safetensors`` and ``history.json``;
    then the pictures (``images/``, ``grid.png``, ``loss.png``, ``optimisation.gif``). An output
    that cannot be written (a full disk: :class:`OSError`) is said on the terminal, the others
    are still written, and ``metrics.json`` lists it under ``failed_outputs`` (``[{"output",
    "error"}]``); only a ``metrics.json`` that cannot be written fails the run.

    ``truth`` is None when the observation was given (``data.observation``). The metrics
    dict holds, besides per-image entries (``images``) and their means (``mean``), what ran
    (``recipe``, ``solver``, ``operator``, ``generator``, ``seed``), ``extra`` (the caller's:
    the signal, the divergence, the seconds) and ``records``: one ``{recipe, solver, operator,
    seed, index, image, metric, value}`` per image and value, so that
    ``pandas.DataFrame(json.load(f)["records"])`` is the whole table (and several runs'
    records concatenate into one). When the operator observes a subset of the pixels
    (``observed_mask()``) and ``psnr`` (``mse``) is computed, ``psnr_missing`` (``mse_missing``)
    is the PSNR (MSE) over the missing pixels alone, the number inpainting papers report. ``higher_is_better`` maps each
    value's name to its direction (:func:`metric_directions`); ``trivial`` (when present) maps
    a value the solver's post-processing makes trivial to the reason
    (``SolverResult.trivial_metrics``).
    ``operators`` are the batches' own operators (default: the run's); a run without a
    generator may solve images of several sizes, batch by batch: then ``truth`` is a list and
    images, metrics and the grid are made image by image. ``bit_depths`` are the bits per
    sample of each image's file (default 8): the images of a 16-bit one are 16-bit PNGs.
    """
    recipe = components.recipe
    metrics: dict[str, Any] = describe_run(recipe)
    metrics.update({"interrupted": interrupted, "images_solved": len(names), "images": []})
    unavailable = dict(components.unavailable)
    if truth is None:
        unavailable.update({name: NO_GROUND_TRUTH for name in components.metrics})
    if unavailable:
        metrics["unavailable"] = unavailable
    metrics["records"] = []
    if not results:
        metrics.update(extra or {})
        write_json(directory / "metrics.json", metrics)
        return metrics
    reconstruction = join_batches([r.best_image for r in results])
    finite = [bool(torch.isfinite(image).all()) for image in reconstruction]
    losses = torch.cat([r.best_loss for r in results]).tolist()
    measurement_loss = [loss if ok else math.nan for loss, ok in zip(losses, finite)]  # no image, no loss
    rounds = torch.cat([r.best_round for r in results]).tolist() if all(r.best_round is not None for r in results) else None
    operators = list(operators) if operators else [components.operator] * len(observations)
    shown = [
        as_displayable(y, tuple(r.best_image.shape[1:]), op.A_adjoint if op.linear else None)
        for y, r, op in zip(observations, results, operators)
    ]
    observed = join_batches(shown) if all(s is not None for s in shown) else None  # type: ignore[arg-type]

    values, row_notes = _metrics_by_batch(components, results, operators, truth)
    for index, name in enumerate(names):
        entry: dict[str, Any] = {"name": name, "measurement_loss": measurement_loss[index]}
        if rounds is not None:
            entry["best_round"] = rounds[index]  # the solver round its best iterate came from
        entry.update({metric: values[metric][index] for metric in values})
        metrics["images"].append(entry)
    metrics["mean"] = {metric: _mean([v for v in values[metric] if v is not None]) for metric in values}
    metrics["mean"]["measurement_loss"] = _mean([v for v in measurement_loss if math.isfinite(v)])
    metrics["records"] = _records(metrics)
    metrics["higher_is_better"] = metric_directions(components.metrics, [*sorted(values), "measurement_loss"])
    trivial = {name: reason for r in results for name, reason in r.trivial_metrics.items()}
    if trivial:
        metrics["trivial"] = trivial
    metrics["timings"] = [r.timings for r in results]
    notes = [note for r in results for note in r.notes]
    if notes:
        metrics["notes"] = notes
    if results[0].rounds:
        metrics["rounds"] = results[0].rounds  # what each round optimised (the same for every batch)
    metrics.update(extra or {})
    write_json(directory / "metrics.json", metrics)  # the numbers first: a full disk loses pictures only

    failed: list[dict[str, str]] = []
    if recipe.outputs.latents:
        latents = _concatenate_latents(results)
        if latents:
            with _optional(failed, "latents.safetensors"):
                save_latents(latents, directory / "latents.safetensors", {"names": ",".join(names)})
    histories = [r.history for r in results]
    with _optional(failed, "history.json"):
        write_json(directory / "history.json", histories)

    image_dir = directory / "images"
    with _optional(failed, "images/"):
        image_dir.mkdir()
        bits = list(bit_depths) if bit_depths else [8] * len(names)
        for index, name in enumerate(names):
            stem = f"{index:04d}_{name}"
            save_png(reconstruction[index], image_dir / f"{stem}_reconstruction.png", bits[index])
            if truth is not None:
                save_png(truth[index], image_dir / f"{stem}_ground_truth.png", bits[index])
            if observed is not None:
                save_png(observed[index], image_dir / f"{stem}_observed.png", bits[index])
        offset = 0
        for result in results:  # per-solver extras (ILO: each round's best image)
            for key, images in result.extra_images.items():
                for index in range(images.shape[0]):
                    stem = f"{offset + index:04d}_{names[offset + index]}"
                    save_png(images[index], image_dir / f"{stem}_{key}.png", bits[offset + index])
            offset += result.best_image.shape[0]
    with _optional(failed, "grid.png"):
        save_grid(
            {"observed": observed, "reconstruction": reconstruction, "ground truth": truth},
            names,
            directory / "grid.png",
            row_notes=row_notes,
            title=f"{recipe.solver.type} on {recipe.operator.type}" + (f" ({recipe.name})" if recipe.name else ""),
        )
    if any(any(h.values()) for h in histories):
        with _optional(failed, "loss.png"):
            plot_history(histories, directory / "loss.png")
    if recipe.outputs.gif:
        first = results[0]
        frames = [*first.frames, first.best_image.detach().to("cpu", torch.float32)]  # it ends on what is reported
        count = first.best_image.shape[0]
        steps = [f"step {k * recipe.outputs.gif_every}" for k in range(len(first.frames))]  # the monitor's frames
        batch = {k: torch.stack([v[i] for i in range(count)]).cpu() if v is not None else None
                 for k, v in (("observed", observed), ("truth", truth))}  # fmt: skip
        with _optional(failed, "optimisation.gif"):
            save_gif(frames, directory / "optimisation.gif", steps=[*steps, "result"], names=names[:count], **batch)
    if failed:
        metrics["failed_outputs"] = failed
        with _optional([], "metrics.json"):  # the first metrics.json stays if this one fails
            write_json(directory / "metrics.json", metrics)
    return metrics


@contextlib.contextmanager
def _optional(failed: list[dict[str, str]], output: str) -> Iterator[None]:
    """Write an output that the run's numbers do not need: an :class:`OSError` (a full disk) is
    said on the terminal and added to ``failed``, and the run goes on."""
    try:
        yield
    except OSError as exc:
        error = f"{type(exc).__name__}: {exc.strerror or exc}"
        failed.append({"output": output, "error": error})
        message = f"warning: {output} could not be written ({error}); the run's numbers are kept"
        print(message, file=sys.stderr, flush=True)


def kept(directory: Path) -> str:
    """What a run directory holds, for an error that names it: ``"it keeps metrics.json,
    status.json (failed)"``, or that it is empty (a disk with no space left)."""
    try:
        names = sorted(path.name + ("/" if path.is_dir() else "") for path in directory.iterdir()
                       if not path.name.startswith("."))  # fmt: skip
    except OSError as exc:
        return f"it cannot be listed ({exc.strerror or exc})"
    if not names:
        return "nothing was kept in it (it is empty: is the disk full?)"
    status = None
    with contextlib.suppress(OSError, ValueError, AttributeError):
        status = json.loads((directory / "status.json").read_text(encoding="utf-8")).get("status")
    return f"it keeps {', '.join(names)}" + (f"; status.json says {status}" if status else "; it has no status.json")


def join_batches(batches: Sequence[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    """Batches ``[B, ...]`` as one tensor when they are of one size, else a list of images."""
    if len({tuple(batch.shape[1:]) for batch in batches}) <= 1:
        return torch.cat(list(batches))
    return [image for batch in batches for image in batch]


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


OWN_DIRECTIONS: dict[str, bool] = {"measurement_loss": False}
"""Which way is better for the loss the solver minimises, which every run records."""
IN_THE_HOLE = {"psnr": ("psnr_missing", psnr_in_region), "mse": ("mse_missing", mse_in_region)}
"""Metrics a run also computes over the missing pixels of a masking operator: metric ->
(name of the value, its function of reconstruction, target and region)."""
DERIVED_FROM = {derived: metric for metric, (derived, _) in IN_THE_HOLE.items()}
"""Values a run derives from a metric, which go the same way as it."""


def metric_directions(built: Mapping[str, Any], names: Sequence[str]) -> dict[str, bool | None]:
    """``metrics.json``'s ``higher_is_better``: for each of ``names``, what its metric component
    declares (``Metric.higher_is_better``; ``psnr_missing`` goes as ``psnr``), or
    :data:`OWN_DIRECTIONS`; None where a metric
    declares nothing (a study's report then ranks nothing by it, and says so)."""
    out: dict[str, bool | None] = {}
    for name in names:
        source = DERIVED_FROM.get(name, name)
        declared = getattr(type(built[source]), "higher_is_better", None) if source in built else OWN_DIRECTIONS.get(name)
        out[name] = declared if isinstance(declared, bool) else None
    return out


RECORD_FIELDS = ("recipe", "solver", "operator", "seed", "index", "image", "metric", "value")
"""The columns of ``metrics.json``'s ``records``."""


def _records(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One flat record per image and value (``best_round`` is not a metric and is left out),
    sorted by image index, then metric name: identical runs write identical files."""
    run = {"recipe": metrics["recipe"]["name"], "solver": metrics["solver"], "operator": metrics["operator"],
           "seed": metrics["seed"]}  # fmt: skip
    return [
        {**run, "index": index, "image": entry["name"], "metric": metric, "value": entry[metric]}
        for index, entry in enumerate(metrics["images"])
        for metric in sorted(entry)
        if metric not in ("name", "best_round")
    ]


def _metrics_by_batch(
    components: Components,
    results: Sequence[SolverResult],
    operators: Sequence[Any],
    truth: torch.Tensor | list[torch.Tensor] | None,
) -> tuple[dict[str, list[float | None]], list[str] | None]:
    """Every metric per image, and the grid's per-row PSNR notes, batch by batch: a batch never
    mixes image sizes, and ``psnr_missing``/``mse_missing`` use that batch's own operator's mask."""
    if truth is None:
        return {}, None
    values: dict[str, list[float | None]] = {}
    notes: list[str] = []
    offset = 0
    for result, operator in zip(results, operators):
        reconstruction = result.best_image
        count = reconstruction.shape[0]
        target = truth[offset : offset + count]
        target = torch.stack(list(target)) if isinstance(target, list) else target
        batch = evaluate(components.metrics, reconstruction, target)
        missing = _missing_region(operator, count)
        for metric, (derived, function) in IN_THE_HOLE.items():
            if metric in batch and missing is not None:
                in_hole = partial(function, region=missing.to(reconstruction.device))
                batch[derived] = evaluate({derived: in_hole}, reconstruction, target)[derived]
        for name in dict.fromkeys([*values, *batch]):  # a set's order changes from run to run
            values.setdefault(name, [None] * offset).extend(batch.get(name, [None] * count))
        notes += _psnr_notes(reconstruction, target, missing)
        offset += count
    return values, notes


def _missing_region(operator: Any, count: int) -> torch.Tensor | None:
    """``1 - observed_mask`` of a masking operator, on the CPU, for ``count`` images; None
    when the operator has no mask (or one that does not fit every image)."""
    mask = operator.observed_mask()
    if mask is None or mask.shape[0] not in (1, count):
        return None
    return 1 - (mask.detach().to("cpu", torch.float64) > 0.5).to(torch.float64)


def _psnr_notes(reconstruction: torch.Tensor, truth: torch.Tensor, missing: torch.Tensor | None) -> list[str]:
    """``"PSNR 23.41 dB"`` per image for the grid's rows (and over the missing pixels when known)."""
    recon = reconstruction.detach().cpu()
    target = truth.detach().cpu()
    overall = psnr(recon, target).tolist()
    inside = psnr_in_region(recon, target, missing).tolist() if missing is not None else [None] * len(overall)
    notes = []
    for whole, hole in zip(overall, inside):
        text = f"PSNR {_db(whole)}"
        if hole is not None:
            text += f"\nmissing {_db(hole)}"
        notes.append(text)
    return notes


def _db(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return "inf dB" if math.isinf(value) else f"{value:.2f} dB"


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _concatenate_latents(results: list[SolverResult]) -> dict[str, torch.Tensor]:
    keys = set(results[0].best_latents)
    for result in results[1:]:
        keys &= set(result.best_latents)
    return {key: torch.cat([r.best_latents[key].detach().cpu() for r in results]) for key in sorted(keys)}
