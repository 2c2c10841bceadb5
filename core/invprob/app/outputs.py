"""Run directories and what goes in them.

Every run writes a new directory under the output root, ``<YYYYmmdd-HHMMSS>-<6 hex>`` or the
name the caller gives, and never touches an existing one. Inside:

- ``recipe.resolved.yaml``: the recipe as it ran, every default written out
  (:func:`invprob.app.run_record.resolved_recipe`): ``invprob run <dir>/recipe.resolved.yaml`` reruns it;
- ``environment.json``: what produced the run (:func:`invprob.app.run_record.environment`),
  written when every component is built, and again with the end time;
- ``metrics.json``: what ran, per-image values and means, flat ``records`` for pandas
  (:func:`invprob.app.run_metrics.metrics_document`);
- ``images/`` (observed, reconstruction and, when known, ground truth per image; 16-bit PNGs
  for a 16-bit input), ``latents.safetensors``, ``history.json``, the figures plugins draw
  (:class:`RunFigures`; ``invprob-plugin-figures``: ``grid.png``, ``loss.png``, optionally
  ``optimisation.gif``), and ``status.json``: how the run ended (``complete``,
  ``interrupted``, ``diverged``, ``failed`` or ``aborted``), the error and the time, so that
  a partial directory is never mistaken for a result.

Every file is written under a temporary name and renamed into place, so that a file present
is a whole file. JSON is strict: NaN and infinities are written as ``null``.

``status.json`` says ``running`` from the moment the directory exists, with the process that
runs it (pid, host, boot id, start time), so that a killed run is told from a live one
(:func:`write_status`). What a full disk keeps: :func:`write_outputs`; an error that names a
run directory says what it keeps (:func:`kept`).

A run given its observation (``data.observation``) has no ground truth: the metrics that
compare with it are listed under ``unavailable`` in ``metrics.json`` with the reason, and the
grid shows observation and reconstruction.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from invprob.app.run_metrics import metrics_document
from invprob.images import atomic_path, png16, tile, to_uint16
from invprob.solver import SolverResult

if TYPE_CHECKING:
    from invprob.app.components import Components
    from invprob.recipe import Recipe
    from invprob.registry import Registry

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
    from invprob.app.run_record import now
    from invprob.liveness import this_process

    when = now().isoformat(timespec="seconds")
    record = {"status": status, "error": error, "signal": signal, "time": when, "started": started, **this_process()}
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


# -- a finished run ---------------------------------------------------------------------


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
    then the pictures (``images/``, then the figures plugins draw: :class:`RunFigures`). An output
    that cannot be written (a full disk: :class:`OSError`) is said on the terminal, the others
    are still written, and ``metrics.json`` lists it under ``failed_outputs`` (``[{"output",
    "error"}]``); only a ``metrics.json`` that cannot be written fails the run.

    ``truth`` is None when the observation was given (``data.observation``). The metrics dict
    is :func:`invprob.app.run_metrics.metrics_document`'s, with ``extra`` (the caller's: the
    signal, the divergence, the seconds). ``operators`` are the batches' own operators
    (default: the run's); a run without a generator may solve images of several sizes, batch
    by batch: then ``truth`` is a list and images, metrics and the grid are made image by
    image. ``bit_depths`` are the bits per sample of each image's file (default 8): the
    images of a 16-bit one are 16-bit PNGs.
    """
    operators = list(operators) if operators else [components.operator] * len(observations)
    metrics, row_notes = metrics_document(components, names, results, truth, interrupted, operators)
    if not results:
        metrics.update(extra or {})
        write_json(directory / "metrics.json", metrics)
        return metrics
    shown = [
        as_displayable(y, tuple(r.best_image.shape[1:]), op.A_adjoint if op.linear else None)
        for y, r, op in zip(observations, results, operators)
    ]
    observed = join_batches(shown) if all(s is not None for s in shown) else None  # type: ignore[arg-type]
    metrics.update(extra or {})
    write_json(directory / "metrics.json", metrics)  # the numbers first: a full disk loses pictures only

    failed: list[dict[str, str]] = []
    if components.recipe.outputs.latents:
        from invprob.weights import save_safetensors

        latents = _concatenate_latents(results)
        if latents:
            with _optional(failed, "latents.safetensors"):
                save_safetensors(latents, directory / "latents.safetensors", {"names": ",".join(names)})
    with _optional(failed, "history.json"):
        write_json(directory / "history.json", [r.history for r in results])
    reconstruction = join_batches([r.best_image for r in results])
    with _optional(failed, "images/"):
        _save_images(directory / "images", names, results, reconstruction, truth, observed, bit_depths)
    figures = RunFigures(directory, components.recipe, names, results, observed, reconstruction, truth, row_notes, failed)
    _draw_figures(components.context.registry, figures)
    if failed:
        metrics["failed_outputs"] = failed
        with _optional([], "metrics.json"):  # the first metrics.json stays if this one fails
            write_json(directory / "metrics.json", metrics)
    return metrics


