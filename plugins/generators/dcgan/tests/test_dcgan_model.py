"""The standard DCGAN: PyTorch-examples key layout, shape inference, strict loading, eval-mode inversion."""

from pathlib import Path

import pytest
from pydantic import ValidationError
import torch

from invprob.context import BuildContext
from invprob.testing import check_split_invariant
from invprob.weights import WeightsMismatchError, save_safetensors
from invprob_plugin_dcgan.loading import infer_generator_config, load_dcgan
from invprob_plugin_dcgan.model import DcganConfig, DcganNetD, DcganNetG, build_dcgan

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _examples_keys_64() -> tuple[list[str], list[str]]:
    """Keys of the PyTorch-examples netG/netD at 64x64, written out from its main.py layout."""
    g = ["main.0.weight", *[f"main.1.{k}" for k in BN], "main.3.weight", *[f"main.4.{k}" for k in BN],
         "main.6.weight", *[f"main.7.{k}" for k in BN], "main.9.weight", *[f"main.10.{k}" for k in BN],
         "main.12.weight"]
    d = ["main.0.weight", "main.2.weight", *[f"main.3.{k}" for k in BN], "main.5.weight",
         *[f"main.6.{k}" for k in BN], "main.8.weight", *[f"main.9.{k}" for k in BN], "main.11.weight"]
    return g, d


def test_state_dict_keys_and_shapes_match_pytorch_examples_dcgan():
    config = DcganConfig(nz=100, ngf=64, ndf=64, nc=3, image_size=64)
    g_keys, d_keys = _examples_keys_64()
    net_g, net_d = DcganNetG(config), DcganNetD(config)
    assert list(net_g.state_dict()) == g_keys
    assert list(net_d.state_dict()) == d_keys
    assert net_g.state_dict()["main.0.weight"].shape == (100, 512, 4, 4)
    assert net_g.state_dict()["main.12.weight"].shape == (64, 3, 4, 4)
    assert net_d.state_dict()["main.11.weight"].shape == (1, 512, 4, 4)


@pytest.mark.parametrize("size, stages", [(32, 4), (64, 5), (128, 6)])
def test_one_stage_per_layer_block_and_split_everywhere(size, stages):
    generator = build_dcgan(DcganConfig(nz=8, ngf=4, ndf=4, image_size=size))
    assert generator.num_stages == stages
    assert generator(generator.sample_latent(2, torch.Generator().manual_seed(0))).shape == (2, 3, size, size)
    check_split_invariant(generator)


def test_module_tree_is_the_checkpoints_and_split_states_are_named_feature_maps():
    generator = build_dcgan(DcganConfig(nz=8, ngf=4, ndf=4, image_size=32))
    keys = list(generator.state_dict())
    assert {key.split(".")[0] for key in keys} == {"net", "discriminator"}, "stage views must not be stored"
    assert [key[len("net."):] for key in keys if key.startswith("net.")] == list(generator.net.state_dict())
    latents = generator.sample_latent(2, torch.Generator().manual_seed(0))
    first, second = generator.split(2)
    state = first(latents)
    assert list(state) == ["features"] and state["features"].shape == (2, 8, 8, 8)
    torch.testing.assert_close(second(state), generator(latents), rtol=0, atol=0)
    assert list(generator.split(generator.num_stages)[0](latents)) == ["image"]


def test_latents_are_a_dict_drawn_on_the_cpu_rng():
    generator = build_dcgan(DcganConfig(nz=8, ngf=4, ndf=4, image_size=32, latent="uniform"))
    latents = generator.sample_latent(3, torch.Generator().manual_seed(5))
    expected = torch.rand(3, 8, generator=torch.Generator().manual_seed(5)) * 2 - 1
    assert list(latents) == ["z"]
    torch.testing.assert_close(latents["z"], expected, rtol=0, atol=0)
    torch.testing.assert_close(generator(latents["z"]), generator(latents), rtol=0, atol=0)


