"""``invprob train dcgan``: data sources, held-out ids, outputs, and resume that continues exactly."""

import json
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

from invprob.context import BuildContext
from invprob_plugin_dcgan.data import load_images
from invprob_plugin_dcgan.train import main

TINY = ["--image-size", "32", "--nz", "8", "--ngf", "4", "--ndf", "4", "--batch-size", "16", "--no-progress", "--threads", "1"]


def _faces(n: int = 40, size: int = 32) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


@pytest.fixture
def npz(tmp_path: Path) -> Path:
    path = tmp_path / "faces.npz"
    np.savez(path, images=_faces(), ids=np.arange(100, 140)[::-1].copy())
    return path


def test_folder_zip_and_npz_give_the_same_images_minus_the_highest_ids(tmp_path: Path):
    images = _faces(12)
    folder = tmp_path / "folder"
    folder.mkdir()
    with zipfile.ZipFile(tmp_path / "faces.zip", "w") as archive:
        for i, image in enumerate(images):
            Image.fromarray(image).save(folder / f"{500 + i}.png")
            buffer = BytesIO()
            Image.fromarray(image).save(buffer, format="PNG")
            archive.writestr(f"{500 + i}.png", buffer.getvalue())
    np.savez(tmp_path / "faces.npz", images=images, ids=np.arange(500, 512))
    for source in ("folder", "faces.zip", "faces.npz"):
        loaded = load_images(tmp_path / source, holdout_highest=3)
        assert loaded.ids.tolist() == list(range(500, 509)), source
        np.testing.assert_array_equal(loaded.images, images[:9])


def test_training_writes_loadable_weights_samples_and_a_log(npz: Path, tmp_path: Path, dcgan_registry):
    out = tmp_path / "run"
    assert main([str(npz), "--out", str(out), "--epochs", "1", "--holdout-highest", "8", *TINY]) == 0
    summary = json.loads((out / "train.json").read_text())
    assert summary["train_images"] == 32 and summary["steps"] == 2 and summary["stopped_by"] == "epochs"
    assert (out / "samples.png").is_file() and (out / "samples" / "step-0000002.png").is_file()
    context = BuildContext(registry=dcgan_registry, base_dir=out)
    generator = dcgan_registry.build(
        "generators", "dcgan", {"weights": "generator.safetensors", "discriminator_weights": "discriminator.safetensors"}, context
    )
    assert generator.image_shape == (3, 32, 32) and generator.primary_latent.distribution == "uniform"
    assert generator.discriminator_output == "logit"


def test_resumed_run_matches_an_uninterrupted_one(npz: Path, tmp_path: Path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    main([str(npz), "--out", str(straight), "--epochs", "2", *TINY])
    main([str(npz), "--out", str(resumed), "--epochs", "0.7", *TINY])
    assert json.loads((resumed / "train.json").read_text())["steps"] == 1
    main([str(npz), "--out", str(resumed), "--epochs", "2", "--resume", *TINY])
    assert json.loads((resumed / "train.json").read_text())["steps"] == 4
    for name in ("generator.safetensors", "discriminator.safetensors"):
        a, b = load_file(straight / name), load_file(resumed / name)
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=f"{name}:{key}")


def test_time_budget_stops_cleanly_and_still_writes_weights(npz: Path, tmp_path: Path):
    out = tmp_path / "budget"
    main([str(npz), "--out", str(out), "--minutes", "0", *TINY])
    summary = json.loads((out / "train.json").read_text())
    assert summary["stopped_by"] == "minutes" and summary["steps"] == 0
    assert (out / "generator.safetensors").is_file()



def invprob_cli(*args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "invprob", *args], capture_output=True, text=True, timeout=300)


def test_an_earlier_training_is_not_overwritten_without_resume_or_force(npz: Path, tmp_path: Path):
    out = tmp_path / "run"
    assert main([str(npz), "--out", str(out), "--epochs", "0.5", *TINY]) == 0
    before = (out / "generator.safetensors").read_bytes()
    refused = invprob_cli("train", "dcgan", str(npz), "--out", str(out), "--epochs", "0.5", *TINY)
    assert refused.returncode == 2, refused.stderr
    assert "holds an earlier training" in refused.stderr and "--resume" in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert (out / "generator.safetensors").read_bytes() == before
    assert main([str(npz), "--out", str(out), "--epochs", "0.5", "--seed", "1", "--force", *TINY]) == 0
    assert (out / "generator.safetensors").read_bytes() != before
    log = (out / "log.csv").read_text().splitlines()
    assert sum(line.startswith("step,") for line in log) == 1  # a fresh start, a fresh log


def test_training_data_errors_are_one_line_and_name_the_bad_file(tmp_path: Path):
    np.savez(tmp_path / "short.npz", images=_faces(4), ids=np.arange(3))
    with pytest.raises(ValueError, match="has 4 images but 3 ids"):
        load_images(tmp_path / "short.npz")
    with zipfile.ZipFile(tmp_path / "faces.zip", "w") as archive:
        archive.writestr("0.png", b"garbage")
    with pytest.raises(ValueError, match=r"faces.zip: member '0.png' is not a readable image"):
        load_images(tmp_path / "faces.zip")
    result = invprob_cli("train", "dcgan", str(tmp_path / "short.npz"), "--out", str(tmp_path / "out"), *TINY)
    assert result.returncode == 2 and "has 4 images but 3 ids" in result.stderr and "Traceback" not in result.stderr
