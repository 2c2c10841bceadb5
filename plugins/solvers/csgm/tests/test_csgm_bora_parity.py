"""CSGM's objective against Bora et al.'s code at the documented weight equivalence.

The reference values come from benchmarks/parity/csgm_parity.py: Bora's own ``get_A_inpaint``
(rows ``sqrt(n) e_i`` over the observed pixels) and ``np.random.randn(n, m)`` for Gaussian
sensing, and their ``total_loss_batch = mean_j (y - x_hat A)_j^2 + 0.001 ||z||^2`` in float64.
Ours is ``mse(A x_hat, y) + w ||z||^2`` (the core's mean ``mse``, the ``gaussian-norm`` prior),
which is Bora's divided by a constant ``c`` when ``w = 0.001 / c``:

- centre inpainting, ``m`` of ``n`` entries observed: ``c = n^2 / m``, ``w = 0.001 m / n^2``;
- Gaussian sensing, Bora's ``A`` with ``N(0, 1)`` entries, ours ``A^T / sqrt(m)``: ``c = m``,
  ``w = 0.001 / m``.

Tolerance 1e-5 relative: ours runs in float32 over at most 3,072 squared terms per image, whose
rounding (unit 6e-8, pairwise sums) stays below 1e-6 relative; the reference is float64 of the
same float32 inputs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from invprob.losses import MSELoss
from invprob.problem import InverseProblem, WeightedLoss

FIXTURES = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "parity"
pytestmark = pytest.mark.skipif(not (FIXTURES / "csgm_objective.safetensors").is_file(), reason="parity fixtures absent")
SIDE, CHANNELS, LAMBDA = 32, 3, 0.001


def _chw(hwc: torch.Tensor) -> torch.Tensor:
    return hwc.reshape(-1, SIDE, SIDE, CHANNELS).permute(0, 3, 1, 2).contiguous()


def _ours(operator, x: torch.Tensor, x_hat: torch.Tensor, z: torch.Tensor, weight: float) -> torch.Tensor:
    from invprob_plugin_gan_priors.penalties import GaussianNormPrior

    problem = InverseProblem(
        operator=operator, observation=operator.A(x), image_shape=(CHANNELS, SIDE, SIDE),
        losses=[WeightedLoss(1.0, MSELoss())], priors=[GaussianNormPrior(weight=weight)],
    )  # fmt: skip
    return problem.measurement_loss(x_hat) + problem.penalty({"z": z}, x_hat)


def test_inpainting_objective_is_bora_over_n2_by_m():
    from invprob_plugin_imaging.masks import MaskOperator

    t = load_file(FIXTURES / "csgm_objective.safetensors")
    mask = t["mask_hwc"].permute(2, 0, 1)[:1].unsqueeze(0)  # one plane: the same pixels in every channel
    n, m = SIDE * SIDE * CHANNELS, int(t["mask_hwc"].sum())
    assert (n, m) == (3072, 2304)
    weight = LAMBDA * m / n**2
    assert weight == pytest.approx(2.44e-7, rel=1e-3)  # the weight docs/solvers.md and the recipe give
    ours = _ours(MaskOperator(mask), _chw(t["x_hwc"]), _chw(t["x_hat_hwc"]), t["z"], weight)
    torch.testing.assert_close(ours.double(), t["inpaint_total"] * m / n**2, rtol=1e-5, atol=0)


def test_gaussian_objective_is_bora_over_m():
    from invprob_plugin_imaging.sensing import GaussianSensing

    t = load_file(FIXTURES / "csgm_objective.safetensors")
    a = t["gaussian_A"]  # Bora's [n, m], rows in HWC order
    n, m = a.shape
    rows_chw = a.reshape(SIDE, SIDE, CHANNELS, m).permute(2, 0, 1, 3).reshape(n, m)
    operator = GaussianSensing(rows_chw.T / m**0.5, (CHANNELS, SIDE, SIDE))
    ours = _ours(operator, _chw(t["x_hwc"]), _chw(t["x_hat_hwc"]), t["z"], LAMBDA / m)
    torch.testing.assert_close(ours.double(), t["gaussian_total"] / m, rtol=1e-5, atol=0)
