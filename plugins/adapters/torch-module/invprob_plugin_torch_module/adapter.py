"""A user's plain ``nn.Module`` as an invprob generator: :func:`adapt_generator`.

The module maps a latent batch ``[B, *latent_shape]`` to images ``[B, C, H, W]``; the adapted
:class:`invprob.generator.Generator` declares the latent's shape and distribution (``normal``,
N(0, 1), or ``uniform``, U(-1, 1)), and maps the module's output range (``(-1, 1)``, a tanh
output, or ``(0, 1)``, a sigmoid output) to the [-1, 1] components work on. The module is run
once when adapted, and a latent shape, output shape, dtype or range that does not fit is an
error naming the module's class. The wrapped generator is one stage, so it splits at ``k = 0``
and ``k = 1`` only: CSGM, PULSE and the latent priors work with it; ILO's deeper layers need a
generator that lists its stages. Give it where a recipe dict takes its generator (a live
component, :mod:`invprob.user_modules`).
"""

from __future__ import annotations

import itertools
from typing import Literal

import torch
from torch import nn

from invprob.generator import IMAGE, Generator, LatentSpace, TensorStage


class _OutputRange(nn.Module):
    """Maps ``[low, high]`` to [-1, 1]."""

    def __init__(self, module: nn.Module, low: float, high: float):
        super().__init__()
        self.module = module
        self.low, self.high = float(low), float(high)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        image = self.module(z)
        if (self.low, self.high) == (-1.0, 1.0):
            return image
        return (image - self.low) * (2.0 / (self.high - self.low)) - 1.0


class AdaptedGenerator(Generator):
    """A user's ``nn.Module`` as a one-stage invprob generator (see :func:`adapt_generator`)."""

    def __init__(
        self,
        module: nn.Module,
        latent: LatentSpace,
        image_shape: tuple[int, int, int],
        output_range: tuple[float, float],
    ):
        super().__init__()
        self.network = _OutputRange(module, *output_range)
        self.latent_spaces = {latent.name: latent}
        self.image_shape = image_shape
        self.module_name = type(module).__name__

    @property
    def display_name(self) -> str:
        """Messages name the adapted module's class."""
        return self.module_name

    @property
    def stages(self) -> list[nn.Module]:
        return [TensorStage(self.network, self.primary_latent.name, IMAGE)]


OUTPUT_RANGE_SLACK = 0.01
"""How far (a fraction of the declared range's width) an adapted module's images may stray
outside its declared ``output_range`` when it is checked: an output layer without a squashing
activation overshoots a little; a wrong declaration (a tanh output declared ``(0, 1)``, a
0-255 output declared ``(-1, 1)``) misses by far more."""

PROBE_BATCH = 2
"""The latents the module is checked on: two, so that a module that drops the batch is seen."""


