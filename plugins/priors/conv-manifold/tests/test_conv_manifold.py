"""The latent ConvNet f_phi: shapes, grouped-conv batching against per-image nets, the box
constraint, the shared initial phi, and the ``conv-manifold`` prior against the core's suite."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from invprob.generator import FEATURES, IMAGE, Generator, LatentSpace, TensorStage
from invprob.registry import new_registry
from invprob.testing import PriorConformance
from invprob_plugin_conv_manifold.manifold import ManifoldNet, flatten_parameters, unflatten_parameters
from invprob_plugin_conv_manifold.prior import ConvManifoldPrior


class MapLatentGenerator(Generator):
    """A tiny generator whose latent is a map stack ``z [4, 8, 8]`` (as LCM's hourglass)."""

    def __init__(self, seed: int = 0):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.stages = nn.ModuleList([
                TensorStage(nn.Sequential(nn.Conv2d(4, 8, 3, 1, 1), nn.LeakyReLU(0.2)), "z", FEATURES),
                TensorStage(nn.Sequential(nn.ConvTranspose2d(8, 3, 4, 2, 1), nn.Tanh()), FEATURES, IMAGE),
            ])  # fmt: skip
        self.image_shape = (3, 16, 16)
        self.latent_spaces = {"z": LatentSpace("z", (4, 8, 8))}


class TestConvManifoldPrior(PriorConformance):
    distribution = "invprob-plugin-conv-manifold"

    def make_generator(self) -> Generator:
        return MapLatentGenerator().eval().requires_grad_(False)


def test_sizes_follow_the_paper_and_our_default():
    paper = ManifoldNet(2, (8, 16, 32), 64, 32)
    assert paper.input_shape == (2, 40, 40) and paper.latent_shape == (64, 32, 32)
    ours = ManifoldNet()
    assert ours.input_shape == (2, 24, 24)
    params = ours.initial_parameters(3, seed=0)
    assert all(v.shape[0] == 3 for v in params.values())
    assert ours.latent(params).shape == (3, 32, 16, 16)
    assert 0 <= ours.s.min() and ours.s.max() <= 0.1


def test_every_image_starts_from_the_same_phi_and_the_seed_decides_it():
    net = ManifoldNet(2, (4, 8), 6, 8)
    a, b = net.initial_parameters(4, seed=7), net.initial_parameters(2, seed=7)
    for key in a:
        assert torch.equal(a[key][0], a[key][3]) and torch.equal(a[key][0], b[key][0])
    other = net.initial_parameters(1, seed=8)
    assert not torch.equal(other["conv0_weight"][0], a["conv0_weight"][0])
    assert torch.equal(ManifoldNet(2, (4, 8), 6, 8).s, net.s)  # s: from the seed alone


def test_grouped_conv_batching_equals_a_loop_over_per_image_nets():
    net = ManifoldNet(2, (4, 8), 6, 8, seed=1)
    params = net.initial_parameters(3, seed=0, bound=0.5)
    generator = torch.Generator().manual_seed(0)
    params = {k: v + 0.3 * torch.randn(v.shape, generator=generator) for k, v in params.items()}  # distinct images
    batched = net.latent(params)
    for index in range(3):
        single = net.single_net(params, index).train()(net.s.unsqueeze(0))
        torch.testing.assert_close(batched[index], single[0], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(batched[0], batched[1])


def test_the_last_conv_is_followed_by_leaky_relu_as_latent4lsnd():
    # the authors' Latent4LSND: leaky_relu(conv4(x), 0.2), no batch norm on the last conv
    net = ManifoldNet(channels=(4, 4), out_channels=3, latent_size=6)
    params = net.initial_parameters(2, seed=0, bound=0.5)
    z = net.latent(params)
    layers = list(net.single_net(params, 0))
    assert isinstance(layers[-1], torch.nn.LeakyReLU) and isinstance(layers[-2], torch.nn.Conv2d)
    with torch.no_grad():
        before = layers[-2](torch.nn.Sequential(*layers[:-2]).train()(net.s.unsqueeze(0)))
    assert (before < 0).any()
    torch.testing.assert_close(z[:1], torch.nn.functional.leaky_relu(before, 0.2))


def test_gradients_of_one_image_do_not_reach_another():
    net = ManifoldNet(2, (4,), 3, 8)
    params = {k: v.requires_grad_(True) for k, v in net.initial_parameters(2, seed=0).items()}
    net.latent(params)[0].sum().backward()
    assert params["conv0_weight"].grad[0].abs().sum() > 0
    assert params["conv0_weight"].grad[1].abs().sum() == 0


def test_the_box_constraint_holds_after_every_step_and_spares_batch_norm():
    net = ManifoldNet(2, (4, 8), 6, 8)
    params = {k: v.requires_grad_(True) for k, v in net.initial_parameters(2, seed=0).items()}
    tensors = dict(params)
    optimiser = torch.optim.SGD(params.values(), lr=10.0, momentum=0.9)
    target = torch.randn(2, 6, 8, 8)
    moved_bn = False
    for _ in range(5):
        optimiser.zero_grad()
        (net.latent(params) - target).square().mean().backward()
        optimiser.step()
        net.clamp_(params, 0.01)
        for key in net.conv_keys():
            assert params[key].abs().max() <= 0.01 and params[key] is tensors[key]
        moved_bn |= bool((params["bn0_weight"] - 1).abs().max() > 0.01)
    assert moved_bn  # batch norm's affine parameters are not clamped
    assert any(params[k].abs().max() == 0.01 for k in net.conv_keys())  # the clamp was active


def test_prior_constrain_clamps_its_phi_in_place():
    prior = ConvManifoldPrior(bound=0.01, channels=(4,))
    prior.initialise({"z": torch.zeros(2, 3, 8, 8)})
    weight = prior.phi["conv0_weight"]
    with torch.no_grad():
        weight.add_(1.0)
    prior.constrain_()
    assert prior.phi["conv0_weight"] is weight and weight.max() <= 0.01
    assert prior()["z"].shape == (2, 3, 8, 8)


def test_flatten_round_trip():
    net = ManifoldNet(2, (4, 8), 6, 8)
    params = net.initial_parameters(3, seed=0)
    flat = flatten_parameters(params)
    assert flat.shape == (3, sum(v[0].numel() for v in params.values()))
    back = unflatten_parameters(flat, net.parameter_shapes())
    assert all(torch.equal(back[k], params[k]) for k in params)


def test_a_vector_latent_is_a_clear_error():
    registry = new_registry(only={"invprob-plugin-conv-manifold"})
    from invprob.context import BuildContext
    from invprob.testing.toys import TinyGenerator

    context = BuildContext(registry=registry, image_shape=(3, 16, 16))
    context.generator = TinyGenerator()
    with pytest.raises(ValueError, match="not a map stack"):
        registry.build("priors", "conv-manifold", {}, context)
    prior = ConvManifoldPrior()
    with pytest.raises(ValueError, match="map stack"):
        prior.initialise({"z": torch.zeros(2, 8)})
