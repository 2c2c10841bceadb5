"""Our PULSE against the trajectory written by the official code (benchmarks/parity/pulse_parity.py).

``tests/fixtures/parity/pulse.safetensors``: 10 steps of PULSE's defaults (``100*L2+0.05*GEOCROSS``,
eps 2e-3, Adam at 0.4 with ``linear1cycledrop``, 5 trainable noise maps) on the tiny StyleGAN2 of
``../shared/fixtures/stylegan2`` (super-resolution x4). Tolerance 1e-4 relative to each tensor's
largest entry: the two float32 implementations differ by rounding only (about 1e-6 per step),
and 10 Adam steps leave a margin of more than 10x (measured: see the README).
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
import torch

from invprob.losses import MSELoss
from invprob.problem import InverseProblem, WeightedLoss
from invprob.progress import Monitor
from invprob.testing.toys import SeparableOperator

ROOT = Path(__file__).resolve().parents[4]
PARITY = ROOT / "tests" / "fixtures" / "parity" / "pulse.safetensors"
CHECKPOINT = ROOT / ".." / "shared" / "fixtures" / "stylegan2" / "checkpoint.pt"
RTOL = 1e-4


def _close(ours: torch.Tensor, theirs: torch.Tensor, what: str) -> float:
    error = ((ours - theirs).abs().max() / theirs.abs().max().clamp(min=1e-12)).item()
    assert error <= RTOL, f"{what}: relative error {error:.2e} > {RTOL}"
    return error


def test_pulse_follows_the_official_code_step_by_step(monkeypatch):
    if not CHECKPOINT.is_file():
        pytest.skip("../shared/fixtures/stylegan2 is absent")
    from safetensors import safe_open

    import invprob_plugin_pulse.solver as solver_module
    from invprob_plugin_latent_geometry.penalties import GeocrossPenalty
    from invprob_plugin_stylegan2.loading import load_stylegan2

    with safe_open(str(PARITY), "pt") as f:
        official, meta = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    generator = load_stylegan2(CHECKPOINT, output="raw", latent="w+", noise_latents=True)
    mean, std = official["fit_mean"], official["fit_std"]
    generator.gaussian_fit = lambda *a, **k: (mean, torch.diag(std**2))
    starts = {f"noise_{j}": official[f"start.noise_{j}"].clone() for j in range(7)}
    monkeypatch.setattr(solver_module, "initial_latents", lambda *a, **k: {"w+": torch.zeros(1, 8, 64), **starts})
    monkeypatch.setattr(solver_module, "seeding", types.SimpleNamespace(randn=lambda *a, **k: official["latent"][0].clone()))
    recorded: list[dict[str, torch.Tensor]] = []
    spherical = solver_module._spherical

    def recording_spherical(variables):
        project = spherical(variables)

        def wrapped(state):
            project(state)
            recorded.append({k: v.detach().clone() for k, v in state.items()})

        return wrapped

    monkeypatch.setattr(solver_module, "_spherical", recording_spherical)
    problem = InverseProblem(
        operator=SeparableOperator(official["down_rows"], official["down_cols"]),
        observation=2 * official["target"] - 1,  # PULSE's [0, 1] picture on our [-1, 1]
        image_shape=(3, 32, 32),
        losses=[WeightedLoss(25.0, MSELoss())],  # 100 * L2 on [0, 1]
        priors=[GeocrossPenalty(0.05, variable="w+")],
        generator=generator,
    )
    steps = int(meta["steps"])
    solver = solver_module.PULSESolver(steps=steps, lr=float(meta["lr"]), eps=100 * float(meta["eps"]))
    monitor = Monitor(show_progress=False)
    with pytest.warns(UserWarning, match="did not reach the target loss"):  # nor did PULSE ("Could not find a face")
        solver.solve(problem, rng=torch.Generator().manual_seed(0), monitor=monitor)

    assert len(recorded) == steps + 1 and set(recorded[0]) == {"w+", *(f"noise_{j}" for j in json.loads(meta["optimised_noises"]))}
    for i, state in enumerate(recorded):
        _close(state["w+"], official["latent"][i], f"step {i} latent")
        for j in range(5):
            _close(state[f"noise_{j}"], official[f"noise_{j}"][i], f"step {i} noise_{j}")
    _close(torch.tensor(monitor.history["loss"]), official["TOTAL"], "TOTAL loss trajectory")
    _close(torch.tensor(monitor.history["measurement_loss"]), 100 * official["L2"].clamp(min=float(meta["eps"])), "100 * L2")


def test_pulse_learning_rates_are_linear1cycledrop():
    from safetensors.torch import load_file

    from invprob.optimisation import OptimiserSettings

    official = load_file(str(PARITY))
    rates = OptimiserSettings(steps=10, lr=0.4, schedule="one-cycle-drop").learning_rates()
    _close(torch.tensor(rates), official["lr"], "lr")
