"""The hourglass generator, the Lap-L1 loss and the memory-mapped per-image latents."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from invprob.testing import check_split_invariant
from invprob_plugin_lcm.hourglass import HourglassConfig, build_hourglass
from invprob_plugin_lcm.lap_l1 import LapL1Loss, lap_l1, laplacian_pyramid
from invprob_plugin_lcm.store import LatentStore


@pytest.mark.parametrize(("size", "latent_size", "channels"), [(32, 8, 4), (64, 16, 4), (128, 32, 2)])
def test_hourglass_sizes(size, latent_size, channels):
    generator = build_hourglass(HourglassConfig(size=size, latent_channels=channels, latent_size=latent_size, width=4))
    generator.eval()
    z = generator.sample_latent(1, torch.Generator().manual_seed(0))
    assert z["z"].shape == (1, channels, latent_size, latent_size)
    with torch.no_grad():
        image = generator(z)
    assert image.shape == (1, 3, size, size) and image.abs().max() <= 1


def test_split_at_every_stage_with_three_downsamplings():
    # the conformance suite checks the 32 and 64 px examples; this is the 128 px layout (32 -> 4)
    generator = build_hourglass(HourglassConfig(size=64, latent_channels=2, latent_size=32, width=4)).eval()
    check_split_invariant(generator)


def test_default_size_is_cpu_scale_and_has_two_skips():
    generator = build_hourglass()
    assert generator.config.latent_shape == (32, 16, 16)
    assert 0.3e6 <= sum(p.numel() for p in generator.parameters()) <= 1e6
    joins = [stage.join for stage in generator.stages if stage.join]
    assert sorted(joins) == ["skip_a", "skip_b"]


def test_a_bad_size_is_a_clear_error():
    with pytest.raises(ValueError, match="power of two"):
        HourglassConfig(size=48)
    with pytest.raises(ValueError, match="latent_size must be at least 8"):
        HourglassConfig(latent_size=4)


def test_lap_l1_is_zero_on_equal_inputs_and_weights_its_levels():
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(lap_l1(x, x), torch.zeros(2))
    # a constant offset lives only in the residual (level 3): weight 2^-6, mean |c| = c
    offset = lap_l1(x + 0.5, x)
    torch.testing.assert_close(offset, torch.full((2,), 0.5 * 2.0**-6), rtol=1e-4, atol=1e-6)
    # a pyramid of differences: the sum of the weighted mean |L_j|
    d = torch.randn(2, 3, 16, 16)
    levels = laplacian_pyramid(d, 3)
    assert [tuple(level.shape[-2:]) for level in levels] == [(16, 16), (8, 8), (4, 4), (2, 2)]
    expected = sum(2.0 ** (-2 * j) * level.abs().flatten(1).mean(1) for j, level in enumerate(levels))
    torch.testing.assert_close(lap_l1(d, torch.zeros_like(d)), expected)
    # the pyramid is complete: upsampling and adding the levels back gives the image
    rebuilt = levels[-1]
    for level in reversed(levels[:-1]):
        rebuilt = torch.nn.functional.interpolate(rebuilt, size=level.shape[-2:], mode="bilinear", align_corners=False) + level
    torch.testing.assert_close(rebuilt, d, rtol=1e-4, atol=1e-5)


def test_lap_l1_loss_odd_sizes_and_wrong_shapes():
    loss = LapL1Loss()
    a, b = torch.rand(3, 1, 15, 23), torch.rand(3, 1, 15, 23)
    assert loss(a, b, None).shape == (3,)
    with pytest.raises(ValueError, match="image-shaped"):
        loss(torch.rand(3, 10), torch.rand(3, 10), None)


def test_memory_mapped_latents_round_trip(tmp_path):
    path = tmp_path / "latents.safetensors"
    store = LatentStore.create(path, {"w": (2, 3), "b": (4,)}, 10, {"kind": "test"})
    store.fill("w", torch.ones(2, 3))
    rng = torch.Generator().manual_seed(0)
    store.fill("b", lambda start, stop: torch.randn(stop - start, 4, generator=rng), chunk=3)
    rows = {"w": torch.full((2, 2, 3), 5.0), "b": torch.arange(8.0).reshape(2, 4)}
    store.scatter(np.array([7, 2]), rows)
    store.flush()
    assert isinstance(store.all("w"), np.memmap)
    del store
    on_disk = load_file(str(path))  # an ordinary safetensors file
    assert on_disk["w"].shape == (10, 2, 3) and on_disk["b"].shape == (10, 4)
    assert torch.equal(on_disk["w"][7], torch.full((2, 3), 5.0)) and torch.equal(on_disk["w"][0], torch.ones(2, 3))
    reopened = LatentStore(path)
    gathered = reopened.gather(torch.tensor([2, 7]))
    assert torch.equal(gathered["b"], torch.arange(8.0).reshape(2, 4).flip(0))
    assert reopened.metadata["kind"] == "test" and reopened.size == 10
    rng = torch.Generator().manual_seed(0)
    expected = torch.cat([torch.randn(n, 4, generator=rng) for n in (3, 3, 3, 1)])
    untouched = [i for i in range(10) if i not in (2, 7)]
    assert torch.equal(on_disk["b"][untouched], expected[untouched])  # chunked fill = one stream


def test_a_missing_committed_model_names_the_file_and_where_it_looked(monkeypatch, tmp_path):
    from invprob.weights import WeightsNotFoundError
    from invprob_plugin_lcm import models

    monkeypatch.setattr(models, "MODELS_DIR", tmp_path)
    with pytest.raises(WeightsNotFoundError, match=r"lcm-faces64.*looked for .*lcm-faces64\.safetensors"):
        models.committed_model_path("lcm-faces64")


def test_a_file_that_is_not_an_lcm_model_is_a_clear_error(tmp_path):
    from invprob.weights import WeightsMismatchError, save_safetensors
    from invprob_plugin_lcm.models import load_model

    path = tmp_path / "other.safetensors"
    save_safetensors({"w": torch.zeros(1)}, path, {"format": "invprob-dcgan"})
    with pytest.raises(WeightsMismatchError, match="not an LCM/GLO model"):
        load_model(path)
