"""Run directories and what goes in them.

Every run writes a new directory under the output root, ``<YYYYmmdd-HHMMSS>-<6 hex>`` or the
name the caller gives, and never touches an existing one. Inside: ``recipe.resolved.yaml``,
``environment.json`` (written once, when every component is built), ``metrics.json``,
``images/`` (observed, reconstruction and, when known, ground truth per image), ``grid.png``,
``latents.safetensors``, ``history.json``, ``loss.png``, optionally ``optimisation.gif``, and
``status.json``: how the run ended (``complete``, ``interrupted``, ``diverged``, ``failed`` or
``aborted``), the error and the time, so that a partial directory is never mistaken for a
result.

Every file is written under a temporary name and renamed into place, so that a file present
is a whole file. JSON is strict: NaN and infinities are written as ``null``.

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
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from invprob.images import to_uint8
from invprob.seeding import stream_seed
from invprob.solver import SolverResult

if TYPE_CHECKING:
    from invprob.components import Components
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
    """What a run produced: its directory, metrics, environment and the solver results."""

    directory: Path
    metrics: dict[str, Any]
    results: list[SolverResult] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    interrupted: bool = False
    environment: dict[str, Any] = field(default_factory=dict)
    signal: int | None = None
    """The signal that interrupted the run (None when none did)."""

    @property
    def reconstructions(self) -> torch.Tensor | list[torch.Tensor]:
        """All best reconstructions ``[N, C, H, W]``, in the order of :attr:`names`; a list of
        ``[C, H, W]`` when a run without a generator kept images of several sizes."""
        return _join([r.best_image for r in self.results])

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


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path`` (same suffix, for writers that go by it), renamed to
    ``path`` when the block succeeds and removed when it fails: a file present is whole."""
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_json(path: Path, data: Any) -> None:
    """Write strict JSON atomically (NaN and infinities become ``null``)."""
    with atomic_path(path) as tmp:
        tmp.write_text(_dumps(data) + "\n", encoding="utf-8")


def write_status(directory: Path, status: str, *, error: str | None = None, signal: str | None = None) -> None:
    """``status.json``: how the run ended, the error (None when there is none), the signal
    that stopped it (if one did) and when, in UTC."""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    write_json(directory / "status.json", {"status": status, "error": error, "signal": signal, "time": now})


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


def environment(components: Components, registry: Registry, weights: Sequence[WeightRecord]) -> dict[str, Any]:
    """Versions, device, stream seeds and the sha256 of every weight file loaded: enough to rerun."""
    from invprob import __version__
    from invprob.components import STREAMS

    device = components.context.device
    device_name = torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.processor() or "cpu"
    seed = components.recipe.seed
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "invprob": __version__,
        "torch": torch.__version__,
        "distributions": {
            info.name: info.version for info in sorted(registry.distributions.values(), key=lambda d: d.name)
        },
        "plugin_failures": [f.summary() for f in registry.failures],
        "device": device,
        "device_name": device_name,
        "seeds": {"recipe": seed, **{name: stream_seed(seed, name) for name in STREAMS}},
        "weights": [{"path": r.path, "sha256": r.sha256, "bytes": r.bytes} for r in weights],
    }


# -- images -----------------------------------------------------------------------------


def save_png(image: torch.Tensor, path: Path) -> None:
    """A ``[C, H, W]`` image in [-1, 1] as an 8-bit PNG (grey for one channel)."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(_tile(image, grey_as_rgb=False)).save(tmp)


def _tile(image: torch.Tensor, *, grey_as_rgb: bool) -> np.ndarray:
    array = to_uint8(torch.nan_to_num(image.detach(), nan=0.0))  # an image without a finite value is grey
    if array.shape[-1] == 1:
        return np.repeat(array, 3, axis=-1) if grey_as_rgb else array[..., 0]
    return array


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


def save_grid(columns: Sequence[torch.Tensor | Sequence[torch.Tensor] | None], path: Path, padding: int = 2) -> None:
    """Side-by-side grid: one row per image, one column per tensor (observed, result, truth).

    A column is a batch ``[B, C, H, W]`` or a list of ``[C, H, W]`` images of several sizes
    (each cell is then as large as the largest image of its row and column).
    """
    from PIL import Image

    present = [c for c in columns if c is not None]
    rows, cols = len(present[0]), len(present)
    heights = [max(int(column[row].shape[-2]) for column in present) for row in range(rows)]
    widths = [max(int(column[row].shape[-1]) for row in range(rows)) for column in present]
    height, width = max(heights), max(widths)
    tops = np.cumsum([padding] + [h + padding for h in heights])
    lefts = np.cumsum([padding] + [w + padding for w in widths])
    canvas = np.full((int(tops[-1]), int(lefts[-1]), 3), 255, np.uint8)
    for col, tensor in enumerate(present):
        for row in range(rows):
            tile = _tile(tensor[row], grey_as_rgb=True)
            y, x = int(tops[row]), int(lefts[col])
            canvas[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    scale = max(1, 256 // max(height, 1))
    image = Image.fromarray(canvas)
    if scale > 1:
        image = image.resize((canvas.shape[1] * scale, canvas.shape[0] * scale), Image.Resampling.NEAREST)
    with atomic_path(path) as tmp:
        image.save(tmp)


def save_gif(frames: Sequence[torch.Tensor], path: Path, duration: float = 0.1) -> None:
    """An animated GIF of the optimisation: each frame is a row of the batch's images."""
    import imageio.v2 as imageio

    rows = [np.concatenate([_tile(image, grey_as_rgb=True) for image in frame], axis=1) for frame in frames]
    with atomic_path(path) as tmp:
        imageio.mimsave(tmp, rows, duration=duration, loop=0)


