"""Every linear example of the plugin: exact adjoint, autograd agreement, batch and seeds."""

from __future__ import annotations

import pytest
import torch
from imaging_helpers import build, case_id, examples, images

LINEAR = examples(linear_only=True)
ALL = examples()


def _relative_adjoint_gap(operator, x, dtype):
    operator = operator.to(dtype)
    x = x.to(dtype)
    y = torch.randn(operator.A(x).shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
    lhs = (operator.A(x) * y).sum()
    rhs = (x * operator.A_adjoint(y)).sum()
    return float((lhs - rhs).abs() / (operator.A(x).norm() * y.norm()))


@pytest.mark.parametrize("case", LINEAR, ids=case_id)
@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_adjoint_is_relatively_exact(case, dtype, tolerance):
    name, params, shape = case
    assert _relative_adjoint_gap(build(name, params, shape), images(shape), dtype) < tolerance


@pytest.mark.parametrize("case", LINEAR, ids=case_id)
def test_adjoint_agrees_with_autograd(case):
    name, params, shape = case
    operator = build(name, params, shape).double()
    x = images(shape, dtype=torch.float64).requires_grad_()
    y = torch.randn(operator.A(x).shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    (vjp,) = torch.autograd.grad(operator.A(x), x, y)
    torch.testing.assert_close(operator.A_adjoint(y), vjp, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ALL, ids=case_id)
def test_each_batch_element_is_measured_alone(case):
    name, params, shape = case
    operator = build(name, params, shape)
    x = images(shape, batch=3)
    together = operator.A(x)
    alone = torch.cat([operator.A(x[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", ALL, ids=case_id)
def test_same_seed_builds_the_same_operator_and_noise(case):
    name, params, shape = case
    first, second = build(name, params, shape, seed=7), build(name, params, shape, seed=7)
    for (key, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        torch.testing.assert_close(a, b, msg=f"buffer {key} differs between two builds with one seed")
    x = images(shape)
    y1 = first(x, torch.Generator().manual_seed(3))
    y2 = second(x, torch.Generator().manual_seed(3))
    torch.testing.assert_close(y1, y2)


@pytest.mark.parametrize("case", ALL, ids=case_id)
def test_state_dict_round_trip_reproduces_the_measurements(case):
    name, params, shape = case
    original = build(name, params, shape, seed=11)
    restored = build(name, params, shape, seed=12)
    restored.load_state_dict(original.state_dict())
    x = images(shape)
    torch.testing.assert_close(restored.A(x), original.A(x))


@pytest.mark.parametrize(
    "name, params",
    [
        ("inpaint-random", {"observed": 0.3}),
        ("inpaint-pattern", {}),
        ("cs-gaussian", {"fraction": 0.1}),
        ("cs-circulant", {"fraction": 0.1, "rows": "random"}),
    ],
)
def test_a_different_seed_draws_a_different_operator(name, params):
    x = images((3, 16, 16))
    assert not torch.equal(build(name, params, seed=0).A(x), build(name, params, seed=1).A(x))
