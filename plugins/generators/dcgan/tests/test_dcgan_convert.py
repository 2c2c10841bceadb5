"""``invprob convert dcgan``: a checked conversion that records the architecture and latent."""

import subprocess
import sys
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
    assert main([str(net_g), str(tmp_path / "g.safetensors")]) == 2
    assert (tmp_path / "g.safetensors").read_bytes() == b"keep me"


def test_a_file_of_another_architecture_does_not_convert(examples_checkpoint, tmp_path):
    net_g, _ = examples_checkpoint
    with pytest.raises(WeightsMismatchError, match="not a dcgan32-celeba checkpoint.*use --arch examples"):
        main([str(net_g), str(tmp_path / "g.safetensors"), "--arch", "celeba32"])


class _RunsAShellCommand:
    """What a malicious checkpoint holds: unpickling it would call ``os.system``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def invprob_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invprob", *args], capture_output=True, text=True, timeout=300)


def test_a_checkpoint_that_references_code_is_refused_as_such(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"weight": _RunsAShellCommand(marker)}, tmp_path / "evil.pth")
    result = invprob_cli("convert", "dcgan", str(tmp_path / "evil.pth"), str(tmp_path / "g.safetensors"))
    assert result.returncode == 2, result.stderr
    (line, *_) = result.stderr.splitlines()
    assert "references code (posix.system)" in line and "convert it to .safetensors" in line
    assert "weights_only" not in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists() and not (tmp_path / "g.safetensors").exists()


def test_convert_errors_are_one_line_with_the_exit_code_of_an_input_error(examples_checkpoint, tmp_path):
    missing = invprob_cli("convert", "dcgan", str(tmp_path / "nothing.pth"), str(tmp_path / "g.safetensors"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.startswith("error: invprob convert dcgan: DCGAN weights file not found")
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    garbage = invprob_cli("convert", "dcgan", str(tmp_path / "garbage.pth"), str(tmp_path / "g.safetensors"))
    assert garbage.returncode == 2 and "is not a readable PyTorch state dict" in garbage.stderr
    net_g, _ = examples_checkpoint
    wrong = invprob_cli("convert", "dcgan", str(net_g), str(tmp_path / "g.safetensors"), "--arch", "celeba32")
    assert wrong.returncode == 2 and "not a dcgan32-celeba checkpoint" in wrong.stderr and "Traceback" not in wrong.stderr
