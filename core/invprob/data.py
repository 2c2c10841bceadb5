"""Loading a recipe's data: the images to solve for, or observations given directly.

``data.images`` (files, folders, globs, ``.npz`` arrays or zips) yields named ground-truth
images as float tensors ``[C, H, W]`` in [-1, 1], resized to the size the generator produces
and converted to its channel count.

``data.observation`` is what was measured, without a ground truth: image files (a file, a
folder or a glob) that must already have the operator's output size -- never resized, since
resizing would change the measurement -- or measurement tensors in ``.npy``, ``.pt`` or
``.safetensors`` files, ``[N, *output shape]`` or one ``[*output shape]``.
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

from invprob.images import from_uint8

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
    return from_uint8(np.array(image))


def _read_image(source: Path | bytes, name: str | None = None) -> np.ndarray:
    """Decode one image file (or its bytes; ``name`` says where they came from for errors)."""
    from PIL import Image

    where = name or str(source)
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            if image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            return np.asarray(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:  # PIL's errors
        raise DataError(f"{where} is not a readable image: {type(exc).__name__}: {exc}") from None


def _read_member(archive: zipfile.ZipFile, spec: Path, member: str) -> np.ndarray:
    """Decode the image ``member`` of the zip ``spec``, naming the member when it is damaged."""
    where = f"{spec}: member {member!r}"
    try:
        data = archive.read(member)
    except Exception as exc:  # noqa: BLE001 - BadZipFile (bad CRC), zlib.error, EOFError, encrypted members...
        raise DataError(f"{where} cannot be read: {type(exc).__name__}: {exc}") from None
    return _read_image(data, where)


def list_images(spec: Path, npz_key: str = "images", *, field: str = "data.images") -> list[tuple[str, Callable[[], np.ndarray]]]:
    """``(name, read)`` for every image the ``images`` entry names, in sorted order.

    Reading is deferred so that ``select`` decodes only the images it keeps.
    """
    text = str(spec)
    if any(ch in text for ch in "*?["):
        files = [f for f in sorted(glob.glob(text, recursive=True), key=_natural_key) if Path(f).suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise DataError(f"{field}: the pattern {text!r} matches no image file")
        return [(Path(f).stem, partial(_read_image, Path(f))) for f in files]
    if not spec.exists():
        raise DataError(f"{field}: {spec} does not exist")
    if spec.is_dir():
        files = sorted((p for p in spec.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: _natural_key(p.name))
        if not files:
            raise DataError(f"{field}: the folder {spec} holds no image file ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return [(p.stem, partial(_read_image, p)) for p in files]
    if spec.suffix == ".npz":
        return _list_npz(spec, npz_key)
    if spec.suffix == ".zip":
        try:
            archive = zipfile.ZipFile(spec)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(f"{field}: {spec} is not a readable zip file: {exc}") from None
        names = sorted((n for n in archive.namelist() if Path(n).suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
        if not names:
            raise DataError(f"{field}: the zip {spec} holds no image file ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return [(Path(n).stem, partial(_read_member, archive, spec, n)) for n in names]
    if spec.suffix.lower() in IMAGE_SUFFIXES:
        return [(spec.stem, partial(_read_image, spec))]
    raise DataError(f"data.images: {spec} is not an image, a folder, a glob, a .zip or an .npz")


def _list_npz(spec: Path, npz_key: str) -> list[tuple[str, Callable[[], np.ndarray]]]:
    try:
        with np.load(spec, allow_pickle=False) as archive:
            if npz_key not in archive.files:
                raise DataError(f"data.images: {spec} has no array {npz_key!r}; it has {', '.join(archive.files)}")
            images = archive[npz_key]
            ids = archive["ids"] if "ids" in archive.files else np.arange(len(images))
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - numpy raises BadZipFile, ValueError, OSError, EOFError...
        raise DataError(f"data.images: {spec} is not a readable .npz: {type(exc).__name__}: {exc}") from None
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise DataError(f"data.images: {spec}[{npz_key!r}] must be uint8 [N, H, W(, C)], got {images.dtype} {tuple(images.shape)}")
    if ids.ndim != 1 or len(ids) != len(images):
        raise DataError(
            f"data.images: {spec} has {len(images)} images but {ids.size} ids; 'ids' must name every image once"
        )
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


# -- observations given directly ---------------------------------------------------------

TENSOR_SUFFIXES = {".npy", ".pt", ".pth", ".safetensors"}


def load_observations(
    spec: Path, output_shape: tuple[int, ...], *, select: str | None = None
) -> tuple[torch.Tensor, list[str]]:
    """The observations ``spec`` names, ``[N, *output_shape]``, and their names.

    ``output_shape`` is what the operator outputs for one image (``(C, H, W)`` for image-like
    measurements, ``(m,)`` for compressed sensing). Images must have exactly that size and
    channel count (an RGB file whose channels are equal counts as grey): a mismatch is an
    error naming both shapes, never a silent resize.
    """
    if spec.suffix.lower() in TENSOR_SUFFIXES:
        tensors, names = _read_measurements(spec, output_shape)
        kept = _apply_select(list(range(len(names))), select)
        return tensors[kept], [names[i] for i in kept]
    if len(output_shape) != 3:
        raise DataError(
            f"data.observation: {spec} holds images but the operator's measurements have shape "
            f"{list(output_shape)}, not an image; give the measurements as .npy, .pt or .safetensors"
        )
    found = _apply_select(list_images(spec, field="data.observation"), select)
    if not found:
        raise DataError(f"data.select {select!r} keeps no observation in {spec}")
    return torch.stack([_observed_image(name, read(), output_shape) for name, read in found]), [n for n, _ in found]


def _observed_image(name: str, array: np.ndarray, output_shape: tuple[int, ...]) -> torch.Tensor:
    channels, height, width = output_shape
    if array.ndim == 3 and channels == 1 and (array == array[..., :1]).all():
        array = array[..., 0]
    found = (1 if array.ndim == 2 else array.shape[2], array.shape[0], array.shape[1])
    if found != tuple(output_shape):
        raise DataError(
            f"data.observation: the image {name!r} has shape {list(found)} (C, H, W) but the operator "
            f"outputs {list(output_shape)}; give observations of exactly the operator's output size "
            "(check the generator's size and the operator's factor)"
        )
    return from_uint8(np.array(array))


def _read_measurements(spec: Path, output_shape: tuple[int, ...]) -> tuple[torch.Tensor, list[str]]:
    if not spec.is_file():
        raise DataError(f"data.observation: {spec} does not exist")
    suffix = spec.suffix.lower()
    try:
        if suffix == ".npy":
            values = torch.from_numpy(np.load(spec, allow_pickle=False))
        elif suffix == ".safetensors":
            from safetensors.torch import load_file

            values = _single_tensor(load_file(str(spec)), spec)
        else:
            from invprob.weights import _torch_load

            loaded = _torch_load(spec, "data.observation: measurement")
            values = loaded if isinstance(loaded, torch.Tensor) else _single_tensor(loaded, spec)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - numpy, safetensors and torch each raise their own
        raise DataError(f"data.observation: {spec} is not a readable tensor file: {exc}") from None
    values = values.to(torch.get_default_dtype())
    shape = tuple(output_shape)
    if tuple(values.shape) == shape:
        values = values.unsqueeze(0)
    if tuple(values.shape[1:]) != shape:
        raise DataError(
            f"data.observation: {spec} holds a tensor of shape {list(values.shape)} but the operator "
            f"outputs {list(shape)} per image; give [N, {', '.join(map(str, shape))}] or one "
            f"[{', '.join(map(str, shape))}]"
        )
    if len(values) == 1:
        return values, [spec.stem]
    return values, [f"{spec.stem}{index:04d}" for index in range(len(values))]


def _single_tensor(tensors: object, spec: Path) -> torch.Tensor:
    """The tensor of a file holding one (or one named ``observation``)."""
    if isinstance(tensors, dict):
        if "observation" in tensors:
            return tensors["observation"]
        if len(tensors) == 1:
            return next(iter(tensors.values()))
        keys = ", ".join(map(str, tensors))
        raise DataError(f"data.observation: {spec} holds several tensors ({keys}); name the one to use 'observation'")
    raise DataError(f"data.observation: {spec} holds a {type(tensors).__name__}, not a tensor")
