"""The generator's latents, named split state, noise, truncation and keys, on tiny random models."""

import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from invprob.context import BuildContext
from invprob.testing import check_split_invariant
from invprob_plugin_stylegan2.generator import random_stylegan2
from invprob_plugin_stylegan2.networks import StyleGAN2Config, StyleGAN2Network, standard_channels

TINY = StyleGAN2Config(size=16, style_dim=8, n_mlp=2, channels={4: 8, 8: 8, 16: 4})


def _noisy(config=TINY, **options):
    generator = random_stylegan2(config, seed=1, **options)
    for module in generator.g_ema.modules():  # upstream initialises noise strength to 0
        if type(module).__name__ == "NoiseInjection":
            module.weight.fill_(0.3)
    return generator


def test_entry_point_module_imports_no_torch():
    code = "import sys, invprob_plugin_stylegan2.plugin; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_component_and_command_are_registered(stylegan2_registry):
    assert "stylegan2" in stylegan2_registry.names("generators")
    assert {("convert", "stylegan2"), ("train", "stylegan2")} <= set(stylegan2_registry.commands)


def test_state_dict_keys_are_rosinalitys():
    keys = list(StyleGAN2Network(StyleGAN2Config(size=32, style_dim=64, n_mlp=3, channels={4: 64, 8: 64, 16: 32, 32: 32})).state_dict())
    assert keys[:3] == ["style.1.weight", "style.1.bias", "style.2.weight"]
    for key in ("input.input", "conv1.conv.modulation.bias", "to_rgb1.bias", "convs.0.conv.blur.kernel",
                "to_rgbs.2.upsample.kernel", "noises.noise_6", "convs.5.activate.bias"):
        assert key in keys


@pytest.mark.parametrize("size", [8, 32])
def test_split_at_every_block_is_exact_with_noise_and_truncation(size):
    config = StyleGAN2Config(size=size, style_dim=8, n_mlp=2, channels={r: 4 for r in (4, 8, 16, 32)})
    generator = _noisy(config, latent="z", noise_latents=True, truncation=0.8)
    assert generator.num_stages == 1 + config.num_blocks
    check_split_invariant(generator, tol=0.0)


def test_state_names_and_shapes_after_each_block():
    generator = _noisy()
    latents = generator.sample_latent(2, torch.Generator().manual_seed(0))
    assert list(latents) == ["w+"] and latents["w+"].shape == (2, 6, 8)
    styles = generator.split(1)[0](latents)
    assert sorted(styles) == ["noise_0", "noise_1", "noise_2", "noise_3", "noise_4", "w+"]
    state = generator.split(2)[0](latents)
    assert sorted(state) == ["feature", "noise_1", "noise_2", "noise_3", "noise_4", "skip", "w+"]
    assert state["feature"].shape == (2, 8, 4, 4) and state["skip"].shape == (2, 3, 4, 4) and state["w+"].shape == (2, 5, 8)
    state = generator.split(3)[0](latents)
    assert sorted(state) == ["feature", "noise_3", "noise_4", "skip", "w+"] and state["w+"].shape == (2, 3, 8)


def test_optimising_the_intermediate_state_reaches_the_image():
    generator = _noisy()
    latents = generator.sample_latent(1, torch.Generator().manual_seed(0))
    first, second = generator.split(3)
    state = {name: value.clone().requires_grad_(True) for name, value in first(latents).items()}
    second(state).sum().backward()
    for name in ("feature", "skip", "w+", "noise_3"):
        assert state[name].grad is not None and state[name].grad.abs().sum() > 0, name


def test_z_w_and_wplus_latents_agree():
    generator = _noisy(output="raw")
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(3))
    w = generator.g_ema.get_latent(z)
    image = generator({"z": z})
    torch.testing.assert_close(generator({"w": w}), image, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(generator({"w+": w[:, None].repeat(1, 6, 1)}), image, rtol=1e-6, atol=1e-6)


def test_stored_noise_unless_noise_is_given():
    generator = _noisy()
    latents = generator.sample_latent(2, torch.Generator().manual_seed(0))
    torch.testing.assert_close(generator(latents), generator(latents), rtol=0, atol=0)
    noise = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(generator({**latents, "noise_4": noise}), generator(latents))


def test_w_sampler_is_the_mapping_of_seeded_z():
    generator = _noisy(latent="w")
    w = generator.sample_latent(3, torch.Generator().manual_seed(5))["w"]
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(w, generator.g_ema.get_latent(z), rtol=0, atol=0)


def test_output_is_clamped_unless_raw():
    raw, clamped = _noisy(output="raw"), _noisy()
    latents = raw.sample_latent(2, torch.Generator().manual_seed(0))
    image = raw(latents)
    torch.testing.assert_close(clamped(latents), image.clamp(-1, 1), rtol=0, atol=0)


def test_bad_latents_name_what_is_expected():
    generator = _noisy()
    with pytest.raises(ValueError, match="exactly one of 'z', 'w', 'w\\+'"):
        generator({"z": torch.zeros(1, 8), "w": torch.zeros(1, 8)})
    with pytest.raises(ValueError, match="must be \\[B, 6, 8\\]"):
        generator({"w+": torch.zeros(1, 8)})


def test_gaussian_fit_is_seeded_and_cached_for_the_checkpoints_contents(tmp_path, monkeypatch):
    monkeypatch.setenv("INVPROB_CACHE_DIR", str(tmp_path / "cache"))
    generator = _noisy()
    generator.source = tmp_path / "weights" / "model.pt"
    generator.source.parent.mkdir()
    generator.source.write_bytes(b"the checkpoint")
    mean, covariance = generator.gaussian_fit(2000, seed=3, chunk=700)
    assert mean.shape == (8,) and covariance.shape == (8, 8)
    (cached,) = (tmp_path / "cache" / "stylegan2").glob("gaussian-fit-*-2000-3.safetensors")
    assert list((tmp_path / "weights").iterdir()) == [generator.source]  # nothing written beside the weights
    again = generator.gaussian_fit(2000, seed=3)
    torch.testing.assert_close(again[0], mean, rtol=0, atol=0)
    save_file({"mean": torch.zeros(8), "covariance": torch.eye(8)}, str(cached))  # the cache is what is read
    assert generator.gaussian_fit(2000, seed=3)[0].abs().max() == 0
    generator.source.write_bytes(b"another checkpoint under the same name")
    torch.testing.assert_close(generator.gaussian_fit(2000, seed=3)[0], mean, rtol=0, atol=0)  # not the stale fit
    assert len(list((tmp_path / "cache" / "stylegan2").iterdir())) == 2
    w = generator.sample_w(2000, torch.Generator().manual_seed(0))
    x = torch.nn.functional.leaky_relu(w, 5.0)
    # two fixed seeded sample sets of 2000: their Monte-Carlo gap is fixed (about a quarter of this
    # tolerance, 1 and 2 threads); float32 rounding on another CPU moves it by ~1e-6
    torch.testing.assert_close(mean, x.mean(0), rtol=0.2, atol=0.2)


def test_non_power_of_two_resolution_is_refused(stylegan2_registry):
    with pytest.raises(ValueError, match="power of two"):
        StyleGAN2Config(size=48)
    with pytest.raises(Exception, match="power of two"):
        stylegan2_registry.build("generators", "stylegan2", {"size": 48}, BuildContext(registry=stylegan2_registry))


def test_config_f_widths_are_upstreams():
    assert standard_channels(2) == {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128, 512: 64, 1024: 32}
