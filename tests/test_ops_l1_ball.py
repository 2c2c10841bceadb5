"""``invprob::project_l1_ball``: exact, batched, identity inside, and its autograd and opcheck."""

from __future__ import annotations

import pytest
import torch

from invprob import ops


def _bisection_reference(v: torch.Tensor, centre: torch.Tensor, radius: float) -> torch.Tensor:
    """Row by row in float64, by bisection on theta: ``sum max(|d| - theta, 0) = radius``.

    Independent of the sort: the projection is the soft threshold of ``d = v - centre`` at the
    theta where the l1 norm of the result equals the radius (Duchi et al. 2008, lemma 3).
    """
    rows = []
    for row_v, row_c in zip(v.double().reshape(v.shape[0], -1), centre.double().reshape(v.shape[0], -1)):
        d = row_v - row_c
        if d.abs().sum() <= radius:
            rows.append(row_v)
            continue
        low, high = 0.0, float(d.abs().max())
        for _ in range(200):
            theta = (low + high) / 2
            if float((d.abs() - theta).clamp(min=0).sum()) > radius:
                low = theta
            else:
                high = theta
        rows.append(row_c + d.sign() * (d.abs() - (low + high) / 2).clamp(min=0))
    return torch.stack(rows).reshape(v.shape)


def _l1_distance(v: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    return (v - centre).reshape(v.shape[0], -1).abs().sum(dim=1)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_projection_agrees_with_a_bisection_reference(dtype):
    rng = torch.Generator().manual_seed(0)
    v = torch.randn(6, 3, 5, 4, generator=rng, dtype=dtype) * 2
    centre = torch.randn(6, 3, 5, 4, generator=rng, dtype=dtype)
    for radius in (0.5, 3.0, 20.0):
        projected = ops.project_l1_ball(v, centre, radius)
        expected = _bisection_reference(v, centre, radius).to(dtype)
        tolerance = 1e-6 if dtype == torch.float64 else 1e-5
        torch.testing.assert_close(projected, expected, rtol=tolerance, atol=tolerance)


def test_projection_lands_inside_the_ball_on_its_boundary():
    rng = torch.Generator().manual_seed(1)
    v = torch.randn(8, 100, generator=rng, dtype=torch.float64) * 3
    centre = torch.randn(8, 100, generator=rng, dtype=torch.float64)
    projected = ops.project_l1_ball(v, centre, 10.0)
    torch.testing.assert_close(_l1_distance(projected, centre), torch.full((8,), 10.0, dtype=torch.float64))


def test_points_inside_the_ball_are_returned_unchanged_in_a_new_tensor():
    v = torch.randn(4, 7)
    centre = v + 0.01 * torch.randn(4, 7)
    projected = ops.project_l1_ball(v, centre, 1.0)
    assert torch.equal(projected, v)
    assert projected.data_ptr() != v.data_ptr()
    projected.add_(1)
    assert not torch.equal(projected, v)  # never aliases its input


def test_rows_of_different_norms_in_one_batch_are_projected_independently():
    rng = torch.Generator().manual_seed(2)
    centre = torch.randn(3, 50, generator=rng, dtype=torch.float64)
    offsets = torch.randn(3, 50, generator=rng, dtype=torch.float64)
    offsets = offsets / offsets.abs().sum(dim=1, keepdim=True) * torch.tensor([[0.5], [5.0], [50.0]], dtype=torch.float64)
    v = centre + offsets  # l1 distances 0.5 (inside), 5 and 50 (outside) of a ball of radius 2
    projected = ops.project_l1_ball(v, centre, 2.0)
    assert torch.equal(projected[0], v[0])
    torch.testing.assert_close(_l1_distance(projected[1:], centre[1:]), torch.full((2,), 2.0, dtype=torch.float64))
    for row in range(3):  # the same as projecting each row alone
        torch.testing.assert_close(projected[row : row + 1], ops.project_l1_ball(v[row : row + 1], centre[row : row + 1], 2.0))
    torch.testing.assert_close(projected, _bisection_reference(v, centre, 2.0), rtol=1e-6, atol=1e-6)


def test_radius_zero_gives_the_centre():
    v, centre = torch.randn(3, 9), torch.randn(3, 9)
    torch.testing.assert_close(ops.project_l1_ball(v, centre, 0.0), centre)
    assert torch.equal(ops.project_l1_ball(centre, centre, 0.0), centre)


def test_a_huge_radius_is_the_identity():
    v, centre = torch.randn(3, 9) * 1e3, torch.randn(3, 9)
    assert torch.equal(ops.project_l1_ball(v, centre, 1e30), v)


def test_bad_arguments_are_errors_that_say_what_to_do():
    with pytest.raises(ValueError, match="radius >= 0"):
        ops.project_l1_ball(torch.zeros(2, 3), torch.zeros(2, 3), -1.0)
    with pytest.raises(ValueError, match="shape of v"):
        ops.project_l1_ball(torch.zeros(2, 3), torch.zeros(1, 3), 1.0)


@pytest.mark.parametrize("radius", [0.0, 0.7, 4.0, 1e6])
def test_project_l1_ball_passes_opcheck(radius):
    rng = torch.Generator().manual_seed(3)
    v = torch.randn(3, 2, 5, generator=rng, dtype=torch.float64, requires_grad=True)
    centre = torch.randn(3, 2, 5, generator=rng, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(torch.ops.invprob.project_l1_ball.default, (v, centre, radius))


def test_autograd_is_the_jacobian_of_the_projection():
    rng = torch.Generator().manual_seed(4)
    v = torch.randn(4, 6, generator=rng, dtype=torch.float64) * 2
    v[0] *= 0.01  # one row inside the ball
    centre = torch.randn(4, 6, generator=rng, dtype=torch.float64) * 0.1
    v.requires_grad_(True)
    centre.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: ops.project_l1_ball(a, b, 1.5), (v, centre))


def test_fake_kernel_gives_the_shape_without_computing():
    v = torch.empty(5, 3, 2, device="meta")
    assert ops.project_l1_ball(v, torch.empty(5, 3, 2, device="meta"), 1.0).shape == (5, 3, 2)


def test_the_op_compiles_without_graph_breaks():
    compiled = torch.compile(lambda a, b: ops.project_l1_ball(a, b, 1.0), fullgraph=True, backend="eager")
    v, centre = torch.randn(3, 8), torch.randn(3, 8)
    torch.testing.assert_close(compiled(v, centre), ops.project_l1_ball(v, centre, 1.0))
