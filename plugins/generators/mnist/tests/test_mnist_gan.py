"""The MNIST MLP GAN: the shared checkpoints' reference values, every split, strict and safe loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from invprob.weights import WeightsFileError, WeightsMismatchError
from invprob_plugin_mnist.loading import load_mnist_gan
from invprob_plugin_mnist.model import MnistNetD, MnistNetG

FOLDER = Path(__file__).resolve().parents[4] / ".." / "shared" / "weights" / "mnist-gan-mlp"


@pytest.fixture(scope="module")
def shared_gan():
    if not (FOLDER / "G--300.ckpt").is_file():
        pytest.skip(f"shared weights not found at {FOLDER.resolve()}")
    return load_mnist_gan(FOLDER / "G--300.ckpt", FOLDER / "D--300.ckpt")


def test_reference_values_of_the_shared_readme(shared_gan):
    with torch.no_grad():
        image = shared_gan(torch.zeros(1, 64))
        assert image.shape == (1, 1, 28, 28)
        assert image.mean().item() == pytest.approx(-0.69706, abs=1e-5)
        assert torch.sigmoid(shared_gan.discriminator(image)).item() == pytest.approx(0.41147, abs=1e-5)


def test_every_split_point_reproduces_the_image_and_names_its_state(shared_gan):
    z = torch.randn(3, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        whole = shared_gan(z)
        assert shared_gan.num_stages == 3
        for k in range(4):
            first, rest = shared_gan.split(k)
            state = first({"z": z})
            assert set(state) == ({"z"} if k == 0 else {"features"} if k < 3 else {"image"})
            if 0 < k < 3:
                assert state["features"].shape == (3, 256)
            torch.testing.assert_close(rest(state), whole)


def test_state_dict_reads_like_the_checkpoints(shared_gan):
    keys = set(shared_gan.state_dict())
    assert {"net.0.weight", "net.2.bias", "net.4.weight", "discriminator.main.0.weight", "discriminator.main.4.bias"} <= keys
    assert len(keys) == 12  # three Linear layers each, no duplicated views from the stages


def test_random_weights_follow_the_seed_and_a_missing_generator_file_is_an_error(tmp_path: Path):
    a, b, c = load_mnist_gan(None, seed=1), load_mnist_gan(None, seed=1), load_mnist_gan(None, seed=2)
    torch.testing.assert_close(a.net[0].weight, b.net[0].weight)
    assert not torch.equal(a.net[0].weight, c.net[0].weight)
    with pytest.raises(ValueError, match="discriminator_weights was given without weights"):
        load_mnist_gan(None, tmp_path / "D.ckpt")
    with pytest.raises(FileNotFoundError, match="G--300.ckpt"):
        load_mnist_gan(tmp_path / "G--300.ckpt")


def test_a_checkpoint_of_another_model_is_refused_with_the_keys(tmp_path: Path):
    path = tmp_path / "D-as-G.ckpt"
    torch.save(MnistNetD().main.state_dict(), path)
    with pytest.raises(WeightsMismatchError, match="mnist-gan-mlp generator"):
        load_mnist_gan(path)


class _Exploit:
    def __reduce__(self):
        return (print, ("this pickle runs code",))


def test_a_checkpoint_that_would_run_code_is_refused_unread(tmp_path: Path, capsys):
    path = tmp_path / "G--300.ckpt"
    state = dict(MnistNetG().state_dict())
    state["payload"] = _Exploit()
    torch.save(state, path, _use_new_zipfile_serialization=False)  # the legacy format of the upstream files
    with pytest.raises(WeightsFileError):  # weights_only=True: the pickle is refused, never run
        load_mnist_gan(path)
    assert "this pickle runs code" not in capsys.readouterr().out