def adapt_generator(
    module: nn.Module,
    latent_shape: tuple[int, ...] | int,
    *,
    distribution: Literal["normal", "uniform"] = "normal",
    output_range: tuple[float, float] = (-1.0, 1.0),
    latent_name: str = "z",
) -> AdaptedGenerator:
    """``module`` (latents ``[B, *latent_shape]`` -> images ``[B, C, H, W]``) as an invprob generator.

    ``distribution`` is the one the module was trained with: ``"normal"`` (N(0, 1)) or
    ``"uniform"`` (U(-1, 1)); ``output_range`` the range of its images, mapped to [-1, 1]
    (``(0, 1)`` for a sigmoid output). The module is put in eval mode with gradients off, as a
    run uses every generator, and checked once: a forward of two sampled latents under
    ``no_grad`` must give a float ``[2, C, H, W]`` tensor with ``C`` = 1 or 3, of the
    module's dtype, finite, inside ``output_range`` (up to :data:`OUTPUT_RANGE_SLACK` of its
    width); its shape gives the generator's ``image_shape``. A mismatch is a ``ValueError``
    naming the module's class and what to change::

        G = invprob.adapt_generator(my_dcgan, latent_shape=(100, 1, 1), output_range=(-1, 1))
        invprob.run({..., "generator": G, "solver": {"type": "csgm", "params": {"steps": 500}}})
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"adapt_generator takes a torch.nn.Module, got {type(module).__name__}")
    shape = (latent_shape,) if isinstance(latent_shape, int) else tuple(int(s) for s in latent_shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"latent_shape must be positive sizes, got {latent_shape}")
    low, high = (float(v) for v in output_range)
    if not high > low:
        raise ValueError(f"output_range must be (low, high) with low < high, got {output_range}")
    latent = LatentSpace(latent_name, shape, distribution)
    module = module.eval().requires_grad_(False)
    return AdaptedGenerator(module, latent, _checked_image_shape(module, latent, (low, high)), (low, high))


def _checked_image_shape(module: nn.Module, latent: LatentSpace, output_range: tuple[float, float]) -> tuple[int, int, int]:
    """``(C, H, W)`` of the images ``module`` makes, checked as :func:`adapt_generator` says."""
    name = type(module).__name__
    tensor = next(itertools.chain(module.parameters(), module.buffers()), None)
    device = tensor.device if tensor is not None else torch.device("cpu")
    dtype = tensor.dtype if tensor is not None and tensor.is_floating_point() else torch.float32
    given = f"[B, {', '.join(map(str, latent.shape))}]"
    z = latent.sample(PROBE_BATCH, torch.Generator().manual_seed(0), device=device, dtype=dtype)
    try:
        with torch.no_grad():
            image = module(z)
    except Exception as exc:  # noqa: BLE001 - whatever the module raises, the latent's shape is the likely cause
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise ValueError(
            f"adapt_generator: {name} fails on latents {given} (latent_shape={latent.shape}): "
            f"{type(exc).__name__}: {reason}; give the latent_shape its forward takes (without the batch dimension)"
        ) from exc
    if not isinstance(image, torch.Tensor):
        raise ValueError(
            f"adapt_generator: {name} returned a {type(image).__name__} for latents {given}; its forward must "
            "return the images as one tensor [B, C, H, W]"
        )
    if image.dim() != 4 or image.shape[0] != PROBE_BATCH or image.shape[1] not in (1, 3):
        raise ValueError(
            f"adapt_generator: {name} must map latents {given} to images [B, C, H, W] with C = 1 or 3; for "
            f"{PROBE_BATCH} latents it returned {list(image.shape)}; reshape its output to [B, C, H, W] "
            "(keeping the batch dimension)"
        )
    if image.dtype != dtype:
        raise ValueError(
            f"adapt_generator: {name} returned {image.dtype} images for {dtype} latents; return floating-point "
            f"images of its own dtype ({dtype})"
        )
    if not torch.isfinite(image).all():
        raise ValueError(f"adapt_generator: {name} returned non-finite values (NaN or inf) for sampled latents; check its weights")
    low, high = output_range
    found_low, found_high = (float(v) for v in torch.aminmax(image))
    slack = OUTPUT_RANGE_SLACK * (high - low)
    if found_low < low - slack or found_high > high + slack:
        raise ValueError(
            f"adapt_generator: {name} made images in [{found_low:.4g}, {found_high:.4g}] but output_range="
            f"({low:g}, {high:g}) was declared; {_range_hint(found_low, found_high)}"
        )
    return tuple(int(s) for s in image.shape[1:])  # type: ignore[return-value]


def _range_hint(low: float, high: float) -> str:
    for declared, what in (((0, 1), "a sigmoid output"), ((-1, 1), "a tanh output"), ((0, 255), "0-255 values")):
        slack = OUTPUT_RANGE_SLACK * (declared[1] - declared[0])
        if low >= declared[0] - slack and high <= declared[1] + slack:
            return f"declare output_range={declared} ({what})"
    return "declare output_range=(low, high), the range its images are in"
