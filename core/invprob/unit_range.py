"""The public image range: **[0, 1]** at the Python API, [-1, 1] inside.

Everything a user hands to or gets back from invprob's Python API is in [0, 1], torchvision's
and deepinv's range: images given as a tensor (``data.images``), a run's
``reconstructions``, ``ground_truth`` and ``observations``
(:class:`invprob.app.outputs.RunResult`), and the operators that ``invprob.build_operator``,
``invprob.build_component("operator", ...)`` and ``invprob_plugin_deepinv.from_deepinv`` return
(:class:`UnitRangeOperator`). Inside, every component -- generators, operators' ``A`` as
solvers call it, priors, losses, metrics -- works on ``x = 2 u - 1`` in [-1, 1]; a plugin
author meets only that range.

**Measurements** follow deepinv's convention. For an internal forward map ``A`` the public
measurement of a [0, 1] image ``u`` is ``(A(2 u - 1) + A(1)) / 2``, ``A(1)`` being the
measurement of a white image: for a linear ``A`` that is ``A(u)``, the same linear map with
the same adjoint (a mask, a blur, a downsampling act on [0, 1] images as on any image), and
noise acts on that scale (a Gaussian noise of std ``sigma`` in [-1, 1] units has std
``sigma / 2``).

**Tolerance.** A float image may overshoot [0, 1] by at most :data:`RANGE_TOLERANCE` =
1e-6 (eight float32 rounding steps at 1.0: what computing an image, say ``(x + 1) / 2`` or a
resize, can add); such values are clamped. Anything further out is refused with a
:class:`RangeError` that names the conversion to apply (``(x + 1) / 2`` for a tensor that
looks like [-1, 1], ``x / 255`` for one that looks like [0, 255]).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

RANGE_TOLERANCE = 1e-6
"""How far a float image may overshoot [0, 1] and still be taken (then clamped)."""


class RangeError(ValueError):
    """A tensor given as images is not in [0, 1]; the message names the conversion to apply."""


def _conversion(low: float, high: float) -> str:
    tol = RANGE_TOLERANCE
    if low >= -1 - tol and high <= 1 + tol:
        return "; they look like [-1, 1]: pass (x + 1) / 2"
    if low >= -tol and high <= 255 + tol:
        return "; they look like [0, 255]: pass x / 255"
    return "; rescale them to [0, 1]"


def check_unit_images(images: torch.Tensor, what: str) -> torch.Tensor:
    """``images`` (a float tensor) if it is in [0, 1] up to :data:`RANGE_TOLERANCE`, clamped to
    [0, 1]; else a :class:`RangeError` naming ``what`` and the conversion to apply.

    The clamp is an identity on values already in [0, 1], so gradients pass unchanged.
    """
    if not images.is_floating_point():
        raise RangeError(f"{what}: images are float tensors in [0, 1], got {images.dtype}")
    values = images.detach()
    if values.numel() == 0:
        return images
    if not torch.isfinite(values).all():
        raise RangeError(f"{what}: the images hold non-finite values (NaN or inf)")
    low, high = (float(v) for v in torch.aminmax(values))
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise RangeError(
            f"{what}: images must be in [0, 1] (invprob's public range), got values in "
            f"[{low:.4g}, {high:.4g}]{_conversion(low, high)}"
        )
    return images.clamp(0, 1) if low < 0 or high > 1 else images


def to_unit(images: torch.Tensor | list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    """Internal images in [-1, 1] (a tensor or a list of them) as [0, 1]: ``(x + 1) / 2``,
    clamped as the metrics and the saved PNGs clamp them (NaN stays NaN)."""
    if isinstance(images, list):
        return [to_unit(image) for image in images]  # type: ignore[misc]
    return ((images.detach() + 1) / 2).clamp(0, 1)


class WhiteMeasurement:
    """``A(1)``: the forward map's measurement of one white image shaped like ``like``
    (``[B, C, H, W]``), without gradients, computed once per image shape, dtype and device.
    The white image is 1 in [0, 1] and in [-1, 1]."""

    def __init__(self, forward: Any):
        self.forward = forward
        self.cache: dict[tuple[Any, ...], torch.Tensor] = {}

    def __call__(self, like: torch.Tensor) -> torch.Tensor:
        key = (tuple(like.shape[1:]), like.dtype, like.device)
        if key not in self.cache:
            with torch.no_grad():
                self.cache[key] = self.forward(torch.ones(1, *like.shape[1:], dtype=like.dtype, device=like.device))
        return self.cache[key]


def measurement_to_unit(operator: Any, y: torch.Tensor, image_shape: tuple[int, ...]) -> torch.Tensor:
    """An internal measurement ``y`` of images of ``image_shape`` in public units:
    ``(y + A(1)) / 2`` (module docstring)."""
    like = torch.empty(0, *image_shape, dtype=y.dtype, device=y.device)
    return (y.detach() + WhiteMeasurement(operator.A)(like)) / 2


class UnitRangeOperator(nn.Module):
    """An invprob operator acting on images in [0, 1], the public range.

    ``A(u) = (op.A(2 u - 1) + op.A(1)) / 2`` and ``forward(u, rng) = (op(2 u - 1, rng) +
    op.A(1)) / 2`` (module docstring); for a linear operator ``A`` is ``op.A`` itself and
    ``A_adjoint`` is ``op.A_adjoint``. Images outside [0, 1] are refused with the conversion
    to apply. ``operator`` is the wrapped invprob operator, on [-1, 1] as solvers use it (for
    a linear one, also the same map on any tensor, images or not). Given where a recipe
    takes an operator, the run uses ``operator``. ``image_shape`` is the ``(C, H, W)`` it was
    built for, when known.
    """

    def __init__(self, operator: nn.Module, image_shape: tuple[int, int, int] | None = None):
        super().__init__()
        if isinstance(operator, UnitRangeOperator):
            image_shape = image_shape or operator.image_shape
            operator = operator.operator
        self.operator = operator
        self.image_shape = tuple(int(s) for s in image_shape) if image_shape is not None else None
        self._white = WhiteMeasurement(self._internal_A)  # a bound method: the module still pickles

    @property
    def linear(self) -> bool:
        return bool(getattr(self.operator, "linear", False))

    @property
    def differentiable(self) -> bool:
        return bool(getattr(self.operator, "differentiable", True))

    def _internal_A(self, x: torch.Tensor) -> torch.Tensor:
        return self.operator.A(x)

    def _checked(self, u: torch.Tensor, where: str) -> torch.Tensor:
        return check_unit_images(u, f"{type(self.operator).__name__}.{where}")

    def A(self, u: torch.Tensor) -> torch.Tensor:
        """The noiseless measurement of images ``u`` ``[B, C, H, W]`` in [0, 1]."""
        u = self._checked(u, "A")
        if self.linear:
            return self.operator.A(u)
        return (self.operator.A(2 * u - 1) + self._white(u)) / 2

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """The adjoint of :meth:`A` (linear operators): ``op.A_adjoint``."""
        if not self.linear:
            raise NotImplementedError(f"{type(self.operator).__name__} is not linear: it has no adjoint")
        return self.operator.A_adjoint(y)

    def forward(self, u: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """The noisy measurement of ``u`` in [0, 1], the noise drawn from ``rng`` (a CPU generator)."""
        u = self._checked(u, "forward")
        return (self.operator(2 * u - 1, rng=rng) + self._white(u)) / 2

    def observed_mask(self) -> torch.Tensor | None:
        """The image-space mask (1 = observed) of a masking operator, else None."""
        return self.operator.observed_mask()

    def __mul__(self, inner: UnitRangeOperator) -> UnitRangeOperator:
        """``self * inner``: the composition of the two operators (``self(inner(u))`` inside)."""
        return UnitRangeOperator(self.operator * internal_operator(inner), getattr(inner, "image_shape", None))


def internal_operator(operator: Any) -> Any:
    """The invprob operator (on [-1, 1]) behind ``operator``: a :class:`UnitRangeOperator`'s
    ``operator``, else ``operator`` itself."""
    return operator.operator if isinstance(operator, UnitRangeOperator) else operator
