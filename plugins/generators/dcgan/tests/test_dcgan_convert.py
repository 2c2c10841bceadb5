"""``invprob convert dcgan``: a checked conversion that records the architecture and latent."""

from pathlib import Path

import pytest
import torch

from invprob.weights import WeightsMismatchError
from invprob_plugin_dcgan.convert import main
from invprob_plugin_dcgan.loading import load_dcgan, read_metadata
from invprob_plugin_dcgan.model import DcganConfig, build_dcgan


@pytest.fixture
def examples_checkpoint(tmp_path: Path) -> tuple[Path, Path]:
    generator = build_dcgan(DcganConfig(nz=10, ngf=4, ndf=3, image_size=32), seed=1)
    torch.save(generator.net.state_dict(), tmp_path / "netG.pth")
    torch.save(generator.discriminator.state_dict(), tmp_path / "netD.pth")
    return tmp_path / "netG.pth", tmp_path / "netD.pth"


def test_converts_examples_generator_and_discriminator_to_loadable_safetensors(examples_checkpoint, tmp_path):
    net_g, net_d = examples_checkpoint
    assert main([str(net_g), str(tmp_path / "g.safetensors"), "--latent", "uniform"]) == 0
    assert main([str(net_d), str(tmp_path / "d.safetensors")]) == 0
    g_meta, d_meta = read_metadata(tmp_path / "g.safetensors"), read_metadata(tmp_path / "d.safetensors")
    assert (g_meta["role"], g_meta["nz"], g_meta["ngf"], g_meta["latent"]) == ("generator", "10", "4", "uniform")
    assert (d_meta["role"], d_meta["ndf"], d_meta["image_size"]) == ("discriminator", "3", "32")
    converted = load_dcgan(tmp_path / "g.safetensors", tmp_path / "d.safetensors")
    original = load_dcgan(net_g, net_d, latent="uniform")
    z = original.sample_latent(2, torch.Generator().manual_seed(0))
    torch.testing.assert_close(converted(z), original(z), rtol=0, atol=0)
    assert converted.primary_latent.distribution == "uniform"


def test_refuses_to_overwrite_without_force(examples_checkpoint, tmp_path):
    net_g, _ = examples_checkpoint
    (tmp_path / "g.safetensors").write_bytes(b"keep me")
    assert main([str(net_g), str(tmp_path / "g.safetensors")]) == 1
    assert (tmp_path / "g.safetensors").read_bytes() == b"keep me"


def test_a_file_of_another_architecture_does_not_convert(examples_checkpoint, tmp_path):
    net_g, _ = examples_checkpoint
    with pytest.raises(WeightsMismatchError, match="not a dcgan32-celeba checkpoint.*use --arch examples"):
        main([str(net_g), str(tmp_path / "g.safetensors"), "--arch", "celeba32"])