def save_latents(latents: Mapping[str, torch.Tensor], path: Path, metadata: Mapping[str, str] | None = None) -> None:
    from invprob.weights import save_safetensors

    save_safetensors(latents, path, metadata)


def plot_history(histories: Sequence[Mapping[str, Sequence[float]]], path: Path) -> None:
    """Loss curves, one line per recorded scalar and batch, log scale when positive."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4), dpi=100)
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
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp)
    plt.close(figure)


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
) -> dict[str, Any]:
    """Images, grid, latents, history and the metrics dict of a finished (or stopped) run.

    ``truth`` is None when the observation was given (``data.observation``). ``operators``
    are the batches' own operators (default: the run's); a run without a generator may solve
    images of several sizes, batch by batch: then ``truth`` is a list and images, metrics and
    the grid are made image by image.
    """
    recipe = components.recipe
    metrics: dict[str, Any] = {"interrupted": interrupted, "images_solved": len(names), "images": []}
    unavailable = dict(components.unavailable)
    if truth is None:
        unavailable.update({name: NO_GROUND_TRUTH for name in components.metrics})
    if unavailable:
        metrics["unavailable"] = unavailable
    if not results:
        return metrics
    reconstruction = _join([r.best_image for r in results])
    finite = [bool(torch.isfinite(image).all()) for image in reconstruction]
    losses = torch.cat([r.best_loss for r in results]).tolist()
    measurement_loss = [loss if ok else math.nan for loss, ok in zip(losses, finite)]  # no image, no loss
    rounds = torch.cat([r.best_round for r in results]).tolist() if all(r.best_round is not None for r in results) else None
    operators = list(operators) if operators else [components.operator] * len(observations)
    shown = [
        as_displayable(y, tuple(r.best_image.shape[1:]), op.A_adjoint if op.linear else None)
        for y, r, op in zip(observations, results, operators)
    ]
    observed = _join(shown) if all(s is not None for s in shown) else None  # type: ignore[arg-type]

    image_dir = directory / "images"
    image_dir.mkdir()
    for index, name in enumerate(names):
        stem = f"{index:04d}_{name}"
        save_png(reconstruction[index], image_dir / f"{stem}_reconstruction.png")
        if truth is not None:
            save_png(truth[index], image_dir / f"{stem}_ground_truth.png")
        if observed is not None:
            save_png(observed[index], image_dir / f"{stem}_observed.png")
    save_grid([observed, reconstruction, truth], directory / "grid.png")
    offset = 0
    for result in results:  # per-solver extras (ILO: each round's best image)
        for key, images in result.extra_images.items():
            for index in range(images.shape[0]):
                stem = f"{offset + index:04d}_{names[offset + index]}"
                save_png(images[index], image_dir / f"{stem}_{key}.png")
        offset += result.best_image.shape[0]

    values = _metric_values(components.metrics, reconstruction, truth) if truth is not None else {}
    for index, name in enumerate(names):
        entry: dict[str, Any] = {"name": name, "measurement_loss": measurement_loss[index]}
        if rounds is not None:
            entry["best_round"] = rounds[index]  # the solver round its best iterate came from
        entry.update({metric: values[metric][index] for metric in values})
        metrics["images"].append(entry)
    metrics["mean"] = {metric: _mean([v for v in values[metric] if v is not None]) for metric in values}
    metrics["mean"]["measurement_loss"] = _mean([v for v in measurement_loss if math.isfinite(v)])
    metrics["timings"] = [r.timings for r in results]
    notes = [note for r in results for note in r.notes]
    if notes:
        metrics["notes"] = notes

    if recipe.outputs.latents:
        latents = _concatenate_latents(results)
        if latents:
            save_latents(latents, directory / "latents.safetensors", {"names": ",".join(names)})
    histories = [r.history for r in results]
    write_json(directory / "history.json", histories)
    if any(any(h.values()) for h in histories):
        plot_history(histories, directory / "loss.png")
    frames = results[0].frames
    if recipe.outputs.gif and frames:
        save_gif(frames, directory / "optimisation.gif")
    return metrics


def _join(batches: Sequence[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    """Batches ``[B, ...]`` as one tensor when they are of one size, else a list of images."""
    if len({tuple(batch.shape[1:]) for batch in batches}) <= 1:
        return torch.cat(list(batches))
    return [image for batch in batches for image in batch]


def _metric_values(
    metrics: Mapping[str, Any], reconstruction: torch.Tensor | list[torch.Tensor], truth: torch.Tensor | list[torch.Tensor]
) -> dict[str, list[float | None]]:
    """Per-image values of every metric; inf and NaN (identical images' PSNR) become None."""
    out = {}
    for name, metric in metrics.items():
        with torch.no_grad():
            if isinstance(reconstruction, list) or isinstance(truth, list):  # images of several sizes
                values = [metric(r[None], t[None]).item() for r, t in zip(reconstruction, truth)]
            else:
                values = metric(reconstruction, truth).tolist()
        out[name] = [None if math.isinf(v) or math.isnan(v) else float(v) for v in values]
    return out


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _concatenate_latents(results: list[SolverResult]) -> dict[str, torch.Tensor]:
    keys = set(results[0].best_latents)
    for result in results[1:]:
        keys &= set(result.best_latents)
    return {key: torch.cat([r.best_latents[key].detach().cpu() for r in results]) for key in sorted(keys)}
