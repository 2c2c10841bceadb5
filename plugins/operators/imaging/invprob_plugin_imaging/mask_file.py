"""Reading an inpainting mask from an image file of any size and mode.

Which pixels are observed:

- If the file has transparency (RGBA, LA, PA, or a palette with a transparent colour) and at
  least one pixel is not fully opaque, the **alpha channel** decides: opaque = observed,
  transparent = missing. This is what you get by erasing the holes of a picture in an editor.
- Otherwise the **brightness** decides (greyscale value, or ITU-R 601 luma of RGB/palette
  colours): white = observed, black = missing, the same 1 = observed convention as the
  masks invprob writes. 16-bit greyscale is scaled by 65535, float ("F") files are read as is.

A value ``v`` in [0, 1] is observed when ``v >= threshold`` (default 0.5). Masks drawn with
the opposite convention (white = hole, as in LaMa or Places2) need ``invert: true``. The mask
is resized to the image with nearest-neighbour sampling, so it stays binary.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


def read_mask_values(path: str | Path) -> np.ndarray:
    """The per-pixel observedness in [0, 1] of a mask file, at the file's own size."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mask file not found: {path}")
    with Image.open(path) as image:
        image.load()
        if _has_transparency(image):
            alpha = np.asarray(image.convert("RGBA"))[..., 3]
            if alpha.min() < 255:
                return alpha.astype(np.float32) / 255.0
        if image.mode in _SIXTEEN_BIT_MODES:
            return np.asarray(image, dtype=np.float32) / 65535.0
        if image.mode == "F":
            return np.asarray(image, dtype=np.float32)
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def _has_transparency(image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )


def mask_from_file(
    path: str | Path, height: int, width: int, *, threshold: float = 0.5, invert: bool = False
) -> torch.Tensor:
    """The binary mask ``[1, 1, height, width]`` (1 = observed) read from ``path``."""
    from PIL import Image

    if not 0 <= threshold <= 1:
        raise ValueError(f"the mask threshold must be in [0, 1], got {threshold}")
    values = read_mask_values(path)
    resized = np.asarray(
        Image.fromarray(values.astype(np.float32)).resize((width, height), Image.NEAREST)
    )
    observed = resized >= threshold
    if invert:
        observed = ~observed
    if not observed.any():
        raise ValueError(
            f"the mask file {path} observes no pixel (threshold {threshold}, invert {invert}); "
            "white or opaque means observed: set invert: true if your file marks holes in white"
        )
    return torch.from_numpy(observed.astype(np.float32)).reshape(1, 1, height, width)
