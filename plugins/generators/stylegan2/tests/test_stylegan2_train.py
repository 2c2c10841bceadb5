"""The training objective and ``invprob train stylegan2`` on a tiny model."""

import json

import numpy as np
import torch

from invprob.context import BuildContext
from invprob_plugin_stylegan2.objectives import d_logistic_loss, g_nonsaturating_loss, r1_penalty
from invprob_plugin_stylegan2.train import main


def test_r1_is_the_squared_input_gradient():
    a = torch.randn(1, 3, 4, 4)
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    logits = (x * a).sum([1, 2, 3])[:, None]
    torch.testing.assert_close(r1_penalty(logits, x), a.pow(2).sum())


def test_logistic_losses():
    zero = torch.zeros(4, 1)
    torch.testing.assert_close(d_logistic_loss(zero, zero), torch.tensor(2 * np.log(2), dtype=torch.float32))
    assert g_nonsaturating_loss(torch.full((4, 1), 10.0)) < 1e-4 < g_nonsaturating_loss(torch.full((4, 1), -10.0))


def test_training_writes_a_checkpoint_the_generator_loads(tmp_path, stylegan2_registry):
    data = tmp_path / "faces.npz"
    np.savez(data, images=np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3), dtype=np.uint8))
    out = tmp_path / "run"
    args = ["--out", str(out), "--size", "16", "--style-dim", "8", "--n-mlp", "2", "--max-channels", "8",
            "--batch-size", "4", "--steps", "2", "--d-reg-every", "2", "--device", "cpu"]
    assert main([str(data), *args]) == 0
    summary = json.loads((out / "train.json").read_text())
    assert summary["steps"] == 2 and summary["history"][0]["r1"] == 0 and not summary["path_length_regularisation"]
    assert (out / "samples.png").is_file()
    context = BuildContext(registry=stylegan2_registry, base_dir=out)
    generator = stylegan2_registry.build("generators", "stylegan2", {"checkpoint": "stylegan2.safetensors"}, context)
    assert generator.image_shape == (3, 16, 16) and generator.discriminator is not None
    image = generator(generator.sample_latent(4, torch.Generator().manual_seed(0)))
    assert generator.discriminator(image).shape == (4, 1)
