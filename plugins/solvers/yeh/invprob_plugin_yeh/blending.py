"""Poisson blending (Pérez, Gangnet, Blake, SIGGRAPH 2003) of a generated image into the observed pixels.

Yeh et al.'s eq. 6: ``x = argmin ||∇x - ∇G(z)||^2  s.t.  x_i = y_i where M_i = 1``. Its
minimiser solves, for every missing pixel ``p`` with in-image 4-neighbours ``N(p)``,

    |N(p)| x_p - sum_{q in N(p), missing} x_q = sum_{q in N(p)} (g_p - g_q) + sum_{q in N(p), observed} y_q

(the discrete Poisson equation ``Δx = Δg`` in the hole, with the observed pixels as Dirichlet
boundary and no condition across the image border). Only *observed* pixels of ``y`` are read:
the values the observation holds inside the hole never reach the result.

A hole region (a 4-connected component of missing pixels) that touches no observed pixel has
no boundary: there ``x = g + c`` for any ``c``, and a tiny term ``eps * (x_p - g_p)`` (eps =
1e-6) on that region's pixels only picks ``c = 0``. On the image grid such a region is the
whole image (a channel with nothing observed, see :func:`unbounded_hole_regions`). Regions
with an observed neighbour get no such term and their solution is the exact Poisson
solution: the term on every hole pixel, as before, biased it by O(eps * size²) (5 grey levels
on a 1024² half-image hole). Each channel is solved with one sparse LU factorisation (scipy's
SuperLU), shared by the channels and images that have the same mask.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch

_EPS = 1e-6
_SHIFTS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def poisson_blend(generated: torch.Tensor, observation: torch.Tensor, mask: torch.Tensor, *, clamp: bool = True) -> torch.Tensor:
    """Blend ``generated`` ``[B, C, H, W]`` into the observed pixels of ``observation``.

    ``mask`` is image-space, 1 = observed, broadcastable to ``[B, C, H, W]`` (``[1 or B, 1 or
    C, H, W]``). Observed pixels of the result are the observation's; missing ones solve the
    Poisson equation above. ``clamp`` keeps the result in the image range [-1, 1].
    """
    if generated.shape != observation.shape:
        raise ValueError(
            f"Poisson blending needs an image-shaped observation like the generated image "
            f"{tuple(generated.shape)}, got {tuple(observation.shape)}"
        )
    batch, channels, height, width = generated.shape
    observed = (mask.detach() > 0.5).expand(batch, channels, height, width).cpu().numpy()
    g = generated.detach().double().cpu().numpy()
    y = observation.detach().double().cpu().numpy()
    out = np.where(observed, y, 0.0)
    solvers: dict[bytes, tuple[np.ndarray, np.ndarray, object, list]] = {}
    for b in range(batch):
        for c in range(channels):
            key = np.packbits(observed[b, c]).tobytes()
            if key not in solvers:
                solvers[key] = (*_factorise(observed[b, c]), [])
            solvers[key][3].append((b, c))
    for hole, unbounded, solve, members in solvers.values():
        if not hole.any():
            continue
        rhs = np.stack([_right_hand_side(g[b, c], y[b, c], ~hole, unbounded) for b, c in members], axis=1)
        solution = solve(rhs)
        for column, (b, c) in enumerate(members):
            out[b, c][hole] = solution[:, column]
    result = torch.from_numpy(out).to(device=generated.device, dtype=generated.dtype)
    return result.clamp(-1, 1) if clamp else result


def _neighbour_pairs(height: int, width: int):
    """For each 4-neighbour shift: the (row, col) slices of pixels p and of their neighbour q."""
    for dy, dx in _SHIFTS:
        p = (slice(max(-dy, 0), height - max(dy, 0)), slice(max(-dx, 0), width - max(dx, 0)))
        q = (slice(max(dy, 0), height - max(-dy, 0)), slice(max(dx, 0), width - max(-dx, 0)))
        yield p, q


def unbounded_hole_regions(observed: np.ndarray) -> np.ndarray:
    """Missing pixels (bool ``[H, W]``) whose 4-connected hole region has no observed 4-neighbour.

    Only there is the Poisson system singular: every other region has Dirichlet data. A
    region's 4-neighbours outside it are observed by definition of a connected component, so a
    region with no observed neighbour has no neighbour outside itself: on the image grid it is
    the whole image, and this is the whole hole when nothing is observed, else nothing.
    """
    hole = ~observed
    return hole.copy() if not observed.any() else np.zeros_like(hole)


def _factorise(observed: np.ndarray):
    """The hole (bool [H, W]), its unbounded regions and a solver for the Poisson system of this mask."""
    hole = ~observed
    height, width = hole.shape
    count = int(hole.sum())
    if count == 0:
        return hole, hole, None
    unbounded = unbounded_hole_regions(observed)
    index = np.full((height, width), -1, dtype=np.int64)
    index[hole] = np.arange(count)
    diagonal = np.where(unbounded[hole], _EPS, 0.0)
    rows, cols = [], []
    for p, q in _neighbour_pairs(height, width):
        p_in_hole = hole[p]
        diagonal_rows = index[p][p_in_hole]
        np.add.at(diagonal, diagonal_rows, 1.0)
        both = p_in_hole & hole[q]
        rows.append(index[p][both])
        cols.append(index[q][both])
    rows_all, cols_all = np.concatenate(rows), np.concatenate(cols)
    matrix = scipy.sparse.coo_matrix(
        (np.concatenate([diagonal, -np.ones(rows_all.size)]),
         (np.concatenate([np.arange(count), rows_all]), np.concatenate([np.arange(count), cols_all]))),
        shape=(count, count),
    ).tocsc()
    return hole, unbounded, scipy.sparse.linalg.splu(matrix).solve


def _right_hand_side(g: np.ndarray, y: np.ndarray, observed: np.ndarray, unbounded: np.ndarray) -> np.ndarray:
    """``sum_{q in N(p)} (g_p - g_q) + sum_{q observed} y_q`` for every missing p, plus
    ``eps g_p`` in the regions without an observed neighbour."""
    hole = ~observed
    rhs = np.where(unbounded, _EPS * g, 0.0)
    for p, q in _neighbour_pairs(*g.shape):
        rhs[p] += g[p] - g[q] + np.where(observed[q], y[q], 0.0)
    return rhs[hole]
