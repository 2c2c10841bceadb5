"""The embedded default model: ships in the package, loads with no params, small, documented."""

import torch

from invprob.context import BuildContext
from invprob_plugin_dcgan.loading import DEFAULT_MODEL, default_weights_dir, read_metadata


def test_default_model_loads_with_no_params(dcgan_registry):
    generator = dcgan_registry.build("generators", "dcgan64-faces", {}, BuildContext(registry=dcgan_registry))
    assert generator.image_shape == (3, 64, 64)
    assert generator.primary_latent.shape == (100,) and generator.primary_latent.distribution == "uniform"
    assert generator.discriminator is not None and generator.discriminator_output == "logit"
    z = generator.sample_latent(2, torch.Generator().manual_seed(0))
    images = generator(z)
    assert images.shape == (2, 3, 64, 64) and images.abs().max() <= 1
    assert not torch.allclose(images[0], images[1]), "two latents gave the same image"


def test_default_model_without_discriminator(dcgan_registry):
    generator = dcgan_registry.build(
        "generators", "dcgan64-faces", {"discriminator": False}, BuildContext(registry=dcgan_registry)
    )
    assert generator.discriminator is None


def test_default_weights_are_small_and_described_by_a_model_card():
    folder = default_weights_dir()
    files = [folder / f"{DEFAULT_MODEL}.{role}.safetensors" for role in ("generator", "discriminator")]
    assert sum(f.stat().st_size for f in files) <= 15.5e6
    metadata = read_metadata(files[0])
    card = (folder / "MODEL_CARD.md").read_text()
    assert f"| steps | {metadata['step']} |" in card, "the model card's step count must be the shipped weights'"
    assert "201437" in card, "the model card must name the held-out ids"
