"""JPEG restoration (LCM, appendix H): compression as the corruption, a quadratic likelihood.

The JPEG round trip (Pillow, quality ``q``) is piecewise constant, so no gradient flows
through it. Following LCM appendix H, the observation is ``y = JPEG_q(x)`` and the fit is a
plain quadratic likelihood ``||x - y||^2`` ("corresponding to Gaussian noise corruption"):
the operator's differentiable map is ``A = I`` and the compression,
:class:`JpegCompression`, sits where the noise model goes: ``forward(x) = JPEG_q(A(x))``. So
``operator(x)`` makes observations (also as the last operator of a ``compose``), solvers
differentiate ``A`` as usual, and the non-differentiable part is marked
``differentiable = False`` on the compression module. It is deliberately not a
``NoiseModel``: it draws nothing, and the same image always compresses to the same bytes.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from torch import nn

from invprob.images import from_uint8, to_uint8

from .basic import Identity


class JpegCompression(nn.Module):
    """``y -> decode(encode_JPEG(y, quality))`` per image, through 8-bit RGB or greyscale.

    Called like a noise model, ``(y, rng)``, but deterministic (``rng`` is ignored) and not
    differentiable.
    """

    differentiable = False

    def __init__(self, quality: int):
        super().__init__()
        if not 1 <= quality <= 95:
            raise ValueError(f"JPEG quality must be in 1..95 (Pillow's useful range), got {quality}")
        self.quality = int(quality)

    def forward(self, y: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        if y.dim() != 4 or y.shape[1] not in (1, 3):
            raise ValueError(f"JPEG compresses grey or RGB images [B, 1 or 3, H, W], got {list(y.shape)}")
        images = [self._round_trip(image) for image in y.detach().to("cpu", torch.float64)]
        return torch.stack(images).to(device=y.device, dtype=y.dtype)

    def _round_trip(self, image: torch.Tensor) -> torch.Tensor:
        from PIL import Image

        pixels = to_uint8(image)
        pil = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
        buffer = io.BytesIO()
        pil.save(buffer, format="JPEG", quality=self.quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            return from_uint8(np.array(decoded.convert(pil.mode)))


class JpegOperator(Identity):
    """``y = JPEG_q(x)`` observed, ``A = I`` fitted (LCM appendix H); see the module docstring."""

    def __init__(self, quality: int):
        super().__init__(JpegCompression(quality))
        self.quality = int(quality)
