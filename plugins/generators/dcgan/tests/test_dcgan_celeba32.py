"""The shared 32x32 CelebA DCGAN reproduces the reference values of ../shared/weights/README.md."""

from pathlib import Path

import pytest
import torch

from invprob.context import BuildContext
from invprob.testing import check_discriminator, check_output_shape_and_range, check_split_invariant
from invprob_plugin_dcgan.convert import convert


def _build(registry, params, base_dir: Path):
    return registry.build("generators", "dcgan32-celeba", params, BuildContext(registry=registry, base_dir=base_dir))


FOLDER = Path(__file__).resolve().parents[4] / ".." / "shared" / "weights" / "dcgan32-celeba"


@pytest.fixture(scope="module")
def celeba32(dcgan_registry):
    if not (FOLDER / "generator.pt").is_file():
        pytest.skip(f"shared weights not found at {FOLDER.resolve()}")
    return _build(dcgan_registry, {"generator_weights": "generator.pt", "discriminator_weights": "discriminator.pt"}, FOLDER)


def test_reference_values_of_the_shared_readme(celeba32):
    image = celeba32(torch.zeros(1, 100))
    # the README prints 5 decimals: rounding takes up to 0.5e-5 of each 1e-5; float32 rounding of the
    # forward (~1e-7 on values below 1, any CPU) stays 50x under the other half
    assert image.shape == (1, 3, 32, 32)
    assert image.mean().item() == pytest.approx(-0.20201, abs=1e-5)
    torch.testing.assert_close(image[0, :, 0, 0], torch.tensor([-0.28589, -0.43662, -0.49312]), rtol=0, atol=1e-5)
    torch.testing.assert_close(image[0, :, 16, 16], torch.tensor([0.42804, 0.05304, -0.14566]), rtol=0, atol=1e-5)
    assert celeba32.discriminator(image).item() == pytest.approx(0.23575, abs=1e-5)
    assert celeba32.discriminator(torch.zeros(1, 3, 32, 32)).item() == pytest.approx(0.16127, abs=1e-5)


def test_declares_uniform_latents_and_a_least_squares_discriminator(celeba32):
    assert celeba32.primary_latent.shape == (100,) and celeba32.primary_latent.distribution == "uniform"
    assert celeba32.discriminator_output == "least_squares"


def test_meets_the_generator_conformance_checks(celeba32):
    assert celeba32.num_stages == 5
    check_split_invariant(celeba32)
    check_output_shape_and_range(celeba32)
    check_discriminator(celeba32)


def test_converted_safetensors_load_to_the_same_model(celeba32, dcgan_registry, tmp_path):
    convert(FOLDER / "generator.pt", tmp_path / "g.safetensors", arch="celeba32")
    convert(FOLDER / "discriminator.pt", tmp_path / "d.safetensors", arch="celeba32")
    again = _build(dcgan_registry, {"generator_weights": "g.safetensors", "discriminator_weights": "d.safetensors"}, tmp_path)
    z = celeba32.sample_latent(2, torch.Generator().manual_seed(0))
    torch.testing.assert_close(again(z), celeba32(z), rtol=0, atol=0)
    torch.testing.assert_close(again.discriminator(again(z)), celeba32.discriminator(celeba32(z)), rtol=0, atol=0)


def test_without_weights_the_error_says_where_to_find_them(dcgan_registry, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"shared/weights/dcgan32-celeba/ \(generator.pt, discriminator.pt\)"):
        _build(dcgan_registry, {}, tmp_path)
