"""``invprob train lcm|glo``: the loss goes down, the box holds after every step, resume equals an
uninterrupted run bit for bit, an earlier training is not overwritten, and the written model loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from invprob.context import BuildContext
from invprob_plugin_lcm.commands import configure_train_glo, configure_train_lcm
from invprob_plugin_lcm.store import LatentStore
from invprob_plugin_lcm.train import LATENTS, Trainer, main

TINY = ["--image-size", "32", "--latent-channels", "4", "--latent-size", "16", "--width", "8", "--batch-size", "4",
        "--holdout-highest", "4", "--eval-images", "0", "--pca-dims", "4", "--no-progress", "--threads", "1"]  # fmt: skip
LCM_TINY = [*TINY, "--manifold-channels", "4"]


@pytest.fixture(scope="module")
def npz(tmp_path_factory) -> Path:
    """20 training images (smooth random blobs, something a generator can fit) and 4 held out."""
    path = tmp_path_factory.mktemp("data") / "faces.npz"
    rng = np.random.default_rng(0)
    low = rng.integers(0, 256, (24, 4, 4, 3)).astype(np.float32)
    images = np.kron(low, np.ones((1, 8, 8, 1), np.float32)).astype(np.uint8)
    np.savez(path, images=images, ids=np.arange(100, 124)[::-1].copy())
    return path


@pytest.fixture(scope="module")
def npz_alike(tmp_path_factory) -> Path:
    """24 variations of one blob image: theta can lower the loss within a few steps (the official
    hourglass gives z no direct path to the decoder, so fitting 20 unrelated images takes long)."""
    path = tmp_path_factory.mktemp("alike") / "faces.npz"
    rng = np.random.default_rng(0)
    low = rng.integers(0, 256, (1, 4, 4, 3)) + rng.integers(-20, 21, (24, 4, 4, 3))
    images = np.kron(np.clip(low, 0, 255).astype(np.float32), np.ones((1, 8, 8, 1), np.float32)).astype(np.uint8)
    np.savez(path, images=images, ids=np.arange(100, 124)[::-1].copy())
    return path


def _args(kind: str, argv: list[str]):
    import argparse

    parser = argparse.ArgumentParser()
    (configure_train_lcm if kind == "lcm" else configure_train_glo)(parser)
    return parser.parse_args(argv)


def test_lcm_loss_decreases_and_the_box_holds_after_every_step(npz_alike: Path, tmp_path: Path):
    args = _args("lcm", [str(npz_alike), "--out", str(tmp_path), *LCM_TINY, "--optimizer", "adam", "--lr", "0.01",
                         "--latent-lr", "1.0"])  # fmt: skip
    trainer = Trainer(args, "lcm")
    trainer.store = LatentStore.create(tmp_path / "store.safetensors", trainer.latents.shapes(), len(trainer.images))
    trainer.latents.fill_store(trainer.store)
    everyone = torch.arange(len(trainer.images))
    before = trainer.store.gather(everyone)
    losses = []
    for step in range(30):
        indices = trainer._epoch_order(step // 5)[(step % 5) * 4 : (step % 5 + 1) * 4]
        losses.append(trainer.train_step(indices))
        phi = trainer.store.gather(everyone)
        for key in trainer.latents.net.conv_keys():
            assert phi[key].abs().max() <= 0.01 + 1e-9, f"step {step}: {key} left the box"
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    after = trainer.store.gather(everyone)
    assert not torch.equal(after["conv0_weight"][0], after["conv0_weight"][1])  # each image its own phi
    assert torch.equal(before["conv0_weight"][0], before["conv0_weight"][1])  # ...from the same start
    assert not torch.equal(after["bn0_weight"], before["bn0_weight"])


@pytest.mark.parametrize(("kind", "extra"), [("lcm", LCM_TINY), ("glo", TINY)])
def test_resumed_run_matches_an_uninterrupted_one(npz: Path, tmp_path: Path, kind: str, extra: list[str]):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    main([str(npz), "--out", str(straight), "--epochs", "2", *extra], kind=kind)
    main([str(npz), "--out", str(resumed), "--epochs", "0.6", *extra], kind=kind)
    assert json.loads((resumed / "train.json").read_text())["steps"] == 3
    main([str(npz), "--out", str(resumed), "--epochs", "2", "--resume", *extra], kind=kind)
    assert json.loads((resumed / "train.json").read_text())["steps"] == 10
    for name in ("model.safetensors", LATENTS):
        a, b = load_file(straight / name), load_file(resumed / name)
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=f"{name}:{key}")


def test_the_model_loads_as_a_generator_that_samples_from_the_fitted_mixture(npz: Path, tmp_path: Path, lcm_registry):
    out = tmp_path / "run"
    assert main([str(npz), "--out", str(out), "--epochs", "1", *LCM_TINY, "--eval-images", "2", "--eval-steps", "2"]) == 0
    summary = json.loads((out / "train.json").read_text())
    assert summary["train_images"] == 20 and summary["held_out_fit"]["ids"] == "122..123"
    assert summary["peak_rss_mb"] > 0
    for name in ("samples.png", "reconstructions.png", "holdout.png", "model.sampler.safetensors"):
        assert (out / name).is_file(), name
    context = BuildContext(registry=lcm_registry, base_dir=out)
    generator = lcm_registry.build("generators", "lcm-hourglass", {"checkpoint": "model.safetensors"}, context)
    assert generator.primary_latent.distribution == "custom"  # the appendix-I sampler
    z = generator.sample_latent(3, torch.Generator().manual_seed(0))["z"]
    assert z.shape == (3, 4, 16, 16) and torch.isfinite(z).all()
    assert torch.equal(z, generator.sample_latent(3, torch.Generator().manual_seed(0))["z"])


def invprob_cli(*args: str):
    return subprocess.run([sys.executable, "-m", "invprob", *args], capture_output=True, text=True, timeout=300)


def test_an_earlier_training_is_not_overwritten_and_a_missing_model_is_named(npz: Path, tmp_path: Path):
    out = tmp_path / "run"
    assert main([str(npz), "--out", str(out), "--epochs", "0.5", *TINY], kind="glo") == 0
    before = (out / "model.safetensors").read_bytes()
    refused = invprob_cli("train", "glo", str(npz), "--out", str(out), *TINY)
    assert refused.returncode == 2, refused.stderr
    assert "holds an earlier training" in refused.stderr and "--resume" in refused.stderr and "Traceback" not in refused.stderr
    assert (out / "model.safetensors").read_bytes() == before
    from invprob_plugin_lcm import sample
    from invprob_plugin_lcm.commands import configure_sample

    args = _command(configure_sample, ["--model", str(tmp_path / "nope.safetensors"), "--out", str(tmp_path / "s.png")])
    with pytest.raises(FileNotFoundError, match="nope.safetensors: no such file"):  # the CLI: exit 2, one line
        sample.run(args)


def _command(configure, argv: list[str]):
    import argparse

    parser = argparse.ArgumentParser()
    configure(parser)
    return parser.parse_args(argv)


def test_sample_and_interpolate_commands_write_grids(npz: Path, tmp_path: Path):
    from PIL import Image

    from invprob_plugin_lcm import interpolate, sample
    from invprob_plugin_lcm.commands import configure_interpolate, configure_sample

    out = tmp_path / "run"
    assert main([str(npz), "--out", str(out), "--epochs", "1", *LCM_TINY]) == 0
    model = str(out / "model.safetensors")
    grid_path = tmp_path / "s.png"
    assert sample.run(_command(configure_sample, ["--model", model, "--out", str(grid_path), "--count", "6"])) == 0
    with Image.open(grid_path) as grid:
        assert grid.size[0] > grid.size[1] > 0
    with pytest.raises(FileExistsError, match="--force"):
        sample.run(_command(configure_sample, ["--model", model, "--out", str(grid_path)]))
    data = np.load(npz)
    for i in (0, 1):
        Image.fromarray(data["images"][i]).save(tmp_path / f"{i}.png")
    argv = ["--model", model, str(tmp_path / "0.png"), str(tmp_path / "1.png"), "--out", str(tmp_path / "i.png"),
            "--frames", "3", "--steps", "2"]  # fmt: skip
    assert interpolate.run(_command(configure_interpolate, argv)) == 0
    with Image.open(tmp_path / "i.png") as grid:
        assert grid.size[0] > grid.size[1]  # 3 frames wide, 2 rows high


def test_glo_vector_variant_keeps_every_z_in_the_unit_ball(npz: Path, tmp_path: Path, lcm_registry):
    out = tmp_path / "vector"
    assert main([str(npz), "--out", str(out), "--epochs", "1", *TINY, "--vector-latent", "16", "--latent-lr", "100"], kind="glo") == 0
    z = load_file(out / LATENTS)["z"]
    assert z.shape == (20, 16) and z.norm(dim=1).max() <= 1 + 1e-5
    assert torch.isclose(z.norm(dim=1), torch.ones(20), atol=1e-4).any()  # the big steps hit the sphere
    context = BuildContext(registry=lcm_registry, base_dir=out)
    generator = lcm_registry.build("generators", "lcm-hourglass", {"checkpoint": "model.safetensors"}, context)
    assert generator.primary_latent.shape == (16,) and generator(z[:2]).shape == (2, 3, 32, 32)
