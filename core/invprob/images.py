"""Images in and out: the scales invprob meets, reading image files, writing tiles.

The kernel's one module for image I/O: a run reads its ``data.images`` with
:func:`load_images` and a trainer its training set with :func:`list_images`/:func:`load_images`;
:func:`save_tiles` writes a plain sample grid.

**Scales.** Every image inside invprob is a float tensor in [-1, 1] (``[C, H, W]`` or ``[B, C, H, W]``);
files and PIL speak uint8 ``[H, W, C]``. One grey level is ``2 / 255`` of the [-1, 1] range,
so a noise level ``sigma_255`` on the 0-255 scale is ``sigma_255 / 127.5`` in [-1, 1] units
(the ILO paper states noise on the 0-255 scale).

**Reading.** An image source (a recipe's ``data.images``: files, folders, globs, ``.npz`` arrays
or zips, or from Python a tensor) yields named images as float tensors ``[C, H, W]`` in [-1, 1].

**Reading by data type.** Files are decoded with Pillow, the photo's EXIF orientation
applied first (:func:`PIL.ImageOps.exif_transpose`), then scaled by what their samples are:
8-bit images by 255, 16-bit grey PNGs and TIFFs by 65535 (16-bit RGB PNGs keep their
brightness, at the 8-bit precision Pillow decodes them with), float images (``F``-mode TIFFs) taken
as intensities in [0, 1] (values outside are refused, never clipped silently). A tensor
given from Python is ``[B, C, H, W]`` (or ``[C, H, W]``) in **[0, 1]**, invprob's public
range (:mod:`invprob.unit_range`), or uint8 in [0, 255]; a tensor in [-1, 1] holds negative
values and is refused with a message that says to pass ``(x + 1) / 2``.

**Channels.** Grey images stay grey where the model allows it: with a generator the
channel count is the generator's; without one every image keeps its own (grey or RGB). A
conversion (RGB to grey by ITU-R 601 luma, grey repeated to RGB, alpha dropped) is said in
one line on the terminal.

**Fit policy** (``data.fit``), what is done to an image whose size is not the one the
generator produces:

- ``centre-crop`` (the default): crop the largest centred region with the target's aspect
  ratio, then resize it (bicubic, antialiased). The picture is never stretched; the borders
  of the long side are lost.
- ``pad``: pad the short side symmetrically with mid-grey to the target's aspect ratio, then
  resize. Nothing is lost; the grey bars count in the metrics.
- ``resize``: resize to the target size, ignoring the aspect ratio (the distortion is said).
- ``refuse``: an image of another size is an error naming it.

One line on the terminal says what was done to which images. Without a generator there is
no target size: every image keeps its own size (and the solver sees them in groups of equal
size), whatever the policy.
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import sys
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from invprob.recipe import DEFAULT_FIT, FitPolicy
from invprob.unit_range import RangeError, check_unit_images

GREY_LEVELS_PER_UNIT = 127.5
"""Grey levels (0-255 scale) per unit of the [-1, 1] scale."""


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """``[C, H, W]`` (or ``[B, C, H, W]``) in [-1, 1] -> uint8 ``[H, W, C]`` (``[B, H, W, C]``).

    Values are clamped to [-1, 1] and rounded to the nearest grey level.
    """
    values = ((image.detach().float().cpu().clamp(-1, 1) + 1) * GREY_LEVELS_PER_UNIT).round().to(torch.uint8)
    return values.movedim(-3, -1).numpy()


def to_uint16(image: torch.Tensor) -> np.ndarray:
    """``[C, H, W]`` (or ``[B, C, H, W]``) in [-1, 1] -> uint16 ``[H, W, C]`` (``[B, H, W, C]``):
    clamped and rounded to the nearest of 65536 levels (16-bit files keep what 8 bits lose)."""
    values = ((image.detach().double().cpu().clamp(-1, 1) + 1) * 32767.5).round().to(torch.int32)
    return values.movedim(-3, -1).numpy().astype(np.uint16)


def png16(array: np.ndarray) -> bytes:
    """A 16-bit PNG file of a uint16 ``[H, W]`` (grey) or ``[H, W, 3]`` (RGB) array.

    Written here because Pillow writes 16-bit grey but not 16-bit RGB PNGs: the samples
    big-endian, each row with filter 0 (none), one zlib-compressed IDAT chunk (PNG spec,
    sections 11-12)."""
    import struct
    import zlib

    if array.dtype != np.uint16 or not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)):
        raise ValueError(f"png16 takes uint16 [H, W] or [H, W, 3], got {array.dtype} {array.shape}")
    height, width = array.shape[:2]
    rows = np.ascontiguousarray(array.astype(">u2")).reshape(height, -1).view(np.uint8)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()  # filter byte 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, 0 if array.ndim == 2 else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def from_uint8(array: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``[H, W, C]`` (or ``[B, H, W, C]``, or ``[H, W]``) -> float32 ``[C, H, W]`` in [-1, 1]."""
    values = torch.as_tensor(np.asarray(array) if not isinstance(array, torch.Tensor) else array)
    if values.dim() == 2:
        values = values[:, :, None]
    return (values.float() / GREY_LEVELS_PER_UNIT - 1).movedim(-1, -3).contiguous()


