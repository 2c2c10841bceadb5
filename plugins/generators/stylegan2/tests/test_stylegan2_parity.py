"""Parity with NVlabs' own stylegan2-ada-pytorch code: snapshots it wrote, outputs it computed.

``tests/fixtures/parity/nvlabs/`` was made by ``benchmarks/parity/nvlabs_parity.py`` (see its
README): ``clamp`` has ``conv_clamp=256`` in G and D, engaged; ``maplr`` a mapping
learning-rate multiplier of 0.1 and a minibatch-stddev group of ``None`` (the whole batch).
The ``.pkl`` files go through our restricted unpickler; their embedded source, replaced by a
line that raises, is never run.

Tolerance, from float32 rounding with a 10x margin: against a float64 run of our loader,
NVlabs' float32 references are off by at most 7.6e-7 of the tensor's largest magnitude and
our float32 outputs by at most 6.9e-7 (both fixtures, every tensor; measured with
``benchmarks/parity/nvlabs_parity.py``'s fixture and the float64 check below), so two float32
implementations of the same function differ by at most ~1.5e-6 of that magnitude; we allow
1.5e-5. The largest observed difference is 7.2e-7 (images of magnitude up to 580, where the
clamp engages).
"""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from invprob_plugin_stylegan2.convert import main as convert_main
from invprob_plugin_stylegan2.layers import minibatch_stddev
from invprob_plugin_stylegan2.loading import build_from_checkpoint, load_stylegan2, read_checkpoint

FIXTURE = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "parity" / "nvlabs"
RELATIVE_TOLERANCE = 1.5e-5
EXPECTED = {
    "clamp": {"conv_clamp": 256.0, "d_conv_clamp": 256.0, "lr_mlp": 0.01, "stddev_group": 4, "size": 32},
    "maplr": {"conv_clamp": None, "d_conv_clamp": None, "lr_mlp": 0.1, "stddev_group": None, "size": 16},
}


def assert_matches(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    tolerance = RELATIVE_TOLERANCE * float(expected.abs().max())
    difference = float((actual.double() - expected.double()).abs().max())
    assert difference <= tolerance, f"{what}: max |ours - NVlabs| {difference:.3g} > {tolerance:.3g}"


def outputs(path: Path, ref: dict[str, torch.Tensor], truncation: float, dtype=torch.float32) -> dict[str, torch.Tensor]:
    """Our outputs for the fixture's inputs, loaded from ``path`` (a .pkl or a converted .safetensors)."""
    model = load_stylegan2(path, output="raw").to(dtype)
    truncated = load_stylegan2(path, output="raw", truncation=truncation).to(dtype)
    r = {k: v.to(dtype) for k, v in ref.items()}
    with torch.no_grad():
        return {
            "w": model.g_ema.get_latent(r["z"]),
            "img_z": model({"z": r["z"]}),
            "img_z_trunc": truncated({"z": r["z"]}),
            "img_wplus": model({"w+": r["wplus"]}),
            "d_logits": model.discriminator(r["d_in"]),
        }


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((FIXTURE / "manifest.json").read_text())


@pytest.mark.parametrize("name", ["clamp", "maplr"])
def test_snapshot_written_by_nvlabs_matches_its_outputs(name, manifest):
    path = FIXTURE / f"network-snapshot-{name}.pkl"
    ref = load_file(str(FIXTURE / f"{name}.safetensors"))
    model = load_stylegan2(path)
    assert {k: getattr(model.config, k) for k in EXPECTED[name]} == EXPECTED[name]
    for key, value in outputs(path, ref, manifest["fixtures"][name]["truncation"]).items():
        assert_matches(value, ref[key], f"{name} {key}")


@pytest.mark.parametrize("name", ["clamp", "maplr"])
def test_the_tolerance_covers_float32_rounding_ten_times(name, manifest):
    """Our float64 outputs against NVlabs' float32 references: the reference's own rounding error."""
    ref = load_file(str(FIXTURE / f"{name}.safetensors"))
    path = FIXTURE / f"network-snapshot-{name}.pkl"
    for key, value in outputs(path, ref, manifest["fixtures"][name]["truncation"], torch.float64).items():
        error = float((value - ref[key].double()).abs().max()) / float(ref[key].abs().max())
        assert error * 10 <= RELATIVE_TOLERANCE, f"{name} {key}: NVlabs' float32 rounding {error:.3g} of the magnitude"


def test_the_clamp_fixture_needs_the_clamp(manifest):
    """Without conv_clamp the clamp fixture's images and logits are far off: the clamp engages."""
    assert manifest["fixtures"]["clamp"]["clamped_share"] > 0.001
    checkpoint = read_checkpoint(FIXTURE / "network-snapshot-clamp.pkl")
    checkpoint["args"] = {**checkpoint["args"], "conv_clamp": None, "d_conv_clamp": None}
    model = build_from_checkpoint(checkpoint, output="raw")
    ref = load_file(str(FIXTURE / "clamp.safetensors"))
    with torch.no_grad():
        assert float((model({"z": ref["z"]}) - ref["img_z"]).abs().max()) > 1.0
        assert float((model.discriminator(ref["d_in"]) - ref["d_logits"]).abs().max()) > 1.0


@pytest.mark.parametrize("name", ["clamp", "maplr"])
def test_a_converted_snapshot_keeps_clamp_mapping_lr_and_group(name, manifest, tmp_path):
    out = tmp_path / f"{name}.safetensors"
    assert convert_main([str(FIXTURE / f"network-snapshot-{name}.pkl"), str(out)]) == 0
    ref = load_file(str(FIXTURE / f"{name}.safetensors"))
    assert {k: getattr(load_stylegan2(out).config, k) for k in EXPECTED[name]} == EXPECTED[name]
    for key, value in outputs(out, ref, manifest["fixtures"][name]["truncation"]).items():
        assert_matches(value, ref[key], f"converted {name} {key}")


def test_the_generator_loads_alone():
    model = load_stylegan2(FIXTURE / "network-snapshot-clamp.pkl", discriminator=False, output="raw")
    assert model.discriminator is None
    ref = load_file(str(FIXTURE / "clamp.safetensors"))
    with torch.no_grad():
        assert_matches(model({"z": ref["z"]}), ref["img_z"], "clamp img_z without D")


def test_minibatch_stddev_group_none_is_the_whole_batch():
    x = torch.randn(8, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(minibatch_stddev(x, None), minibatch_stddev(x, 8), rtol=0, atol=0)
    assert not torch.equal(minibatch_stddev(x, None), minibatch_stddev(x, 4))
