"""Training images from a folder, a zip of images or an ``.npz``, as one uint8 array in memory.

Every image has an id: the file stem when it is an integer (CelebA's ``182702.jpg``), else its
rank in sorted name order; for an ``.npz`` the ``ids`` array when present, else the row index.
``holdout_highest=N`` drops the N highest ids, so an evaluation split stays out of training.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass
class ImageSet:
    """``images`` uint8 ``[N, H, W, C]`` and their integer ``ids`` (same order)."""

    images: np.ndarray
    ids: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.images)


def load_images(
    source: str | Path, *, channels: int = 3, holdout_highest: int = 0, size: int | None = None
) -> ImageSet:
    """Read every image of ``source`` (folder, ``.zip`` or ``.npz``), minus the held-out ids.

    ``size`` resizes square images with a Lanczos filter when they are not ``size`` already.
    """
    source = Path(source).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"training data {source} does not exist; give an image folder, a .zip or an .npz")
    if source.suffix == ".npz":
        images, ids = _from_npz(source)
    elif source.suffix == ".zip":
        images, ids = _from_named_files(*_zip_members(source), channels=channels, size=size)
    elif source.is_dir():
        images, ids = _from_named_files(*_folder_members(source), channels=channels, size=size)
    else:
        raise ValueError(f"training data {source} is neither a folder, a .zip nor an .npz")
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[-1] != channels:
        raise ValueError(f"{source}: images have {images.shape[-1]} channels, the model expects {channels}")
    if size is not None and images.shape[1:3] != (size, size):
        images = np.stack([_resize(image, size) for image in images])
    order = np.argsort(ids, kind="stable")
    images, ids = images[order], ids[order]
    if holdout_highest:
        if holdout_highest >= len(ids):
            raise ValueError(f"holding out {holdout_highest} ids leaves no training images in {source} ({len(ids)} images)")
        images, ids = images[:-holdout_highest], ids[:-holdout_highest]
    if len(images) == 0:
        raise ValueError(f"no images found in {source} (looked for {', '.join(IMAGE_SUFFIXES)})")
    return ImageSet(np.ascontiguousarray(images), ids, str(source))


def _from_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            if "images" not in data:
                raise ValueError(f"{path} has no 'images' array (found: {', '.join(data.files)})")
            images = data["images"]
            ids = data["ids"] if "ids" in data else np.arange(len(images))
    except ValueError as exc:
        if "pickle" in str(exc):  # numpy's message proposes allow_pickle=True, which runs the pickle's code
            raise ValueError(f"{path} holds Python objects (a pickle), which are never loaded; save uint8 "
                             "arrays with numpy.savez") from None  # fmt: skip
        raise
    except Exception as exc:  # noqa: BLE001 - numpy raises BadZipFile, OSError, EOFError...
        raise ValueError(f"{path} is not a readable .npz: {type(exc).__name__}: {exc}") from None
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"{path}: 'images' must be uint8 [N, H, W, C], got {images.dtype} {tuple(images.shape)}")
    if np.ndim(ids) != 1 or len(ids) != len(images):
        raise ValueError(f"{path} has {len(images)} images but {np.size(ids)} ids; 'ids' must name every image once")
    return images, np.asarray(ids, dtype=np.int64)


def _zip_members(path: Path):
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path} is not a readable zip file: {exc}") from None
    names = [n for n in archive.namelist() if n.lower().endswith(IMAGE_SUFFIXES) and not n.startswith("__MACOSX")]

    def read(name: str) -> bytes:
        try:
            return archive.read(name)
        except Exception as exc:  # noqa: BLE001 - bad CRC, zlib.error, encrypted member...
            raise ValueError(f"{path}: member {name!r} cannot be read: {type(exc).__name__}: {exc}") from None

    read.where = lambda name: f"{path}: member {name!r}"  # type: ignore[attr-defined]
    return names, read


def _folder_members(path: Path):
    names = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return names, lambda name: (path / name).read_bytes()


def _from_named_files(names, read, *, channels: int, size: int | None) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    names = sorted(names)
    stems = [Path(n).stem for n in names]
    numeric = all(s.isdigit() for s in stems)
    ids = np.array([int(s) for s in stems] if numeric else range(len(names)), dtype=np.int64)
    mode = {1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise ValueError(f"only 1- or 3-channel images are supported, not {channels}")
    arrays = []
    where = getattr(read, "where", lambda name: name)
    for name in names:
        try:
            image = Image.open(io.BytesIO(read(name))).convert(mode)
        except (OSError, SyntaxError) as exc:  # PIL: UnidentifiedImageError, truncated files
            raise ValueError(f"{where(name)} is not a readable image: {exc}") from None
        array = np.asarray(image)
        arrays.append(_resize(array, size) if size is not None and array.shape[:2] != (size, size) else array)
    if len({a.shape for a in arrays}) > 1:
        raise ValueError("images have different sizes; pass --image-size to resize them")
    return np.stack(arrays) if arrays else np.zeros((0, 1, 1, channels), np.uint8), ids


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    squeeze = image.ndim == 3 and image.shape[-1] == 1
    pil = Image.fromarray(image[..., 0] if squeeze else image)
    out = np.asarray(pil.resize((size, size), Image.LANCZOS))
    return out[..., None] if squeeze else out