@pytest.mark.parametrize("nz, ngf, nc, size", [(100, 64, 3, 64), (16, 8, 1, 32), (32, 4, 3, 128)])
def test_hyperparameters_are_inferred_from_tensor_shapes(nz, ngf, nc, size):
    state = DcganNetG(DcganConfig(nz=nz, ngf=ngf, nc=nc, image_size=size)).state_dict()
    assert infer_generator_config(state) == {"nz": nz, "ngf": ngf, "nc": nc, "image_size": size}


def test_examples_checkpoint_loads_with_inferred_architecture(tmp_path: Path):
    config = DcganConfig(nz=12, ngf=6, ndf=5, image_size=32)
    source = build_dcgan(config, seed=3)
    torch.save(source.net.state_dict(), tmp_path / "netG_epoch_24.pth")
    torch.save({f"module.{k}": v for k, v in source.discriminator.state_dict().items()}, tmp_path / "netD.pth")
    loaded = load_dcgan(tmp_path / "netG_epoch_24.pth", tmp_path / "netD.pth")
    assert loaded.config == DcganConfig(nz=12, ngf=6, ndf=5, image_size=32, latent="normal")
    z = loaded.sample_latent(3, torch.Generator().manual_seed(1))
    torch.testing.assert_close(loaded(z), source(z), rtol=0, atol=0)
    torch.testing.assert_close(loaded.discriminator(loaded(z)), source.discriminator(source(z)), rtol=0, atol=0)


def test_wrong_discriminator_gives_a_readable_key_and_shape_diff(tmp_path: Path):
    generator = build_dcgan(DcganConfig(nz=8, ngf=4, ndf=4, image_size=32))
    save_safetensors(generator.net.state_dict(), tmp_path / "g.safetensors")
    broken = dict(generator.discriminator.state_dict())
    broken["main.2.weight"] = torch.zeros(8, 4, 3, 3)
    del broken["main.3.running_mean"]
    save_safetensors(broken, tmp_path / "d.safetensors")
    with pytest.raises(WeightsMismatchError) as error:
        load_dcgan(tmp_path / "g.safetensors", tmp_path / "d.safetensors")
    message = str(error.value)
    assert "missing in file:     main.3.running_mean" in message
    assert "main.2.weight file (8, 4, 3, 3) vs model (8, 4, 4, 4)" in message


def test_missing_weights_name_the_file_and_where_it_looked(tmp_path: Path, dcgan_registry):
    context = BuildContext(registry=dcgan_registry, base_dir=tmp_path)
    with pytest.raises(ValidationError) as error:  # the params check, so `invprob validate` finds it
        dcgan_registry.build("generators", "dcgan", {"weights": "netG.pth"}, context)
    assert f"file 'netG.pth' not found: {tmp_path / 'netG.pth'} does not exist" in str(error.value)


def test_generator_runs_batchnorm_in_eval_mode_so_images_do_not_depend_on_the_batch():
    generator = build_dcgan(DcganConfig(nz=8, ngf=4, ndf=4, image_size=32))
    z = generator.sample_latent(4, torch.Generator().manual_seed(0))["z"]
    alone = generator(z[:1])
    torch.testing.assert_close(generator(z)[:1], alone, rtol=1e-5, atol=1e-6)
    assert not any(p.requires_grad for p in generator.parameters())


def test_latent_distribution_comes_from_params_or_metadata(tmp_path: Path, dcgan_registry):
    context = BuildContext(registry=dcgan_registry, base_dir=tmp_path)
    generator = build_dcgan(DcganConfig(nz=8, ngf=4, image_size=32, latent="uniform"), discriminator=False)
    save_safetensors(generator.net.state_dict(), tmp_path / "g.safetensors", generator.config.as_metadata())
    built = dcgan_registry.build("generators", "dcgan", {"weights": "g.safetensors"}, context)
    assert built.primary_latent.distribution == "uniform" and built.discriminator is None
    overridden = dcgan_registry.build("generators", "dcgan", {"weights": "g.safetensors", "latent": "normal"}, context)
    assert overridden.primary_latent.distribution == "normal"
