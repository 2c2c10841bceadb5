"""Image grids through the core's :func:`invprob.images.save_tiles` (one column per tensor)."""

from __future__ import annotations

from pathlib import Path

import torch

from invprob.images import save_tiles


def save_grid(images: torch.Tensor, path: str | Path, *, nrow: int) -> Path:
    """Tile a batch ``[N, C, H, W]`` in [-1, 1] row by row, ``nrow`` images a row (the last row
    padded with white), into a PNG at ``path`` (folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = images.shape[0]
    rows = -(-count // nrow)
    padded = torch.cat([images, images.new_ones(rows * nrow - count, *images.shape[1:])]) if rows * nrow > count else images
    grid = padded.reshape(rows, nrow, *images.shape[1:])
    save_tiles([grid[:, col] for col in range(nrow)], path)
    return path
