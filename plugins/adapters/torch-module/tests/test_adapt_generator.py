"""A user's nn.Module as a generator: its latent declared, its range mapped, and a module that
does not fit its declaration refused once, with what to change. (Runs with an adapted module,
as a live component of a recipe dict, are in the core's tests/test_python_api.py.)"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import invprob
from invprob_plugin_torch_module import adapt_generator


def sigmoid_module() -> nn.Module:
    """A user's own generator: z [B, 8] -> sigmoid images [B, 1, 6, 10] in [0, 1]."""
    return nn.Sequential(nn.Linear(8, 60), nn.Sigmoid(), nn.Unflatten(1, (1, 6, 10)))


def test_an_adapted_module_declares_its_latent_and_maps_its_range():
    module = sigmoid_module()
    generator = invprob.adapt_generator(module, latent_shape=8, output_range=(0, 1))
    assert generator.image_shape == (1, 6, 10)
    assert generator.display_name == "Sequential"  # messages name the user's module, not the adapter
    z = generator.sample_latent(3, torch.Generator().manual_seed(1))
    assert z["z"].shape == (3, 8)
    torch.testing.assert_close(generator(z), module(z["z"]) * 2 - 1)
    g1, g2 = generator.split(1)
    torch.testing.assert_close(g2(g1(z)), generator(z))
    uniform = invprob.adapt_generator(module, latent_shape=(8,), distribution="uniform")
    assert uniform.sample_latent(64, torch.Generator().manual_seed(0))["z"].abs().max() <= 1


def test_the_facade_name_is_the_adapters():
    assert invprob.adapt_generator is adapt_generator


class _Doubled(nn.Module):
    def forward(self, z):
        return torch.tanh(z.double()).view(-1, 1, 2, 4)


class _BatchDropped(nn.Module):
    def forward(self, z):
        return torch.tanh(z[:1]).view(1, 1, 2, 4)


class _Unbounded(nn.Module):
    def forward(self, z):
        return (3 * z).view(-1, 1, 2, 4)


@pytest.mark.parametrize(
    "module, kwargs, message",
    [
        (sigmoid_module(), {"latent_shape": 7}, r"adapt_generator: Sequential fails on latents \[B, 7\] \(latent_shape=\(7,\)\): "
         r"RuntimeError: .*give the latent_shape its forward takes"),
        (nn.Sequential(nn.Linear(8, 60), nn.Tanh(), nn.Unflatten(1, (1, 6, 10))), {"latent_shape": 8, "output_range": (0, 1)},
         r"Sequential made images in \[-.*\] but output_range=\(0, 1\) was declared; declare output_range=\(-1, 1\) \(a tanh output\)"),
        (nn.Linear(8, 60), {"latent_shape": 8}, r"Linear must map latents \[B, 8\] to images \[B, C, H, W\] with C = 1 or 3; "
         r"for 2 latents it returned \[2, 60\]"),
        (_BatchDropped(), {"latent_shape": 8}, r"_BatchDropped must map .* for 2 latents it returned \[1, 1, 2, 4\]"),
        (_Doubled(), {"latent_shape": 8}, r"_Doubled returned torch.float64 images for torch.float32 latents"),
        (_Unbounded(), {"latent_shape": 8}, r"_Unbounded made images in .* declare output_range=\(low, high\)"),
    ],
)
def test_adapting_a_module_that_does_not_fit_its_declaration_says_what_to_change(module, kwargs, message):
    with pytest.raises(ValueError, match=message):
        invprob.adapt_generator(module, **kwargs)


def test_a_sigmoid_module_declared_as_tanh_passes_only_when_its_range_fits():
    # a sigmoid output lies inside (-1, 1): the declaration cannot be told wrong from the values,
    # and the module is accepted; a tanh output declared (0, 1) is refused (above)
    assert invprob.adapt_generator(sigmoid_module(), latent_shape=8).image_shape == (1, 6, 10)
