"""Run directories and what goes in them.

Every run writes a new directory ``<YYYYmmdd-HHMMSS>-<6 hex>`` under the output root and never
touches an existing one. Inside: ``recipe.resolved.yaml``, ``environment.json``,
``metrics.json``, ``images/`` (observed, reconstruction, ground truth per image), ``grid.png``,
``latents.safetensors``, ``history.json``, ``loss.png`` and optionally ``optimisation.gif``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch


def new_run_directory(root: str | Path) -> Path:
    """Create and return a fresh ``<timestamp>-<id>`` directory under ``root``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        try:
            (root / name).mkdir()
        except FileExistsError:
            continue
        return root / name
    raise RuntimeError(f"could not create a new run directory under {root}")


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a temporary file renamed into place)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """``[C, H, W]`` in [-1, 1] -> ``[H, W, C]`` (or ``[H, W]``) uint8."""
    array = ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    array = array.permute(1, 2, 0).numpy()
    return array[:, :, 0] if array.shape[2] == 1 else array


def save_png(image: torch.Tensor, path: Path) -> None:
    from PIL import Image

    Image.fromarray(to_uint8(image)).save(path)


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


def save_grid(columns: Sequence[torch.Tensor | None], path: Path, padding: int = 2) -> None:
    """Side-by-side grid: one row per image, one column per tensor (observed, result, truth)."""
    from PIL import Image

    present = [c for c in columns if c is not None]
    batch, channels, height, width = present[0].shape
    rows, cols = batch, len(present)
    canvas = np.full((rows * (height + padding) + padding, cols * (width + padding) + padding, 3), 255, np.uint8)
    for col, tensor in enumerate(present):
        for row in range(rows):
            tile = to_uint8(tensor[row])
            if tile.ndim == 2:
                tile = np.repeat(tile[:, :, None], 3, axis=2)
            y, x = padding + row * (height + padding), padding + col * (width + padding)
            canvas[y : y + height, x : x + width] = tile
    scale = max(1, 256 // max(height, 1))
    image = Image.fromarray(canvas)
    if scale > 1:
        image = image.resize((canvas.shape[1] * scale, canvas.shape[0] * scale), Image.Resampling.NEAREST)
    image.save(path)


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
            axis.plot(range(len(values)), values, label=label)
            positive = positive and min(v for v in values if v is not None) > 0
    if positive:
        axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def save_gif(frames: Sequence[torch.Tensor], path: Path, duration: float = 0.1) -> None:
    """An animated GIF of the optimisation: each frame is a row of the batch's images."""
    import imageio.v2 as imageio

    images = []
    for frame in frames:
        tiles = [to_uint8(image) for image in frame]
        row = np.concatenate(tiles, axis=1)
        images.append(row if row.ndim == 3 else np.repeat(row[:, :, None], 3, axis=2))
    imageio.mimsave(path, images, duration=duration, loop=0)
