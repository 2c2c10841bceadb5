"""Partial circulant sensing: the operator equals an independently built dense matrix.

The ops themselves (opcheck, batch dimensions, kernels from plugins) are tested with the core,
in tests/test_ops.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from imaging_helpers import build, images

from invprob_plugin_imaging.sensing import CirculantSensing

SHAPE = (2, 3, 5)  # n = 30: odd-sized factors, an even n
ODD_SHAPE = (1, 3, 7)  # n = 21: odd n exercises the other rfft branch


def _draw(n: int, m: int, seed: int, random_rows: bool):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(n) / np.sqrt(m)
    signs = rng.choice([-1.0, 1.0], n)
    rows = np.sort(rng.choice(n, m, replace=False)) if random_rows else None
    return g, signs, rows


def _dense(g, signs, rows, m):
    """S_m C_g D with C_g = scipy.linalg.circulant(g).T: g is the first row."""
    full = scipy.linalg.circulant(g).T @ np.diag(signs)
    return full[:m] if rows is None else full[rows]


@pytest.mark.parametrize("shape", [SHAPE, ODD_SHAPE])
@pytest.mark.parametrize("random_rows", [False, True])
def test_circulant_operator_equals_the_dense_partial_circulant_matrix(shape, random_rows):
    n, m = int(np.prod(shape)), 11
    g, signs, rows = _draw(n, m, seed=n, random_rows=random_rows)
    operator = CirculantSensing(
        torch.tensor(g), torch.tensor(signs), shape, m, None if rows is None else torch.tensor(rows)
    )
    dense = _dense(g, signs, rows, m)
    x = np.random.default_rng(1).standard_normal((4, n))
    y = np.random.default_rng(2).standard_normal((4, m))
    measured = operator.A(torch.tensor(x).reshape(4, *shape)).numpy()
    back = operator.A_adjoint(torch.tensor(y)).reshape(4, n).numpy()
    np.testing.assert_allclose(measured, x @ dense.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(back, y @ dense, rtol=1e-10, atol=1e-12)


def test_first_row_convention_holds_for_a_unit_impulse():
    """With D = I and x = e_j, row 0 of C_g x is g[j]: g is the first row, not the first column."""
    n = 8
    g = torch.arange(1.0, n + 1, dtype=torch.float64)
    operator = CirculantSensing(g, torch.ones(n, dtype=torch.float64), (1, 1, n), n)
    for j in range(n):
        impulse = torch.zeros(1, 1, 1, n, dtype=torch.float64)
        impulse[..., j] = 1
        assert operator.A(impulse)[0, 0].item() == pytest.approx(g[j].item())


def test_second_derivatives_flow_through_the_custom_ops():
    operator = build("cs-circulant", {"fraction": 0.5, "rows": "random"}, SHAPE).double()
    x = images(SHAPE, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradgradcheck(lambda t: operator.A(t), (x,))
    y = torch.randn(2, operator.m, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: operator.A_adjoint(t), (y,))


def test_gaussian_first_row_has_variance_one_over_m():
    operator = build("cs-circulant", {"m": 100}, (3, 64, 64))
    g = operator.first_row()
    assert g.var().item() == pytest.approx(1 / 100, rel=0.05)
    assert set(operator.signs.unique().tolist()) == {-1.0, 1.0}


def test_works_at_three_by_1024_by_1024_with_only_the_spectrum_stored():
    shape = (3, 1024, 1024)
    operator = build("cs-circulant", {"fraction": 0.1}, shape)
    n = 3 * 1024 * 1024
    stored = sum(b.numel() * b.element_size() for b in operator.buffers())
    assert stored <= 3 * 4 * n  # spectrum (n/2+1 complex) and signs: O(n), no n x n or m x n matrix
    x = torch.zeros(1, *shape)
    x[0, 1, 500, 300] = 1.0
    y = operator.A(x)
    assert y.shape == (1, operator.m)
    back = operator.A_adjoint(y)
    assert back.shape == (1, *shape)
    # <A e_j, A e_j> == <e_j, A*A e_j>
    assert back[0, 1, 500, 300].item() == pytest.approx(float((y * y).sum()), rel=1e-4)