def sigma_from_255(sigma_255: float) -> float:
    """``sigma_255 / 127.5``: a noise level on the 0-255 scale in [-1, 1] units."""
    if sigma_255 < 0:
        raise ValueError(f"noise sigma must be >= 0 on the 0-255 scale, got {sigma_255}")
    return float(sigma_255) / GREY_LEVELS_PER_UNIT


# -- reading image files ---------------------------------------------------------------------

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm"}


LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""ITU-R 601 luma weights: RGB to grey, as Pillow's ``convert("L")``."""


class DataError(ValueError):
    """The data section points at nothing usable; the message says what and where."""


@dataclass
class ImageBatch:
    """Ground-truth images in [-1, 1] and their names.

    ``images`` is one tensor ``[B, C, H, W]`` when every image has the same size (always the
    case with a target size), else a list of ``[C, H, W]`` tensors; ``bit_depths`` the bits
    per sample of each image's file (:attr:`Decoded.bits`).
    """

    images: torch.Tensor | list[torch.Tensor]
    names: list[str]
    bit_depths: list[int] = field(default_factory=list)


def _natural_key(name: str) -> tuple:
    stem = Path(name).stem
    return (0, int(stem), name) if stem.isdigit() else (1, 0, name)


def apply_select(items: list, select: str | None) -> list:
    if not select:
        return items
    if ":" not in select:
        index = int(select)
        return [items[index]]
    start, stop = (int(p) if p.strip() else None for p in select.split(":", 1))
    return items[slice(start, stop)]


# -- decoding ------------------------------------------------------------------------------


@dataclass
class Decoded:
    """One decoded image: float32 ``[H, W]`` (grey) or ``[H, W, 3]`` in [0, 1], what decoding
    changed (``"rotated by its EXIF orientation"``, ``"alpha dropped"``), and the bits per
    sample of the file (16 for a 16-bit PNG or TIFF: a run writes its images back in 16 bits)."""

    pixels: np.ndarray
    changes: list[str] = field(default_factory=list)
    bits: int = 8


def _pixels(image: Any, where: str) -> tuple[np.ndarray, list[str]]:
    """A Pillow image's samples as float32 in [0, 1], by its mode (bit depth)."""
    mode = image.mode
    changes: list[str] = []
    if mode.startswith("I;16"):
        return np.asarray(image, dtype=np.float32) / 65535.0, changes
    if mode == "I":  # Pillow opens 16-bit grey PNGs as 32-bit integers
        values = np.asarray(image, dtype=np.int64)
        if image.format in ("PNG", "TIFF") and values.min(initial=0) >= 0 and values.max(initial=0) <= 65535:
            return values.astype(np.float32) / 65535.0, changes
        raise DataError(
            f"{where} holds 32-bit integer samples (range {values.min()}..{values.max()}); save it as an 8- or "
            "16-bit image, or as a float TIFF with values in [0, 1]"
        )
    if mode == "F":
        values = np.asarray(image, dtype=np.float32)
        if not np.isfinite(values).all():
            raise DataError(f"{where} is a float image with non-finite values (NaN or inf)")
        low, high = float(values.min(initial=0.0)), float(values.max(initial=0.0))
        if low < -1e-6 or high > 1 + 1e-6:
            raise DataError(
                f"{where} is a float image with values in [{low:.4g}, {high:.4g}]; float images are read as "
                "intensities in [0, 1]: rescale it (or save it as 8/16-bit)"
            )
        return values.clip(0, 1), changes
    if mode in ("1", "L"):
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0, changes
    if mode == "LA" or (mode == "P" and "transparency" not in image.info and _grey_palette(image)):
        if mode == "LA":
            changes.append("alpha dropped")
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0, changes
    if mode in ("RGBA", "PA") or "transparency" in image.info:
        changes.append("alpha dropped")
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0, changes


