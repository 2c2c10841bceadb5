"""Random streams of a run: one seed per named stream, and draws that match on every device.

Every random choice of a run (masks, noise, initial latents, samples) comes from its own
stream, a CPU ``torch.Generator`` seeded with ``stream_seed(seed, name)``: a hash of the
recipe seed and the stream's name, so that no two streams of one run, or of two runs in a
seed sweep, ever share a seed (adding offsets made run k's mask stream run k-2's noise
stream).

Draws are made on the CPU and then moved, so the same seed gives the same numbers on CPU and
on CUDA (CUDA generators draw different numbers from the same seed).
"""

from __future__ import annotations

import hashlib

import torch


def stream_seed(seed: int, name: str) -> int:
    """A 63-bit seed for the stream ``name`` of a run seeded with ``seed``."""
    digest = hashlib.sha256(f"{int(seed)}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def make_rng(seed: int, name: str | None = None) -> torch.Generator:
    """A CPU ``torch.Generator`` for stream ``name`` (or seeded with ``seed`` itself when None)."""
    rng = torch.Generator(device="cpu")
    rng.manual_seed(int(seed) if name is None else stream_seed(seed, name))
    return rng


def randn(
    shape: tuple[int, ...] | torch.Size,
    rng: torch.Generator | None,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Standard normal draws made with ``rng`` on its own device, then moved to ``device``."""
    return _draw(torch.randn, shape, rng, device, dtype)


def rand(
    shape: tuple[int, ...] | torch.Size,
    rng: torch.Generator | None,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """U(0, 1) draws made with ``rng`` on its own device, then moved to ``device``."""
    return _draw(torch.rand, shape, rng, device, dtype)


def _draw(sample, shape, rng: torch.Generator | None, device, dtype: torch.dtype) -> torch.Tensor:
    draw_on = rng.device if rng is not None else torch.device("cpu")
    return sample(tuple(shape), generator=rng, device=draw_on, dtype=dtype).to(device or draw_on)
