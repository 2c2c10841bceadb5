"""The hourglass generator, the Lap-L1 loss and the memory-mapped per-image latents."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from invprob.testing import check_split_invariant
from invprob_plugin_lcm.hourglass import HourglassConfig, HourglassGenerator, build_hourglass
from invprob_plugin_lcm.lap_l1 import LapL1Loss, blur_kernel, lap_l1, laplacian_pyramid
from invprob_plugin_lcm.store import LatentStore


@pytest.mark.parametrize(("size", "latent_size", "channels"), [(32, 16, 4), (64, 16, 4), (128, 32, 2)])
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


def test_default_size_and_the_official_skips_at_4x4_and_8x8():
    generator = build_hourglass()
    assert generator.config.latent_shape == (32, 16, 16)
    assert 0.5e6 <= sum(p.numel() for p in generator.parameters()) <= 0.52e6
    # trace the feature sizes where the skips join: the 4x4 bottleneck and 8x8, never the latent's 16x16
    joined: dict[str, tuple[int, ...]] = {}
    state = {"z": torch.zeros(2, 32, 16, 16)}
    with torch.no_grad():
        for stage in generator.stages:
            if stage.join:
                joined[stage.join] = tuple(state[stage.join].shape[1:])
            state = stage(state)
    assert joined == {"skip_a": (128, 4, 4), "skip_b": (64, 8, 8)}


def test_the_128px_width_128_net_has_the_official_parameter_count():
    # EncDecCelebA(in_channels=64): 38 M parameters ("38M" in the paper's appendix D)
    config = HourglassConfig(size=128, latent_channels=64, latent_size=32, width=128)
    with torch.device("meta"):
        generator = HourglassGenerator(config)
    convs = [m for m in generator.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    shapes = [tuple(m.weight.shape) for m in convs]
    assert shapes == [
        (256, 64, 4, 4), (512, 256, 4, 4), (1024, 512, 4, 4),
        (1024, 2, 3, 3), (1024, 2, 3, 3), (1024, 2, 3, 3),
        (2048, 512, 4, 4), (1024, 512, 4, 4), (512, 256, 4, 4), (256, 128, 4, 4),
        (64, 128, 3, 3), (32, 64, 3, 3), (3, 32, 3, 3),
    ]  # fmt: skip
    assert all(m.bias is None for m in convs)


def test_lap_l1_is_zero_on_equal_inputs_and_weights_its_levels():
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(lap_l1(x, x), torch.zeros(2))
    # a pyramid of differences: the sum of the weighted mean |L_j|
    d = torch.randn(2, 3, 16, 16)
    levels = laplacian_pyramid(d, 3)
    assert [tuple(level.shape[-2:]) for level in levels] == [(16, 16), (8, 8), (4, 4), (2, 2)]
    expected = sum(2.0 ** (-2 * j) * level.abs().flatten(1).mean(1) for j, level in enumerate(levels))
    torch.testing.assert_close(lap_l1(d, torch.zeros_like(d)), expected)


def test_the_pyramid_is_the_official_one():
    # official: band = current - blur(current) at the same size, next = avgpool(blur(current));
    # blur = the 5x5 kernel K[i, j] ~ g(i) + g(j), g(t) = exp(-(t-2)^2 / 4), zero padding
    g = torch.exp(-((torch.arange(5.0) - 2) ** 2) / 4.0)
    kernel = (g[:, None] + g[None, :]) / (g[:, None] + g[None, :]).sum()
    torch.testing.assert_close(blur_kernel(), kernel)
    d = torch.randn(1, 2, 16, 16)
    blurred = torch.nn.functional.conv2d(d, kernel.expand(2, 1, 5, 5), padding=2, groups=2)
    levels = laplacian_pyramid(d, 1)
    torch.testing.assert_close(levels[0], d - blurred)
    torch.testing.assert_close(levels[1], torch.nn.functional.avg_pool2d(blurred, 2))
    # zero padding: a constant image has band-pass energy at its border only
    band = laplacian_pyramid(torch.ones(1, 1, 16, 16), 1)[0][0, 0]
    assert band[4:-4, 4:-4].abs().max() < 1e-6 and band[0, 0] > 0.1


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


def test_band_mse_weights_a_band_around_the_hole_as_the_authors_make_mask():
    from invprob.testing.toys import MaskOperator, SeparableOperator
    from invprob_plugin_lcm.band_mse import BandMSELoss, band_weights

    mask = torch.ones(1, 1, 12, 12)
    mask[..., 4:7, 5:8] = 0  # the hole
    weights = band_weights(mask, 2, 5.0)
    expected = torch.ones(1, 1, 12, 12)
    expected[..., 2:9, 3:10] = 5.0  # the hole grown by 2 on every side (official: start - 5 .. end + 5)
    assert torch.equal(weights, expected)
    corner = torch.ones(1, 1, 12, 12)
    corner[..., :2, :2] = 0
    assert torch.equal(band_weights(corner, 3, 5.0)[0, 0, :6, :6].eq(5).nonzero().amax(0), torch.tensor([4, 4]))  # clipped
    x, y = torch.randn(2, 1, 12, 12), torch.randn(2, 1, 12, 12)
    operator = type("Op", (), {"observed_mask": lambda self: mask})()
    value = BandMSELoss(weight=5.0, width=2)(x * mask, y * mask, operator)
    torch.testing.assert_close(value, ((expected * mask * (x - y)) ** 2).flatten(1).mean(1))
    with pytest.raises(ValueError, match="band-mse weights a band"):
        BandMSELoss()(x, y, SeparableOperator(torch.eye(12), torch.eye(12)))  # no observed-pixel mask
    assert MaskOperator((1, 12, 12)).observed_mask() is not None  # the conformance suite's operator has a mask
