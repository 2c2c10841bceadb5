"""Sample grids: a batch of images in [-1, 1] tiled into one PNG."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from invprob.images import to_uint8


def image_grid(images: torch.Tensor, *, nrow: int | None = None, padding: int = 2, scale: int = 1) -> np.ndarray:
    """Tile ``[B, C, H, W]`` images in [-1, 1] into a uint8 ``[H', W', C]`` array (white padding)."""
    array = to_uint8(images)  # [B, H, W, C]
    batch, height, width, channels = array.shape
    nrow = nrow or math.ceil(math.sqrt(batch))
    ncol = math.ceil(batch / nrow)
    grid = np.full(
        (ncol * (height + padding) + padding, nrow * (width + padding) + padding, channels), 255, dtype=np.uint8
    )
    for index in range(batch):
        row, col = divmod(index, nrow)
        top, left = padding + row * (height + padding), padding + col * (width + padding)
        grid[top : top + height, left : left + width] = array[index]
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid


def save_grid(images: torch.Tensor, path: str | Path, **kwargs) -> Path:
    """Write :func:`image_grid` of ``images`` to ``path`` as PNG."""
    from PIL import Image

    grid = image_grid(images, **kwargs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(path)
    return path
