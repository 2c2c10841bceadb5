"""Three steps of the lcm solver's default procedure against the authors' ``inpaint()``
(tensors made by benchmarks/parity/lcm_parity.py from their code: SGD lr 1.0 on the mean over
the batch, Lap-L1 + MSE with the 5x band around the 50x50 hole, box clamp 0.01).

Ours: ``band-mse`` x 0.25 + ``lap-l1`` x 0.5 on [-1, 1] pixels (the authors' objective on [0, 1]),
SGD without momentum at the per-image rate ``1.0 / batch``. Tolerances: the loss values and the
final image to 1e-5 relative (float32 forward passes: see the generator plugin's
test_lcm_parity.py, differences seen ~1e-7); phi to 1e-5 relative to the box (0.01), and the
*update* phi - phi0 (a few 1e-6 here) to 2e-2 relative: phi is stored in float32 with ulp ~1e-9
at 0.01, so three rounded steps leave ~3e-9 of error in an update of ~3e-6 (1.7e-3 relative
measured, a 12x margin), and a wrong rate (x2: 100%), momentum or band weight changes the update
by tens of percent or more.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from invprob.problem import InverseProblem, WeightedLoss
from invprob.testing.toys import MaskOperator
from invprob_plugin_conv_manifold.prior import ConvManifoldPrior
from invprob_plugin_lcm.band_mse import BandMSELoss, band_weights
from invprob_plugin_lcm.hourglass import HourglassGenerator
from invprob_plugin_lcm.lap_l1 import LapL1Loss
from invprob_plugin_lcm.official import load_official_hourglass, official_hourglass_config, official_phi
from invprob_plugin_lcm_solvers.lcm import LCMSolver

FIXTURES = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "parity"
pytestmark = pytest.mark.skipif(not (FIXTURES / "lcm_restore.safetensors").is_file(), reason="parity fixtures absent")


def _strip(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def _relative(actual: torch.Tensor, expected: torch.Tensor, scale: float | None = None) -> float:
    error = (actual.double() - expected.double()).abs().max()
    return float(error / (scale if scale is not None else expected.double().abs().max()))


def test_three_restoration_steps_are_the_authors():
    g_state = _strip(load_file(FIXTURES / "lcm_gtheta.safetensors"), "g")
    t = load_file(FIXTURES / "lcm_restore.safetensors")
    batch = t["data"].shape[0]
    generator = load_official_hourglass(HourglassGenerator(official_hourglass_config(g_state)), g_state)
    generator.eval().requires_grad_(False)
    operator = MaskOperator(generator.image_shape)
    operator.mask.copy_(t["mask"])  # the authors' 50x50 centre hole
    assert torch.equal(band_weights(t["mask"], 5, 5.0), t["band"])  # the authors' w_mask
    problem = InverseProblem(
        operator=operator,
        observation=operator.A(2 * t["data"] - 1),
        image_shape=generator.image_shape,
        generator=generator,
        losses=[WeightedLoss(0.25, BandMSELoss(weight=5.0, width=5)), WeightedLoss(0.5, LapL1Loss())],
    )
    template = generator.sample_latent(batch, torch.Generator().manual_seed(0))
    prior = ConvManifoldPrior(channels=(8, 16, 32), input_channels=2, bound=0.01, seed=0)
    prior.initialise(template)
    prior.net.s.copy_(t["s"][0])
    phi0 = official_phi([_strip(t, f"phi0.{i}") for i in range(batch)])
    steps = t["loss"].numel()
    solver = LCMSolver(steps=steps, lr=1.0 / batch)  # the default optimizer: SGD without momentum
    result = solver.optimise_phi(problem, prior, phi0, template)
    assert _relative(torch.tensor(result.history["loss"], dtype=torch.float64), t["loss"]) <= 1e-5
    phi = official_phi([_strip(t, f"phi.{i}") for i in range(batch)])
    for name, expected in phi.items():
        assert _relative(result.last_latents[name], expected, scale=0.01) <= 1e-5, name
        update = expected - phi0[name]
        if update.abs().max() > 0:
            assert _relative(result.last_latents[name] - phi0[name], update) <= 2e-2, name
    with torch.no_grad():
        image = generator({"z": prior.net.latent(result.last_latents)})
    assert _relative((image + 1) / 2, t["output_final"]) <= 1e-5
