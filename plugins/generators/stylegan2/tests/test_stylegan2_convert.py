"""``invprob convert stylegan2``: safetensors + JSON config that load to the same model; one-line errors for bad input."""

import json

import pytest
import torch

from invprob_plugin_stylegan2.convert import main
from invprob_plugin_stylegan2.generator import random_stylegan2
from invprob_plugin_stylegan2.loading import StyleGAN2CheckpointError, load_stylegan2
from invprob_plugin_stylegan2.networks import StyleGAN2Config

TINY = StyleGAN2Config(size=16, style_dim=8, n_mlp=2, channels={4: 8, 8: 8, 16: 4})


def invprob_convert(*args: str) -> int:
    """``invprob convert stylegan2 ARGS`` through the real CLI (in process)."""
    from invprob import main as cli_main

    return cli_main(["convert", "stylegan2", *args])


@pytest.fixture
def rosinality_pt(tmp_path):
    """A tiny checkpoint as rosinality's train.py writes it (argparse.Namespace args included)."""
    import argparse

    generator = random_stylegan2(TINY, seed=2)
    path = tmp_path / "tiny.pt"
    torch.save(
        {
            "g_ema": generator.g_ema.state_dict(),
            "d": generator.discriminator.state_dict(),
            "latent_avg": generator.latent_avg[0],  # 1-D, as converted official checkpoints store it
            "args": argparse.Namespace(size=16, latent=8, n_mlp=2, channel_multiplier=2),
        },
        path,
    )
    return path, generator


def test_rosinality_checkpoint_with_namespace_args_loads(rosinality_pt):
    path, original = rosinality_pt
    loaded = load_stylegan2(path)
    assert loaded.config == TINY
    latents = original.sample_latent(2, torch.Generator().manual_seed(0))
    torch.testing.assert_close(loaded(latents), original(latents), rtol=0, atol=0)
    torch.testing.assert_close(loaded.discriminator(loaded(latents)), original.discriminator(original(latents)), rtol=0, atol=0)


def test_convert_writes_safetensors_and_json_that_load_identically(rosinality_pt, tmp_path, capsys):
    path, original = rosinality_pt
    out = tmp_path / "tiny.safetensors"
    assert main([str(path), str(out)]) == 0
    assert "StyleGAN2 16x16" in capsys.readouterr().out
    assert json.loads(out.with_suffix(".json").read_text())["size"] == 16
    assert out.read_bytes()[:1] != b"\x80", "our files are never pickles"
    converted = load_stylegan2(out)
    latents = original.sample_latent(2, torch.Generator().manual_seed(0))
    torch.testing.assert_close(converted(latents), original(latents), rtol=0, atol=0)
    assert converted.discriminator is not None
    assert invprob_convert(str(path), str(out)) == 2, "an existing file is kept without --force"
    assert main([str(path), str(out)]) == 2, "an existing file is kept without --force"


def test_converted_reference_fixture_still_matches(fixtures, reference, tmp_path):
    out = tmp_path / "fixture.safetensors"
    assert main([str(fixtures / "checkpoint.pt"), str(out)]) == 0
    model = load_stylegan2(out, output="raw", truncation=0.7)
    torch.testing.assert_close(model({"z": reference["z"]}), reference["img_trunc"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(model.discriminator(reference["d_in"]), reference["d_out"], rtol=1e-4, atol=1e-4)


def test_truncated_file_gives_one_line_naming_it(rosinality_pt, tmp_path, capsys):
    path, _ = rosinality_pt
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(StyleGAN2CheckpointError) as error:
        load_stylegan2(cut)
    assert "cut.pt" in str(error.value) and "truncated" in str(error.value) and "\n" not in str(error.value)
    capsys.readouterr()
    assert invprob_convert(str(cut), str(tmp_path / "x.safetensors")) == 2, "bad input: exit 2, as convert dcgan"
    assert "cut.pt" in capsys.readouterr().err and not (tmp_path / "x.safetensors").exists()
    assert main([str(cut), str(tmp_path / "x.safetensors")]) == 2


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / "dcgan.pt"
    torch.save({"main.0.weight": torch.zeros(100, 512, 4, 4)}, path)
    with pytest.raises(StyleGAN2CheckpointError, match="dcgan.pt: not a rosinality StyleGAN2 checkpoint: expected a dict with 'g_ema'"):
        load_stylegan2(path)
    other = tmp_path / "other.pt"
    torch.save({"g_ema": {"main.0.weight": torch.zeros(1)}}, other)
    with pytest.raises(StyleGAN2CheckpointError, match="other.pt: the generator is not a StyleGAN2"):
        load_stylegan2(other)


def test_non_power_of_two_resolution_in_a_checkpoint_is_refused(rosinality_pt, tmp_path):
    path, generator = rosinality_pt
    state = dict(generator.g_ema.state_dict())
    state["noises.noise_3"] = torch.zeros(1, 1, 12, 12)
    bad = tmp_path / "bad.pt"
    torch.save({"g_ema": state}, bad)
    with pytest.raises(StyleGAN2CheckpointError, match="bad.pt: noises.noise_3 is .*expects \\[1, 1, 16, 16\\]"):
        load_stylegan2(bad)


def test_a_wrong_shape_prints_the_key_diff_and_convert_exits_2_with_all_of_it(rosinality_pt, tmp_path, capsys):
    path, generator = rosinality_pt
    state = dict(generator.g_ema.state_dict())
    state["convs.1.activate.bias"] = torch.zeros(5)
    del state["to_rgbs.1.bias"]
    bad = tmp_path / "diff.pt"
    torch.save({"g_ema": state}, bad)
    with pytest.raises(Exception) as error:
        load_stylegan2(bad)
    message = str(error.value)
    assert "missing in file:     to_rgbs.1.bias" in message and "convs.1.activate.bias file (5,) vs model (8,)" in message
    assert main([str(bad), str(tmp_path / "x.safetensors")]) == 2, "a wrong input exits 2, as `convert dcgan` does"
    err = capsys.readouterr().err
    assert "missing in file:     to_rgbs.1.bias" in err and "convs.1.activate.bias file (5,) vs model (8,)" in err
    assert main([str(tmp_path / "absent.pt"), str(tmp_path / "y.safetensors")]) == 2


def test_convert_keeps_the_key_diff_of_a_shape_mismatch_and_exits_2(rosinality_pt, tmp_path, capsys):
    path, generator = rosinality_pt
    state = dict(generator.g_ema.state_dict())
    state["convs.1.activate.bias"] = torch.zeros(5)
    bad = tmp_path / "diff.pt"
    torch.save({"g_ema": state}, bad)
    assert invprob_convert(str(bad), str(tmp_path / "diff.safetensors")) == 2
    err = capsys.readouterr().err
    assert "diff.pt" in err and "convs.1.activate.bias file (5,) vs model (8,)" in err and "Traceback" not in err
    assert not (tmp_path / "diff.safetensors").exists()


def test_a_pickle_with_other_objects_is_refused_without_advice_to_run_it(tmp_path):
    from decimal import Decimal

    path = tmp_path / "odd.pt"
    torch.save({"g_ema": Decimal(1)}, path)
    with pytest.raises(StyleGAN2CheckpointError) as error:
        load_stylegan2(path)
    message = str(error.value)
    assert "odd.pt" in message and "weights-only load refused it" in message and "weights_only` set to `False" not in message
