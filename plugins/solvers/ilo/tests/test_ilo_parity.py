"""Our ILO against trajectories written by the official code (benchmarks/parity/ilo_parity.py).

The fixture ``tests/fixtures/parity/ilo.safetensors`` holds, for 3 rounds of 4 steps on the tiny
StyleGAN2 of ``../shared/fixtures/stylegan2`` (super-resolution x4), the official variables
before every step and after the last one (after its sphere and l1 projections), its learning
rates and its MSE / geocross terms. Tolerance 1e-4 relative to each tensor's largest entry:
float32 rounding differs between the two implementations (reduction order in the convolutions,
the l1 projection, the Gaussianised round trip) by about 1e-6 relative per step, and 12 Adam
steps amplify it by far less than the 100x margin left (measured: see the README).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from invprob.losses import MSELoss
from invprob.problem import InverseProblem, WeightedLoss
from invprob.progress import Monitor
from invprob.testing.toys import SeparableOperator

ROOT = Path(__file__).resolve().parents[4]
PARITY = ROOT / "tests" / "fixtures" / "parity" / "ilo.safetensors"
CHECKPOINT = ROOT / ".." / "shared" / "fixtures" / "stylegan2" / "checkpoint.pt"
RTOL = 1e-4


@pytest.fixture(scope="module")
def official():
    if not CHECKPOINT.is_file():
        pytest.skip("../shared/fixtures/stylegan2 is absent")
    from safetensors import safe_open

    with safe_open(str(PARITY), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def _close(ours: torch.Tensor, theirs: torch.Tensor, what: str) -> None:
    scale = theirs.abs().max().clamp(min=1e-12)
    error = ((ours - theirs).abs().max() / scale).item()
    assert error <= RTOL, f"{what}: relative error {error:.2e} > {RTOL}"


def _run(official, monkeypatch):
    import torch.nn.functional as F

    import invprob_plugin_ilo.solver as solver_module
    from invprob_plugin_latent_geometry.penalties import GeocrossPenalty
    from invprob_plugin_stylegan2.loading import load_stylegan2

    tensors, meta = official
    radii = json.loads(meta["radii"])
    generator = load_stylegan2(CHECKPOINT, output="raw", latent="w+", noise_latents=True)
    mean, std = tensors["fit_mean"], tensors["fit_std"]
    generator.gaussian_fit = lambda *a, **k: (mean, torch.diag(std**2))
    segment = generator.segment

    def dropping_skip(start, end):  # the official Generator.forward restarts with skip=None
        inner = segment(start, end)

        def run(state):
            out = dict(inner(state))
            if "skip" in out:
                out["skip"] = torch.zeros_like(out["skip"])
            return out

        return run

    monkeypatch.setattr(generator, "segment", dropping_skip)
    recorded: list[list[dict]] = []
    optimise = solver_module.optimise

    def recording(variables, render, problem, settings, *, project=None, **kw):
        recorded.append([])

        def wrapped(state):
            project(state)
            recorded[-1].append({k: v.detach().clone() for k, v in state.items()})

        return optimise(variables, render, problem, settings, project=wrapped, **kw)

    monkeypatch.setattr(solver_module, "optimise", recording)
    problem = InverseProblem(
        operator=SeparableOperator(tensors["down_rows"], tensors["down_cols"]),
        observation=tensors["target"],
        image_shape=(3, 32, 32),
        losses=[WeightedLoss(1.0, MSELoss())],
        priors=[GeocrossPenalty(0.01, variable="w+")],
        generator=generator,
    )
    start = {"w+": F.leaky_relu(std * tensors["round0.latent"][0] + mean, 0.2)}
    start.update({f"noise_{i}": tensors[f"round0.noise_{i}"][0] for i in range(7)})
    solver = solver_module.ILOSolver(
        steps=json.loads(meta["steps"]), lr=0.1, first_layer=2, radius_latents=radii["latent"],
        radius_noises=radii["noises"], radius_features=radii["gen_out"][1:], init_latents=start,
    )
    monitor = Monitor(show_progress=False)
    result = solver.solve(problem, rng=torch.Generator().manual_seed(0), monitor=monitor)
    return result, recorded, monitor.history


def test_ilo_follows_the_official_code_step_by_step(official, monkeypatch):
    tensors, meta = official
    result, recorded, history = _run(official, monkeypatch)
    steps = json.loads(meta["steps"])
    optimised_noises = json.loads(meta["optimised_noises"])
    assert len(recorded) == len(steps)
    for k, states in enumerate(recorded):
        first_slot = 0 if k == 0 else 2 * k - 1
        expected = {"w+"} | ({"feature"} if k else set())
        expected |= {f"noise_{i}" for i in optimised_noises[k] if i >= first_slot and i < 7}
        assert set(states[0]) == expected, f"round {k} optimises {sorted(states[0])}, the official code {sorted(expected)}"
        assert len(states) == steps[k] + 1  # the start (projected, unchanged) and after every step
        for i, state in enumerate(states):
            _close(state["w+"], tensors[f"round{k}.latent"][i][:, first_slot:], f"round {k} step {i} latent")
            if k:
                _close(state["feature"], tensors[f"round{k}.gen_out"][i], f"round {k} step {i} feature")
            for name in expected - {"w+", "feature"}:
                _close(state[name], tensors[f"round{k}.{name}"][i], f"round {k} step {i} {name}")
    official_loss = []
    for k, n in enumerate(steps):
        mse, geo = tensors[f"round{k}.mse"], tensors[f"round{k}.geocross"]
        official_loss += (mse + 0.01 * geo).tolist() if k == 0 else mse.tolist()  # rounds >= 1: no geocross gradient
    _close(torch.tensor(history["loss"]), torch.tensor(official_loss), "loss trajectory")
    _close(torch.tensor(history["measurement_loss"]), torch.cat([tensors[f"round{k}.mse"] for k in range(len(steps))]), "mse")


def test_ilo_learning_rates_are_the_official_get_lr():
    from invprob.optimisation import OptimiserSettings

    if not PARITY.is_file():
        pytest.skip("no parity fixture")
    from safetensors.torch import load_file

    tensors = load_file(str(PARITY))
    rates = OptimiserSettings(steps=4, lr=0.1, schedule="ramp", ramp_down=0.75).learning_rates()
    _close(torch.tensor(rates), tensors["round0.lr"], "lr")