def _save_images(
    image_dir: Path,
    names: list[str],
    results: list[SolverResult],
    reconstruction: torch.Tensor | list[torch.Tensor],
    truth: torch.Tensor | list[torch.Tensor] | None,
    observed: torch.Tensor | list[torch.Tensor] | None,
    bit_depths: Sequence[int] | None,
) -> None:
    """``images/``: each image's reconstruction, ground truth and observation, and the solvers'
    extra images (ILO: each round's best), as PNGs of the bit depth of the image's file."""
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


@dataclass
class RunFigures:
    """What ``invprob_write_run_figures`` receives (:mod:`invprob.app.hookspecs`): a finished
    run's recipe, images' names and solver results, and its columns of images in [-1, 1]
    (``observed`` and ``truth`` None when absent; lists of ``[C, H, W]`` for images of several
    sizes), with the grid's per-row PSNR notes."""

    directory: Path
    recipe: Recipe
    names: list[str]
    results: list[SolverResult]
    observed: torch.Tensor | list[torch.Tensor] | None
    reconstruction: torch.Tensor | list[torch.Tensor]
    truth: torch.Tensor | list[torch.Tensor] | None
    row_notes: list[str] | None
    failed: list[dict[str, str]] = field(default_factory=list, repr=False)
    written: list[str] = field(default_factory=list, repr=False)
    """The names of the figures plugins wrote or tried to write, in order."""

    def write(self, output: str, save: Callable[[Path], object]) -> None:
        """``save(directory / output)``, an optional output (:func:`_optional`)."""
        self.written.append(output)
        with _optional(self.failed, output):
            save(self.directory / output)


def _draw_figures(registry: Registry, figures: RunFigures) -> None:
    """Every plugin's figures of the run; a plugin that fails drawing them is said (and recorded
    as its failure), and so is an ``outputs.gif`` that no installed plugin draws."""
    before = len(registry.failures)
    registry.call_each("invprob_write_run_figures", lambda distribution: figures)
    failures = registry.failures[before:]
    for failure in failures:
        print(f"warning: {failure.distribution} could not draw the run's figures: {failure.error}", file=sys.stderr)
    if not failures and figures.recipe.outputs.gif and "optimisation.gif" not in figures.written:
        print("warning: outputs.gif: no installed plugin draws optimisation.gif; invprob-plugin-figures does: "
              "pip install invprob-plugin-figures", file=sys.stderr)  # fmt: skip


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


def _concatenate_latents(results: list[SolverResult]) -> dict[str, torch.Tensor]:
    keys = set(results[0].best_latents)
    for result in results[1:]:
        keys &= set(result.best_latents)
    return {key: torch.cat([r.best_latents[key].detach().cpu() for r in results]) for key in sorted(keys)}
