"""deepinv's physics as invprob operators, and invprob operators as deepinv physics.

deepinv images are in [0, 1], as are invprob's at its public API; invprob's components work on
[-1, 1] inside: ``x = 2 u - 1`` (:mod:`invprob.unit_range`). The adapter is that value-range
conversion, carried through to the measurements and the noise. :func:`from_deepinv` returns
the physics as a :class:`~invprob.unit_range.UnitRangeOperator` (on [0, 1], the physics' own
map) around a :class:`DeepinvOperator` (on [-1, 1], what solvers call); what follows is what
the latter does.

**Measurements.** Let ``A_d`` be deepinv's forward map and ``1`` the white image. A deepinv
measurement ``y_d = A_d(u)`` and the invprob measurement ``y`` of the same scene are related by

    y = 2 y_d - A_d(1),        y_d = (y + A_d(1)) / 2,

so that an image-like measurement (a masked, blurred or downsampled image) is in [-1, 1] as
invprob's own are, and any measurement keeps its units up to that affine map. For a *linear*
``A_d`` the map of images is then ``A(x) = 2 A_d((x + 1) / 2) - A_d(1) = A_d(x)``: the same
linear operator, with the same adjoint, so invprob's adjointness checks hold unchanged. A
non-linear ``A_d`` is used through the formula.

**Noise.** deepinv's noise model acts on ``y_d`` (its ``sigma`` is in [0, 1] units, half of
invprob's): the adapted noise is ``y -> 2 noise_d((y + A_d(1)) / 2) - A_d(1)``, so a
``GaussianNoise(sigma=0.05)`` becomes noise of std 0.1 in invprob units, and Poisson noise
stays Poisson on deepinv's intensities. invprob seeds noise with a ``torch.Generator``:
the adapter draws a seed from it and passes it as deepinv's ``seed=`` argument, so one run
seed gives one observation.

Only deepinv's documented interface is used (``A``, ``A_adjoint``, ``noise_model``, and
``deepinv.physics.LinearPhysics``/``Physics`` for the other direction); deepinv itself is
imported only by :func:`to_deepinv` without ``physics_class``. Example (see this
distribution's ``README.md``)::

    import deepinv as dinv
    from invprob_plugin_deepinv import from_deepinv

    physics = dinv.physics.Inpainting(img_size=(3, 64, 64), mask=0.5, noise_model=dinv.physics.GaussianNoise(0.02))
    operator = from_deepinv(physics, image_shape=(3, 64, 64))   # acts on [0, 1] images, as physics does
    invprob.run({..., "operator": operator})   # the run uses operator.operator, on [-1, 1]
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from invprob.operator import NoiseModel, Operator
from invprob.seeding import make_rng
from invprob.unit_range import UnitRangeOperator, WhiteMeasurement, internal_operator


def _is_linear(physics: Any) -> bool:
    return any(cls.__name__ == "LinearPhysics" for cls in type(physics).__mro__)


def _seed_from(rng: torch.Generator | None) -> int | None:
    return None if rng is None else int(torch.randint(0, 2**62, (), generator=rng))


def _call_noise(noise_model: Any, y: torch.Tensor, seed: int | None) -> torch.Tensor:
    """deepinv's ``noise_model(y, seed=...)``; models that take no ``seed`` are called without.

    deepinv ignores ``seed`` (with a warning) in a noise model built without ``rng``: such a
    model gets a generator on ``y``'s device for the call, and is left as it was after it.
    """
    try:
        takes_seed = "seed" in inspect.signature(noise_model.forward if isinstance(noise_model, nn.Module) else noise_model).parameters
    except (TypeError, ValueError):
        takes_seed = False
    if not takes_seed or seed is None:
        return noise_model(y)
    lent = hasattr(noise_model, "rng") and noise_model.rng is None
    if lent:
        noise_model.rng = torch.Generator(device=y.device)
    try:
        return noise_model(y, seed=seed)
    finally:
        if lent:
            noise_model.rng = None


class _DeepinvNoise(NoiseModel):
    """deepinv's noise model in invprob units: ``y -> 2 noise_d((y + A_d(1)) / 2) - A_d(1)``."""

    def __init__(self, noise_model: Any, white_of: Any):
        super().__init__()
        self.noise_model = noise_model
        self._white_of = white_of  # y -> A_d(1) for measurements shaped like y

    def forward(self, y: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        if self.noise_model is None:
            return y
        white = self._white_of(y)
        return 2 * _call_noise(self.noise_model, (y + white) / 2, _seed_from(rng)) - white


class DeepinvOperator(Operator):
    """A deepinv physics as an invprob :class:`~invprob.operator.Operator` (module docstring).

    ``image_shape`` ``(C, H, W)`` is the shape of the images it is applied to, used to find
    ``A_d(1)`` for the measurement conversions; without it the first image seen sets it.
    """

    def __init__(self, physics: Any, image_shape: tuple[int, int, int] | None = None, linear: bool | None = None):
        super().__init__()
        self.physics = physics
        self.linear = _is_linear(physics) if linear is None else linear
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        self._white = WhiteMeasurement(physics.A)
        self.noise = _DeepinvNoise(getattr(physics, "noise_model", None), self._white_for_measurement)

    def white(self, like_image: torch.Tensor) -> torch.Tensor:
        """``A_d(1)``: deepinv's measurement of a white image shaped like ``like_image``."""
        return self._white(like_image)

    def _white_for_measurement(self, y: torch.Tensor) -> torch.Tensor:
        if self.image_shape is None:
            raise ValueError(
                "from_deepinv(physics) needs image_shape=(C, H, W) to convert measurements before A has seen an image"
            )
        return self._white(torch.zeros(1, *self.image_shape, dtype=y.dtype, device=y.device))

    def A(self, x: torch.Tensor) -> torch.Tensor:
        if self.image_shape is None:
            self.image_shape = tuple(x.shape[1:])
        if self.linear:
            return self.physics.A(x)
        return 2 * self.physics.A((x + 1) / 2) - self._white(x)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        if not self.linear:
            return super().A_adjoint(y)
        return self.physics.A_adjoint(y)

    def observed_mask(self) -> torch.Tensor | None:
        mask = getattr(self.physics, "mask", None)
        if isinstance(mask, torch.Tensor) and type(self.physics).__name__ == "Inpainting":
            return mask if mask.dim() == 4 else mask[None]
        return None

    def from_deepinv_measurement(self, y_d: torch.Tensor) -> torch.Tensor:
        """A deepinv measurement (of a [0, 1] image) in invprob units: ``2 y_d - A_d(1)``."""
        return 2 * y_d - self._white_for_measurement(y_d)

    def to_deepinv_measurement(self, y: torch.Tensor) -> torch.Tensor:
        """An invprob measurement in deepinv units: ``(y + A_d(1)) / 2``."""
        return (y + self._white_for_measurement(y)) / 2


def from_deepinv(
    physics: Any, *, image_shape: tuple[int, int, int] | None = None, linear: bool | None = None
) -> UnitRangeOperator:
    """Use a deepinv physics (``deepinv.physics.Physics``: ``A``, ``A_adjoint``, ``noise_model``)
    as an invprob operator; linear when it is a ``LinearPhysics`` (or ``linear=True``).

    The result acts on [0, 1] images, invprob's public range, as the physics does (its ``A``
    and noisy ``forward`` are the physics' own, up to rounding); a recipe given it runs its
    ``operator``, the :class:`DeepinvOperator` on [-1, 1] (module docstring)."""
    if not callable(getattr(physics, "A", None)):
        raise TypeError(f"from_deepinv takes a deepinv physics (with A, A_adjoint, noise_model), got {type(physics).__name__}")
    return UnitRangeOperator(DeepinvOperator(physics, image_shape, linear), image_shape)


class _InvprobNoiseForDeepinv(nn.Module):
    """invprob noise in deepinv units: ``y_d -> (noise((2 y_d - A(1))) + A(1)) / 2``; ``seed``
    seeds a fresh invprob stream (deepinv's convention)."""

    def __init__(self, operator: Operator, white: WhiteMeasurement, image_shape: tuple[int, int, int]):
        super().__init__()
        self.operator = operator
        self._white = white
        self.image_shape = image_shape

    def forward(self, y_d: torch.Tensor, seed: int | None = None, **kwargs: Any) -> torch.Tensor:
        white = self._white(torch.zeros(1, *self.image_shape, dtype=y_d.dtype, device=y_d.device))
        rng = make_rng(seed) if seed is not None else None
        return (self.operator.noise(2 * y_d - white, rng) + white) / 2


def to_deepinv(
    operator: Operator | UnitRangeOperator, image_shape: tuple[int, int, int], *, physics_class: type | None = None
) -> Any:
    """An invprob operator (as ``invprob.build_operator`` returns it, or a plugin's
    :class:`~invprob.operator.Operator`) as a deepinv physics acting on [0, 1] images of
    ``image_shape``: the same map as the public operator's.

    Linear operators become a ``deepinv.physics.LinearPhysics`` with ``A = operator.A`` and
    ``A_adjoint = operator.A_adjoint`` (the same linear map: module docstring), others a
    ``Physics`` with ``A(u) = (operator.A(2 u - 1) + operator.A(1)) / 2``; the noise is the
    operator's, converted. ``physics_class`` replaces deepinv's class (tests without deepinv).
    """
    operator = internal_operator(operator)
    white = WhiteMeasurement(lambda ones: operator.A(2 * ones - 1))  # invprob's A(1): the white image in [-1, 1] is 1
    if physics_class is None:
        try:
            from deepinv.physics import LinearPhysics, Physics
        except ImportError as exc:
            raise ImportError("to_deepinv needs deepinv: pip install deepinv (it requires torchvision)") from exc
        physics_class = LinearPhysics if operator.linear else Physics
    noise = _InvprobNoiseForDeepinv(operator, white, tuple(image_shape))

    def white_like(u: torch.Tensor) -> torch.Tensor:
        return white(u)

    if operator.linear:
        return physics_class(A=operator.A, A_adjoint=operator.A_adjoint, noise_model=noise)
    return physics_class(A=lambda u: (operator.A(2 * u - 1) + white_like(u)) / 2, noise_model=noise)
