"""Compressed sensing forward models over the flattened image (``n = C * H * W``).

- :class:`GaussianSensing`: ``y = A x`` with a dense ``m x n`` matrix of i.i.d. ``N(0, 1/m)``
  entries (Bora et al.'s CSGM setting). Memory ``4 m n`` bytes: only for small images.
- :class:`CirculantSensing`: ``y = S_m C_g D x`` (ILO, section 3.4), memory O(n), FFT time
  ``O(n log n)``; the maths is in :mod:`invprob.ops` (the core's custom ops, which a kernel
  plugin may speed up).

Both map ``[B, C, H, W]`` to ``[B, m]`` and back with the exact adjoint.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from invprob.operator import NoiseModel, Operator
from invprob.ops import circulant_sense, circulant_sense_adjoint, spectrum_of_first_row

DEFAULT_MAX_MATRIX_BYTES = 2**30


def measurement_count(n: int, m: int | None, fraction: float | None) -> int:
    """``m`` itself, or ``round(fraction * n)`` (at least 1), checked against ``n``."""
    if (m is None) == (fraction is None):
        raise ValueError("give exactly one of m (number of measurements) and fraction (m / n)")
    if m is None:
        if not 0 < fraction <= 1:
            raise ValueError(f"the measurement fraction m / n must be in (0, 1], got {fraction}")
        m = max(1, round(fraction * n))
    if m < 1:
        raise ValueError(f"the number of measurements m must be at least 1, got {m}")
    if m > n:
        raise ValueError(
            f"m = {m} measurements exceed the signal dimension n = C*H*W = {n}; "
            "compressed sensing takes m <= n (use fraction <= 1)"
        )
    return m


class _FlatSensing(Operator):
    """Shared shape handling: images ``[B, *image_shape]`` to measurements ``[B, m]``."""

    linear = True

    def __init__(self, image_shape: tuple[int, int, int], m: int, noise: NoiseModel | None):
        super().__init__(noise)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.n = math.prod(self.image_shape)
        self.m = m

    def _flatten(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(
                f"{type(self).__name__} was built for images of shape {self.image_shape}, "
                f"got {tuple(x.shape[1:])}"
            )
        return x.reshape(x.shape[0], self.n)

    def _unflatten(self, x_flat: torch.Tensor) -> torch.Tensor:
        return x_flat.reshape(x_flat.shape[0], *self.image_shape)

    def _check_measurements(self, y: torch.Tensor) -> None:
        if y.dim() != 2 or y.shape[1] != self.m:
            raise ValueError(f"{type(self).__name__} expects measurements [B, {self.m}], got {list(y.shape)}")


class GaussianSensing(_FlatSensing):
    """``y = A vec(x)``, ``A`` dense ``m x n`` with i.i.d. ``N(0, 1/m)`` entries (a buffer)."""

    def __init__(self, matrix: torch.Tensor, image_shape: tuple[int, int, int], noise: NoiseModel | None = None):
        super().__init__(image_shape, matrix.shape[0], noise)
        if matrix.shape[1] != self.n:
            raise ValueError(f"the sensing matrix has {matrix.shape[1]} columns, the images {self.n} entries")
        self.register_buffer("matrix", matrix)

    @classmethod
    def random(
        cls,
        image_shape: tuple[int, int, int],
        m: int,
        rng: torch.Generator,
        *,
        max_matrix_bytes: int = DEFAULT_MAX_MATRIX_BYTES,
        noise: NoiseModel | None = None,
    ) -> GaussianSensing:
        """Draw ``A`` from ``rng``; refuse matrices above ``max_matrix_bytes`` (float32)."""
        n = math.prod(image_shape)
        m = measurement_count(n, m, None)
        needed = 4 * m * n
        if needed > max_matrix_bytes:
            raise ValueError(
                f"cs-gaussian needs a dense {m} x {n} float32 matrix ({needed / 2**30:.2f} GiB), above the "
                f"limit max_matrix_bytes = {max_matrix_bytes} ({max_matrix_bytes / 2**30:.2f} GiB); use "
                "cs-circulant, which senses with FFTs in O(n) memory, or raise max_matrix_bytes"
            )
        matrix = torch.randn(m, n, generator=rng, device=rng.device) / math.sqrt(m)
        return cls(matrix, image_shape, noise)

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return self._flatten(x) @ self.matrix.to(x.dtype).T

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        self._check_measurements(y)
        return self._unflatten(y @ self.matrix.to(y.dtype))


class CirculantSensing(_FlatSensing):
    """``y = S_m C_g D vec(x)``: partial circulant sensing with random signs (ILO, sec. 3.4).

    ``g`` is the first row of ``C_g`` (``C_g[i, j] = g[(j - i) mod n]``, see
    :mod:`invprob.ops`), ``signs`` the diagonal of ``D``, ``rows`` the kept entries (None: the
    first ``m``). Buffers: ``g_fft`` (the half spectrum of ``g``, computed once), ``signs``
    and ``rows``. Example::

        op = CirculantSensing.random((3, 1024, 1024), m=314573, rng=torch.Generator())
        y = op.A(x)             # [B, 314573]
        x_back = op.A_adjoint(y)  # [B, 3, 1024, 1024]
    """

    def __init__(
        self,
        g: torch.Tensor,
        signs: torch.Tensor,
        image_shape: tuple[int, int, int],
        m: int,
        rows: torch.Tensor | None = None,
        noise: NoiseModel | None = None,
    ):
        super().__init__(image_shape, m, noise)
        if g.shape != (self.n,) or signs.shape != (self.n,):
            raise ValueError(f"g and signs must be vectors of length n = {self.n}, got {list(g.shape)}, {list(signs.shape)}")
        measurement_count(self.n, m, None)
        if rows is not None:
            if rows.shape != (m,):
                raise ValueError(f"rows must hold m = {m} indices, got shape {list(rows.shape)}")
            rows = rows.to(torch.int64)
        self.register_buffer("g_fft", spectrum_of_first_row(g))
        self.register_buffer("signs", signs.to(g.dtype))
        self.register_buffer("rows", rows)

    @classmethod
    def random(
        cls,
        image_shape: tuple[int, int, int],
        m: int,
        rng: torch.Generator,
        *,
        distribution: Literal["gaussian", "rademacher"] = "gaussian",
        row_selection: Literal["first", "random"] = "first",
        noise: NoiseModel | None = None,
    ) -> CirculantSensing:
        """Draw, in this order from ``rng``: ``g`` (``N(0, 1/m)``, or ``±1/sqrt(m)`` for
        ``rademacher``), the signs of ``D``, and (``row_selection="random"``) ``m`` distinct
        rows, sorted."""
        n = math.prod(image_shape)
        m = measurement_count(n, m, None)
        device = rng.device
        if distribution == "gaussian":
            g = torch.randn(n, generator=rng, device=device) / math.sqrt(m)
        elif distribution == "rademacher":
            g = _random_signs(n, rng) / math.sqrt(m)
        else:
            raise ValueError(f"unknown distribution {distribution!r} for g; use gaussian or rademacher")
        signs = _random_signs(n, rng)
        if row_selection == "first":
            rows = None
        elif row_selection == "random":
            rows = torch.randperm(n, generator=rng, device=device)[:m].sort().values
        else:
            raise ValueError(f"unknown row_selection {row_selection!r}; use first or random")
        return cls(g, signs, image_shape, m, rows, noise)

    def first_row(self) -> torch.Tensor:
        """``g``, recovered from the stored spectrum (for inspection and tests)."""
        return torch.fft.irfft(torch.view_as_complex(self.g_fft.contiguous()), n=self.n)

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return circulant_sense(self._flatten(x), self.g_fft, self.signs, self.rows, self.m)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        self._check_measurements(y)
        return self._unflatten(circulant_sense_adjoint(y, self.g_fft, self.signs, self.rows))


def _random_signs(n: int, rng: torch.Generator) -> torch.Tensor:
    bits = torch.randint(0, 2, (n,), generator=rng, device=rng.device)
    return bits.to(torch.get_default_dtype()) * 2 - 1
