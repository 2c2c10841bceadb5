"""The maths of the l1 ball, the sphere and geocross, and the build-time checks of their variables."""

from __future__ import annotations

import math

import pytest
import torch

from invprob.prior import PenaltyContext
from invprob.testing.toys import TinyGenerator
from invprob_plugin_latent_geometry.constraints import L1BallConstraint, SphereConstraint
from invprob_plugin_latent_geometry.penalties import GeocrossPenalty, geocross


def _context(value: torch.Tensor, name: str = "z") -> PenaltyContext:
    return PenaltyContext(variables={name: value}, image=torch.zeros(value.shape[0], 3, 4, 4), generator=None)


def test_geocross_is_non_zero_with_finite_gradients_at_batch_size_one():
    w = torch.randn(1, 6, 16, requires_grad=True)
    value = GeocrossPenalty(weight=1.0)(_context(w))
    assert value.shape == (1,) and float(value.detach()) > 0
    (gradient,) = torch.autograd.grad(value.sum(), w)
    assert torch.isfinite(gradient).all() and gradient.abs().sum() > 0


def test_geocross_is_zero_for_equal_layers_and_per_image():
    layer = torch.randn(1, 1, 16)
    same = layer.expand(1, 5, 16).clone()
    different = torch.randn(1, 5, 16)
    batch = torch.cat([same, different])
    values = geocross(batch)
    assert float(values[0]) < 1e-6 < float(values[1])
    torch.testing.assert_close(values[1:], geocross(different))  # images do not interact


def test_geocross_of_orthogonal_layers_is_the_right_angle():
    w = torch.zeros(1, 2, 4)
    w[0, 0, 0] = w[0, 1, 1] = 1.0  # two orthogonal layer latents: angle pi/2 off the diagonal
    expected = 4 * (2 * (math.pi / 2) ** 2) / 4 / 8  # n * mean over the 4 ordered pairs / 8
    torch.testing.assert_close(geocross(w), torch.tensor([expected]), rtol=1e-4, atol=1e-6)


def test_geocross_refuses_a_latent_without_layers():
    with pytest.raises(ValueError, match="layer axis"):
        GeocrossPenalty()(_context(torch.randn(2, 8)))


def test_sphere_rescales_each_vector_to_sqrt_n_by_default():
    z = torch.randn(4, 100) * 3
    projected = SphereConstraint().project(z)
    torch.testing.assert_close(projected.norm(dim=1), torch.full((4,), 10.0))
    torch.testing.assert_close(projected / projected.norm(dim=1, keepdim=True), z / z.norm(dim=1, keepdim=True))


def test_sphere_per_layer_of_a_w_plus_latent():
    w = torch.randn(2, 5, 16)
    projected = SphereConstraint(radius=2.0, vector_dims=1).project(w)
    torch.testing.assert_close(projected.norm(dim=-1), torch.full((2, 5), 2.0))


def test_l1_ball_around_a_batch_of_centres():
    centre = torch.randn(3, 8)
    value = centre + torch.randn(3, 8) * 5
    constraint = L1BallConstraint(radius=1.5, centre=centre)
    projected = constraint.project(value)
    torch.testing.assert_close((projected - centre).abs().sum(dim=1), torch.full((3,), 1.5))
    constraint.recentre(None)
    torch.testing.assert_close(constraint.project(value).abs().sum(dim=1), torch.full((3,), 1.5))


def test_l1_ball_refuses_a_centre_of_another_shape():
    with pytest.raises(ValueError, match="centre has shape"):
        L1BallConstraint(radius=1.0, centre=torch.zeros(2, 5)).project(torch.zeros(3, 5))


def test_factories_check_the_variable_against_the_generator():
    from invprob.context import BuildContext
    from invprob.registry import new_registry

    registry = new_registry(only={"invprob-plugin-latent-geometry"})
    context = BuildContext(registry=registry, image_shape=(3, 16, 16))
    context.generator = TinyGenerator()
    with pytest.raises(Exception, match="latents \\['z'\\]"):
        registry.build("priors", "sphere", {"variable": "w"}, context)
    with pytest.raises(Exception, match="DCGAN's z has no layers"):
        registry.build("priors", "geocross", {}, context)


def test_the_default_sphere_follows_the_latent_distribution():
    from invprob.context import BuildContext
    from invprob.registry import new_registry

    registry = new_registry(only={"invprob-plugin-latent-geometry"})
    for distribution, norm in (("normal", math.sqrt(8)), ("uniform", math.sqrt(8 / 3))):
        context = BuildContext(registry=registry, image_shape=(3, 16, 16))
        context.generator = TinyGenerator(distribution=distribution)
        sphere = registry.build("priors", "sphere", {}, context)
        torch.testing.assert_close(sphere.project(torch.randn(2, 8)).norm(dim=1), torch.full((2,), norm))