def _grey_palette(image: Any) -> bool:
    palette = image.getpalette() or []
    triples = np.asarray(palette[: len(palette) // 3 * 3]).reshape(-1, 3)
    return bool(len(triples)) and bool((triples == triples[:, :1]).all())


def _sixteen_bit(image: Any) -> bool:
    """Whether an opened, not yet loaded, Pillow image stores 16-bit samples: a 16-bit grey
    mode, or a raw mode of 16 bits (Pillow decodes 16-bit RGB PNGs as 8-bit ``RGB``)."""
    if image.mode.startswith("I;16"):
        return True
    return any(isinstance(tile[3], str) and ";16" in tile[3] for tile in getattr(image, "tile", None) or ())


def decode_image(source: Path | bytes, name: str | None = None) -> Decoded:
    """Decode one image file (or its bytes; ``name`` says where they came from for errors) by
    its data type, with its EXIF orientation applied (see the module docstring)."""
    from PIL import Image, ImageOps

    where = name or str(source)
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as opened:
            bits = 16 if _sixteen_bit(opened) else 8
            orientation = opened.getexif().get(0x0112, 1) if hasattr(opened, "getexif") else 1
            image = ImageOps.exif_transpose(opened) if orientation not in (None, 1) else opened
            image.format = opened.format
            pixels, changes = _pixels(image, where)
            if orientation not in (None, 1):
                changes.insert(0, f"turned upright by its EXIF orientation {orientation}")
            return Decoded(np.ascontiguousarray(pixels), changes, bits)
    except DataError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:  # PIL's errors
        raise DataError(f"{where} is not a readable image: {type(exc).__name__}: {exc}") from None


def _read_member(archive: zipfile.ZipFile, spec: Path, member: str) -> Decoded:
    """Decode the image ``member`` of the zip ``spec``, naming the member when it is damaged."""
    where = f"{spec}: member {member!r}"
    try:
        data = archive.read(member)
    except Exception as exc:  # noqa: BLE001 - BadZipFile (bad CRC), zlib.error, EOFError, encrypted members...
        raise DataError(f"{where} cannot be read: {type(exc).__name__}: {exc}") from None
    return decode_image(data, where)


def check_image_tensor(value: torch.Tensor, field: str = "data.images") -> torch.Tensor:
    """A tensor given as images, as float ``[B, C, H, W]`` in [0, 1] (see the module docstring)."""
    if value.dim() == 3:
        value = value.unsqueeze(0)
    if value.dim() != 4 or value.shape[1] not in (1, 3) or 0 in value.shape:
        raise DataError(
            f"{field}: a tensor of images is [B, C, H, W] (or [C, H, W]) with C = 1 or 3, got shape {list(value.shape)}"
        )
    if value.dtype == torch.uint8:
        return value.float() / 255.0
    if not value.is_floating_point():
        raise DataError(f"{field}: a tensor of images is float in [0, 1] or uint8, got {value.dtype}")
    try:
        return check_unit_images(value.detach().float().cpu(), field)
    except RangeError as exc:
        raise DataError(str(exc)) from None


def _tensor_images(value: torch.Tensor) -> list[tuple[str, Callable[[], Decoded]]]:
    images = check_image_tensor(value)
    count = images.shape[0]

    def read(index: int) -> Decoded:
        pixels = images[index].movedim(0, -1).numpy()
        return Decoded(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)

    return [(f"tensor{i:04d}" if count > 1 else "tensor", partial(read, i)) for i in range(count)]


def list_images(
    spec: Path | torch.Tensor, npz_key: str = "images", *, field: str = "data.images"
) -> list[tuple[str, Callable[[], Decoded]]]:
    """``(name, read)`` for every image the ``images`` entry names, in sorted order.

    Reading is deferred so that ``select`` decodes only the images it keeps.
    """
    if isinstance(spec, torch.Tensor):
        return _tensor_images(spec)
    text = str(spec)
    if any(ch in text for ch in "*?["):
        files = [f for f in sorted(glob.glob(text, recursive=True), key=_natural_key) if Path(f).suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise DataError(f"{field}: the pattern {text!r} matches no image file")
        return [(Path(f).stem, partial(decode_image, Path(f))) for f in files]
    if not spec.exists():
        raise DataError(f"{field}: {spec} does not exist")
    if spec.is_dir():
        files = sorted((p for p in spec.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: _natural_key(p.name))
        if not files:
            raise DataError(f"{field}: the folder {spec} holds no image file ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return [(p.stem, partial(decode_image, p)) for p in files]
    if spec.suffix == ".npz":
        return _list_npz(spec, npz_key, field)
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
        return [(spec.stem, partial(decode_image, spec))]
    raise DataError(f"{field}: {spec} is not an image, a folder, a glob, a .zip or an .npz")


def _list_npz(spec: Path, npz_key: str, field: str) -> list[tuple[str, Callable[[], Decoded]]]:
    if not zipfile.is_zipfile(spec):  # numpy would take it for a pickle
        raise DataError(f"{field}: {spec} is not a readable .npz: it is not a zip archive; save the arrays with numpy.savez")
    try:
        with np.load(spec, allow_pickle=False) as archive:
            if npz_key not in archive.files:
                raise DataError(f"{field}: {spec} has no array {npz_key!r}; it has {', '.join(archive.files)}")
            images = archive[npz_key]
            ids = archive["ids"] if "ids" in archive.files else np.arange(len(images))
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - numpy raises BadZipFile, ValueError, OSError, EOFError...
        raise DataError(f"{field}: {spec} is not a readable .npz: {numpy_load_error(exc)}") from None
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise DataError(f"{field}: {spec}[{npz_key!r}] must be uint8 [N, H, W(, C)], got {images.dtype} {tuple(images.shape)}")
    if ids.ndim != 1 or len(ids) != len(images):
        raise DataError(
            f"{field}: {spec} has {len(images)} images but {ids.size} ids; 'ids' must name every image once"
        )
    order = np.argsort(ids, kind="stable")

    def read(i: int) -> Decoded:
        pixels = images[i].astype(np.float32) / 255.0
        return Decoded(pixels[..., 0] if pixels.ndim == 3 and pixels.shape[-1] == 1 else pixels[..., :3] if pixels.ndim == 3 else pixels)

    return [(str(ids[i]), partial(read, i)) for i in order]


# -- fitting to the model ------------------------------------------------------------------


def native_shape(decoded: Decoded) -> tuple[int, int, int]:
    """``(C, H, W)`` of a decoded image as it is (1 channel for grey, 3 for RGB)."""
    pixels = decoded.pixels
    return (1 if pixels.ndim == 2 else 3, pixels.shape[0], pixels.shape[1])


def _channels(pixels: np.ndarray, channels: int) -> tuple[np.ndarray, str | None]:
    """``[H, W, channels]`` from grey ``[H, W]`` or RGB ``[H, W, 3]``, and the conversion made."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.shape[-1] == channels:
        return pixels, None
    if channels == 1:
        if (pixels == pixels[..., :1]).all():
            return pixels[..., :1], None  # an RGB file that is grey
        return (pixels @ LUMA)[..., None], "converted from RGB to grey (luma)"
    return np.repeat(pixels, channels, axis=-1), "grey repeated to RGB"


def _crop_box(height: int, width: int, target_h: int, target_w: int) -> tuple[int, int, int, int]:
    """The largest centred ``(top, left, h, w)`` with the aspect ratio ``target_h : target_w``."""
    if height * target_w > width * target_h:  # too tall
        h = max(1, round(width * target_h / target_w))
        return ((height - h) // 2, 0, h, width)
    w = max(1, round(height * target_w / target_h))
    return (0, (width - w) // 2, height, w)


def _pad_sizes(height: int, width: int, target_h: int, target_w: int) -> tuple[int, int]:
    """The smallest ``(h, w)`` >= the image's with the aspect ratio ``target_h : target_w``."""
    if height * target_w > width * target_h:
        return height, max(width, round(height * target_w / target_h))
    return max(height, round(width * target_h / target_w)), width


def _resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``[C, h, w]`` in [0, 1] to ``[C, height, width]``: bicubic, antialiased, clamped."""
    if tuple(image.shape[-2:]) == (height, width):
        return image
    resized = torch.nn.functional.interpolate(
        image[None].double(), size=(height, width), mode="bicubic", align_corners=False, antialias=True
    )[0]
    return resized.clamp(0, 1).float()


def fit_image(
    pixels: np.ndarray,
    target: tuple[int, int] | None,
    channels: int | None,
    fit: FitPolicy = DEFAULT_FIT,
    generator: str | None = None,
) -> tuple[torch.Tensor, tuple[str, str] | None, str | None]:
    """One image ``[H, W(, 3)]`` in [0, 1] as ``[C, H', W']`` in [-1, 1], and what was done:
    ``(image, (size change, the image's own size) or None, channel change or None)``.

    ``target`` ``(H', W')`` is the size to reach with ``fit`` (None: keep the image's size);
    ``channels`` the channel count to reach (None: keep the image's own); ``generator`` the
    name of the generator whose size ``target`` is, said in the change and the errors.
    """
    own = 1 if pixels.ndim == 2 else pixels.shape[-1]
    pixels, channel_change = _channels(pixels, channels or own)
    image = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).movedim(-1, 0)
    height, width = image.shape[-2:]
    change = None
    if target is not None and (height, width) != tuple(target):
        target_h, target_w = target
        size, same_aspect = f"{target_w}x{target_h}", height * target_w == width * target_h
        maker = f"the generator {generator}" if generator else "the generator"
        if fit == "refuse":
            raise DataError(
                f"is {width}x{height} (W x H) but {maker} makes {size}, and data.fit is 'refuse'; use "
                "data.fit 'centre-crop' (keeps the aspect ratio), 'pad' or 'resize'"
            )
        if fit == "centre-crop" and not same_aspect:
            top, left, h, w = _crop_box(height, width, target_h, target_w)
            image = image[:, top : top + h, left : left + w]
            change = f"centre-cropped to the generator's aspect ratio, then resized to {size}"
        elif fit == "pad" and not same_aspect:
            h, w = _pad_sizes(height, width, target_h, target_w)
            top, left = (h - height) // 2, (w - width) // 2
            padded = torch.full((image.shape[0], h, w), 0.5)
            padded[:, top : top + height, left : left + width] = image
            image = padded
            change = f"padded with grey to the generator's aspect ratio, then resized to {size}"
        elif fit == "resize" and not same_aspect:
            change = f"resized to {size}, stretched: the aspect ratio changed"
        else:
            change = f"resized to {size} (same aspect ratio)"
        if generator:
            change += f"; {size} is what the generator {generator} makes"
        image = _resize(image, target_h, target_w)
    return image * 2 - 1, (change, f"{width}x{height}") if change else None, channel_change


def _summarise(what: dict[str, list[str]]) -> list[str]:
    """``{"resized to 64x64": ["a (640x640)", "b"]}`` as lines ``data: resized to 64x64: a (640x640), b``."""
    lines = []
    for change, names in what.items():
        shown = ", ".join(names[:6]) + (f", ... ({len(names) - 6} more)" if len(names) > 6 else "")
        count = f"{len(names)} image{'s' if len(names) != 1 else ''}"
        lines.append(f"data: {change}: {count}: {shown}")
    return lines


def load_images(
    spec: Path | torch.Tensor,
    image_shape: tuple[int, int, int] | None,
    *,
    select: str | None = None,
    npz_key: str = "images",
    fit: FitPolicy = DEFAULT_FIT,
    channels: int | None = None,
    say: Callable[[str], None] | None = None,
    generator: str | None = None,
) -> ImageBatch:
    """The images named by ``spec`` (after ``select``), fitted to ``image_shape``.

    With ``image_shape`` ``(C, H, W)`` (a generator's) every image is fitted to ``H x W`` by
    the ``fit`` policy and converted to ``C`` channels: one batch tensor. With ``None`` each
    image keeps its size, and its channels unless ``channels`` is given. What was done is said
    through ``say`` (default: one line per kind of change on stderr); ``generator`` names the generator whose size ``image_shape`` is.
    """
    found = list_images(spec, npz_key)
    kept = apply_select(found, select)
    if not kept:
        raise DataError(f"data.select {select!r} keeps none of the {len(found)} images in {_where(spec)}")
    target = tuple(image_shape[1:]) if image_shape is not None else None
    want_channels = image_shape[0] if image_shape is not None else channels
    tensors, changes, bits = [], {}, []
    for name, read in kept:
        decoded = read()
        bits.append(decoded.bits)
        try:
            image, size_change, channel_change = fit_image(decoded.pixels, target, want_channels, fit, generator)  # type: ignore[arg-type]
        except DataError as exc:
            raise DataError(f"data.images: the image {name!r} {exc}") from None
        if size_change:
            changes.setdefault(size_change[0], []).append(f"{name} ({size_change[1]})")
        for change in (*decoded.changes, channel_change):
            if change:
                changes.setdefault(change, []).append(name)
        tensors.append(image)
    if want_channels is not None:
        reason = "the generator makes" if image_shape is not None else "the operator takes"
        for key in [k for k in changes if k.startswith(("converted from RGB", "grey repeated"))]:
            changes[f"{key} ({reason} {want_channels}-channel images)"] = changes.pop(key)
    emit = say if say is not None else (lambda line: print(line, file=sys.stderr, flush=True))
    for line in _summarise(changes):
        emit(line)
    same = len({tuple(t.shape) for t in tensors}) == 1
    images: torch.Tensor | list[torch.Tensor] = torch.stack(tensors) if same else tensors
    return ImageBatch(images, [name for name, _ in kept], bits)


def _where(spec: Path | torch.Tensor) -> str:
    return f"the tensor of {spec.shape[0] if spec.dim() == 4 else 1} images" if isinstance(spec, torch.Tensor) else str(spec)


def numpy_load_error(exc: BaseException) -> str:
    """Why ``np.load(..., allow_pickle=False)`` refused a file, in words that never suggest
    loading it unsafely (numpy's own message proposes ``allow_pickle=True``, which runs the
    code a pickle holds)."""
    if "pickle" in str(exc):
        return "it holds Python objects (a pickle), which invprob never loads; save a numeric array with numpy.save/savez"
    return f"{type(exc).__name__}: {exc}"


# -- writing ---------------------------------------------------------------------------------


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


def tile(image: torch.Tensor, *, grey_as_rgb: bool) -> np.ndarray:
    """An image ``[C, H, W]`` in [-1, 1] as uint8 ``[H, W, 3]`` (grey repeated when ``grey_as_rgb``)
    or ``[H, W]`` (grey) / ``[H, W, 3]``; an image without a finite value is grey."""
    array = to_uint8(torch.nan_to_num(image.detach(), nan=0.0))  # an image without a finite value is grey
    if array.shape[-1] == 1:
        return np.repeat(array, 3, axis=-1) if grey_as_rgb else array[..., 0]
    return array


def save_tiles(columns: Sequence[torch.Tensor | Sequence[torch.Tensor] | None], path: Path, padding: int = 2) -> None:
    """A plain PNG of tiles, no labels: one row per image, one column per tensor (a trainer's
    sample grid; a run's labelled ``grid.png`` is the application's).

    A column is a batch ``[B, C, H, W]`` or a list of ``[C, H, W]`` images of several sizes
    (each cell is then as large as the largest image of its row and column).
    """
    from PIL import Image

    present = [c for c in columns if c is not None]
    rows = len(present[0])
    heights = [max(int(column[row].shape[-2]) for column in present) for row in range(rows)]
    widths = [max(int(column[row].shape[-1]) for row in range(rows)) for column in present]
    height = max(heights)
    tops = np.cumsum([padding] + [h + padding for h in heights])
    lefts = np.cumsum([padding] + [w + padding for w in widths])
    canvas = np.full((int(tops[-1]), int(lefts[-1]), 3), 255, np.uint8)
    for col, tensor in enumerate(present):
        for row in range(rows):
            cell = tile(tensor[row], grey_as_rgb=True)
            y, x = int(tops[row]), int(lefts[col])
            canvas[y : y + cell.shape[0], x : x + cell.shape[1]] = cell
    scale = max(1, 256 // max(height, 1))
    image = Image.fromarray(canvas)
    if scale > 1:
        image = image.resize((canvas.shape[1] * scale, canvas.shape[0] * scale), Image.Resampling.NEAREST)
    with atomic_path(path) as tmp:
        image.save(tmp)
