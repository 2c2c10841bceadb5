"""Loading the images a recipe solves for: files, folders, globs, ``.npz`` arrays or zips.

Every source yields named images as float tensors ``[C, H, W]`` in [-1, 1], resized to the
size the generator produces and converted to its channel count.
"""

from __future__ import annotations

import glob
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm"}


class DataError(ValueError):
    """The data section points at nothing usable; the message says what and where."""


@dataclass
class ImageBatch:
    """Ground-truth images ``[B, C, H, W]`` in [-1, 1] and their names."""

    images: torch.Tensor
    names: list[str]


def _natural_key(name: str) -> tuple:
    stem = Path(name).stem
    return (0, int(stem), name) if stem.isdigit() else (1, 0, name)


def _apply_select(items: list, select: str | None) -> list:
    if not select:
        return items
    if ":" not in select:
        index = int(select)
        return [items[index]]
    start, stop = (int(p) if p.strip() else None for p in select.split(":", 1))
    return items[slice(start, stop)]


def _to_tensor(array: np.ndarray, shape: tuple[int, int, int]) -> torch.Tensor:
    """uint8 ``[H, W]`` or ``[H, W, C]`` -> float ``[C, H, W]`` in [-1, 1] of ``shape``."""
    from PIL import Image

    channels, height, width = shape
    if array.ndim == 2:
        array = array[:, :, None]
    image = Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array[..., :3])
    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BICUBIC)
    data = np.asarray(image, dtype=np.float32) / 127.5 - 1
    if data.ndim == 2:
        data = data[:, :, None]
    return torch.from_numpy(data).permute(2, 0, 1).contiguous()


def _read_image(source: Path | bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        return np.asarray(image)


def list_images(spec: Path, npz_key: str = "images") -> list[tuple[str, Callable[[], np.ndarray]]]:
    """``(name, read)`` for every image the ``images`` entry names, in sorted order.

    Reading is deferred so that ``select`` decodes only the images it keeps.
    """
    text = str(spec)
    if any(ch in text for ch in "*?["):
        files = [f for f in sorted(glob.glob(text, recursive=True), key=_natural_key) if Path(f).suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise DataError(f"data.images: the pattern {text!r} matches no image file")
        return [(Path(f).stem, partial(_read_image, Path(f))) for f in files]
    if not spec.exists():
        raise DataError(f"data.images: {spec} does not exist")
    if spec.is_dir():
        files = sorted((p for p in spec.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: _natural_key(p.name))
        if not files:
            raise DataError(f"data.images: the folder {spec} holds no image file ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return [(p.stem, partial(_read_image, p)) for p in files]
    if spec.suffix == ".npz":
        return _list_npz(spec, npz_key)
    if spec.suffix == ".zip":
        archive = zipfile.ZipFile(spec)
        names = sorted((n for n in archive.namelist() if Path(n).suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
        return [(Path(n).stem, partial(lambda n: _read_image(archive.read(n)), n)) for n in names]
    if spec.suffix.lower() in IMAGE_SUFFIXES:
        return [(spec.stem, partial(_read_image, spec))]
    raise DataError(f"data.images: {spec} is not an image, a folder, a glob, a .zip or an .npz")


def _list_npz(spec: Path, npz_key: str) -> list[tuple[str, Callable[[], np.ndarray]]]:
    with np.load(spec) as archive:
        if npz_key not in archive.files:
            raise DataError(f"data.images: {spec} has no array {npz_key!r}; it has {', '.join(archive.files)}")
        images = archive[npz_key]
        ids = archive["ids"] if "ids" in archive.files else np.arange(len(images))
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise DataError(f"data.images: {spec}[{npz_key!r}] must be uint8 [N, H, W(, C)], got {images.dtype} {tuple(images.shape)}")
    order = np.argsort(ids, kind="stable")
    return [(str(ids[i]), partial(lambda i: images[i], i)) for i in order]


def load_images(spec: Path, image_shape: tuple[int, int, int], *, select: str | None = None, npz_key: str = "images") -> ImageBatch:
    """The images named by ``spec`` (after ``select``), as one batch of ``image_shape``."""
    found = list_images(spec, npz_key)
    kept = _apply_select(found, select)
    if not kept:
        raise DataError(f"data.select {select!r} keeps none of the {len(found)} images in {spec}")
    tensors = [_to_tensor(read(), image_shape) for _, read in kept]
    return ImageBatch(torch.stack(tensors), [name for name, _ in kept])
