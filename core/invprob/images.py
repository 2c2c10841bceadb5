"""Conversions between the image scales invprob meets: [-1, 1] tensors, uint8 arrays, 0-255 sigmas.

Every image inside invprob is a float tensor in [-1, 1] (``[C, H, W]`` or ``[B, C, H, W]``);
files and PIL speak uint8 ``[H, W, C]``. One grey level is ``2 / 255`` of the [-1, 1] range,
so a noise level ``sigma_255`` on the 0-255 scale is ``sigma_255 / 127.5`` in [-1, 1] units
(the ILO paper states noise on the 0-255 scale).
"""

from __future__ import annotations

import numpy as np
import torch

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
