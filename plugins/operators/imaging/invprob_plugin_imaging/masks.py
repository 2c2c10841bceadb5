"""Inpainting: ``A(x) = M ⊙ x`` for a binary mask ``M`` with 1 = observed.

The mask has shape ``[1, 1, H, W]`` (the same pixels missing in every channel) or
``[1, C, H, W]`` (per-channel masks) and is shared by the whole batch. ``A`` is an
orthogonal projection, so ``A* = A``; the observation keeps the image shape, with zeros where
pixels are missing (the ILO convention).

The mask makers below return float masks ``[1, 1, H, W]`` (``[1, C, H, W]`` for per-channel
random masks); every random one draws on the CPU from the ``torch.Generator`` it is given
(``rng``, a CPU generator), so a seed gives the same mask whatever device the operator moves to.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

from invprob.operator import NoiseModel, Operator

Side = Literal["left", "right", "top", "bottom"]


class MaskOperator(Operator):
    """``A(x) = M ⊙ x`` with the mask ``M`` (1 = observed) stored as a buffer."""

    linear = True

    def __init__(self, mask: torch.Tensor, noise: NoiseModel | None = None):
        super().__init__(noise)
        if mask.dim() != 4 or mask.shape[0] != 1:
            raise ValueError(f"a mask must have shape [1, 1 or C, H, W], got {list(mask.shape)}")
        if not torch.all((mask == 0) | (mask == 1)):
            raise ValueError("a mask must contain only 0 (missing) and 1 (observed)")
        self.register_buffer("mask", mask.to(torch.get_default_dtype()))

    def A(self, x: torch.Tensor) -> torch.Tensor:
        _check_image(x, self.mask)
        return x * self.mask.to(x.dtype)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.A(y)

    def observed_mask(self) -> torch.Tensor:
        return self.mask

    def observed_fraction(self) -> float:
        """Fraction of observed entries of the mask."""
        return float(self.mask.mean())


def _check_image(x: torch.Tensor, mask: torch.Tensor) -> None:
    if x.dim() != 4 or x.shape[-2:] != mask.shape[-2:] or mask.shape[1] not in (1, x.shape[1]):
        raise ValueError(
            f"the inpainting mask has shape {list(mask.shape)} but the images have shape {list(x.shape)}; "
            "build the operator for the image size you solve for"
        )


def _full(height: int, width: int) -> torch.Tensor:
    return torch.ones(1, 1, height, width)


def box_mask(height: int, width: int, top: int, left: int, box_height: int, box_width: int) -> torch.Tensor:
    """A mask with the box ``[top, top + box_height) x [left, left + box_width)`` missing."""
    if box_height < 1 or box_width < 1:
        raise ValueError(f"the missing box must be at least 1 x 1 pixels, got {box_height} x {box_width}")
    if top < 0 or left < 0 or top + box_height > height or left + box_width > width:
        raise ValueError(
            f"the missing box rows {top}..{top + box_height - 1}, columns {left}..{left + box_width - 1} "
            f"does not fit in a {height} x {width} image; move or shrink it"
        )
    mask = _full(height, width)
    mask[..., top : top + box_height, left : left + box_width] = 0
    return mask


def center_box_mask(height: int, width: int, box_height: int, box_width: int) -> torch.Tensor:
    """A mask with a ``box_height x box_width`` box missing at the centre (rounded up-left)."""
    if box_height > height or box_width > width:
        raise ValueError(
            f"a {box_height} x {box_width} centre box does not fit in a {height} x {width} image; "
            "give a smaller size or a fraction"
        )
    return box_mask(height, width, (height - box_height) // 2, (width - box_width) // 2, box_height, box_width)


def center_box_size(height: int, width: int, fraction: float) -> tuple[int, int]:
    """Side lengths of a centre box covering ``fraction`` of each side (at least one pixel)."""
    return max(1, round(fraction * height)), max(1, round(fraction * width))


def half_mask(height: int, width: int, missing: Side) -> torch.Tensor:
    """A mask with one half missing: ``W // 2`` columns (left/right) or ``H // 2`` rows (top/bottom)."""
    mask = _full(height, width)
    if missing == "left":
        mask[..., :, : width // 2] = 0
    elif missing == "right":
        mask[..., :, width - width // 2 :] = 0
    elif missing == "top":
        mask[..., : height // 2, :] = 0
    elif missing == "bottom":
        mask[..., height - height // 2 :, :] = 0
    else:
        raise ValueError(f"missing half must be left, right, top or bottom, got {missing!r}")
    return mask


def random_pixel_mask(
    channels: int, height: int, width: int, observed: float, rng: torch.Generator, *, per_channel: bool = False
) -> torch.Tensor:
    """Exactly ``max(1, round(observed * N))`` of the ``N`` pixels observed, uniformly at random.

    ``N = H * W`` (one mask for all channels) or ``C * H * W`` with ``per_channel``. ILO draws
    each pixel independently with probability ``observed``, which has the same expected count;
    a fixed count makes "1% observed" mean 1% on every draw.
    """
    if not 0 < observed <= 1:
        raise ValueError(f"the observed fraction must be in (0, 1], got {observed}")
    planes = channels if per_channel else 1
    total = planes * height * width
    count = max(1, round(observed * total))
    chosen = torch.randperm(total, generator=rng)[:count]
    mask = torch.zeros(total)
    mask[chosen] = 1
    return mask.reshape(1, planes, height, width)


def pattern_mask(
    height: int, width: int, rng: torch.Generator, *, missing: float = 0.25, blob_size: float | None = None
) -> torch.Tensor:
    """Random blob-shaped holes covering ``round(missing * H * W)`` pixels (Yeh et al.'s "pattern").

    Yeh et al. (after Pathak et al.'s context encoders) use random pattern masks with about
    25% missing. We draw a coarse Gaussian field with one value per ``blob_size`` pixels
    (default ``max(H, W) / 6``), upsample it bicubically, and remove the pixels with the
    largest values: holes are smooth, irregular blobs and the missing count is exact.
    """
    if not 0 < missing < 1:
        raise ValueError(f"the missing fraction of a pattern mask must be in (0, 1), got {missing}")
    blob = blob_size if blob_size is not None else max(height, width) / 6
    if blob <= 0:
        raise ValueError(f"blob_size must be positive, got {blob}")
    coarse_h, coarse_w = math.ceil(height / blob) + 1, math.ceil(width / blob) + 1
    coarse = torch.randn(1, 1, coarse_h, coarse_w, generator=rng, dtype=torch.float64)
    field = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True).flatten()
    count = round(missing * height * width)
    mask = torch.ones(height * width)
    mask[torch.argsort(field, descending=True, stable=True)[:count]] = 0
    return mask.reshape(1, 1, height, width)
