"""f_phi, g_theta and Lap-L1 against tensors made by the authors' code (benchmarks/parity/lcm_parity.py).

Tolerance: 1e-5 relative to the largest reference value. Every compared value is a float32
computation of at most ~20 layers whose dot products have at most 16k terms; float32 rounding
(unit 6e-8) accumulates to well under 1e-6 relative in such sums (the summation orders of two
convolution back-ends differ, the values do not by more than a few ulps per layer), so 1e-5 has
a 10x margin over the differences seen (the largest printed by the assertion messages is
~1e-7), while any difference of formula (a missing activation, a padding, a kernel) is >1e-3.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from invprob_plugin_conv_manifold.manifold import ManifoldNet
from invprob_plugin_lcm.hourglass import HourglassGenerator
from invprob_plugin_lcm.lap_l1 import lap_l1
from invprob_plugin_lcm.official import load_official_hourglass, official_hourglass_config, official_phi

FIXTURES = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "parity"
RTOL = 1e-5

pytestmark = pytest.mark.skipif(not (FIXTURES / "lcm_gtheta.safetensors").is_file(), reason="parity fixtures absent")


def assert_relative(actual: torch.Tensor, expected: torch.Tensor, rtol: float = RTOL) -> None:
    error = (actual.double() - expected.double()).abs().max() / expected.double().abs().max()
    assert error <= rtol, f"max error {float(error):.3g} relative to the largest value (tolerance {rtol})"


def _strip(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def official_generator(tensors: dict[str, torch.Tensor]) -> HourglassGenerator:
    state = _strip(tensors, "g")
    return load_official_hourglass(HourglassGenerator(official_hourglass_config(state)), state)


def test_f_phi_is_latent4lsnd():
    t = load_file(FIXTURES / "lcm_fphi.safetensors")
    net = ManifoldNet(in_channels=2, channels=(8, 16, 32), out_channels=64, latent_size=32)
    assert net.input_shape == tuple(t["s"].shape[1:])
    net.s.copy_(t["s"][0])
    z = net.latent(official_phi([_strip(t, "net")]))
    assert_relative(z, t["output"])


def test_g_theta_is_encdeccelebA_in_eval_and_train_mode():
    t = load_file(FIXTURES / "lcm_gtheta.safetensors")
    generator = official_generator(t)
    with torch.no_grad():
        image = generator.eval()({"z": t["z"]})
        assert_relative((image + 1) / 2, t["output_eval"])  # ours is the official [0, 1] image as 2x - 1
        image = generator.train()({"z": t["z"]})
        assert_relative((image + 1) / 2, t["output_train"])


def test_lap_l1_is_the_official_laploss():
    t = load_file(FIXTURES / "lcm_lapl1.safetensors")
    for name in ("a", "b", "c"):
        assert_relative(lap_l1(t[f"{name}.x1"], t[f"{name}.x2"]), t[f"{name}.value"])
