"""ILO and PULSE on StyleGAN2, through the shipped recipes on the 32x32 fixture checkpoint.

ILO's rounds must split StyleGAN2 at its synthesis-block boundaries and optimise the feature
map, the w+ slots still to come and the first 5 + 2k noise maps, each with its own radius, as
the official code; PULSE must optimise w+ (on per-layer spheres, tied by geocross) and the
first noise maps only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

import invprob

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO.parent / "shared" / "fixtures" / "stylegan2" / "checkpoint.pt"

pytestmark = pytest.mark.skipif(not FIXTURE.is_file(), reason="the StyleGAN2 fixture in ../shared is absent")


@pytest.fixture(autouse=True)
def real_plugins(installed_registry):
    """These tests use the installed first-party plugins, whatever the test fixtures did."""


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A copy of the fixture checkpoint: the Gaussian fit is cached beside it, never in ../shared."""
    import shutil

    copy = tmp_path_factory.mktemp("stylegan2") / "checkpoint.pt"
    shutil.copyfile(FIXTURE, copy)
    return copy


@pytest.fixture(autouse=True)
def _checkpoint_copy(checkpoint, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "CHECKPOINT", checkpoint)


CHECKPOINT = FIXTURE


def _run(recipe: str, tmp_path: Path, *overrides: str):
    base = [f"generator.params.checkpoint={CHECKPOINT}", "data.select='-1:'", "metrics=[psnr]", "outputs.gif=false"]
    return invprob.run(REPO / "recipes" / recipe, [*base, *overrides], out=tmp_path, show_progress=False)


def _record_rounds(monkeypatch, module) -> list[dict[str, tuple[int, ...]]]:
    """Wrap ``module.optimise`` and keep the shape of every variable of each call."""
    calls: list[dict[str, tuple[int, ...]]] = []
    original = module.optimise

    def recording(variables, *args, **kwargs):
        if kwargs.get("description") != "ilo range":
            calls.append({name: tuple(value.shape) for name, value in variables.items()})
        return original(variables, *args, **kwargs)

    monkeypatch.setattr(module, "optimise", recording)
    return calls


def _noises(*indices: int) -> dict[str, tuple[int, ...]]:
    return {f"noise_{i}": (1, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2)) for i in indices}


def test_ilo_rounds_optimise_the_stylegan2_state_at_each_block_boundary(monkeypatch, tmp_path):
    import invprob_plugin_ilo.solver as ilo

    calls = _record_rounds(monkeypatch, ilo)
    radii: list[dict[str, float]] = []
    original_balls = ilo.l1_balls
    monkeypatch.setattr(ilo, "l1_balls", lambda centre, given: (radii.append(dict(given)), original_balls(centre, given))[1])

    _run("ilo-inpaint-stylegan2.yaml", tmp_path, "solver.params.steps=2", "solver.params.range_steps=2")

    assert calls == [
        {"w+": (1, 8, 64), **_noises(*range(5))},  # round 0: w+ and the first 5 noise maps (official range(5))
        {"feature": (1, 64, 4, 4), "w+": (1, 7, 64), **_noises(*range(1, 7))},  # range(7), those still to come
        {"feature": (1, 64, 8, 8), "w+": (1, 5, 64), **_noises(*range(3, 7))},
        {"feature": (1, 32, 16, 16), "w+": (1, 3, 64), **_noises(5, 6)},
    ]
    features, latents, noises = [None, 500.0, 1000.0, 2000.0], [300.0, 500.0, 1000.0, 2000.0], [300.0, 2000.0, 2000.0, 4000.0]
    assert len(radii) == 4
    for k, given in enumerate(radii):  # per round from round 0, as the official max_radius_*[round]
        assert given.get("feature") == features[k] and "skip" not in given
        assert given["w+"] == latents[k]
        assert {given[name] for name in given if name.startswith("noise")} == {noises[k]}
    rounds = json.loads(next(tmp_path.rglob("metrics.json")).read_text())["rounds"]
    assert [r["constraints"] for r in rounds] == [["sphere", "l1-ball"]] * 4
    assert rounds[1]["variables"][0] == {"name": "feature", "shape": [64, 4, 4], "radius": 500.0}
    assert [r["round"] for r in rounds] == [0, 1, 2, 3] and rounds[0]["steps"] == 2 and rounds[0]["lr"] == 0.1


def test_ilo_refuses_a_sphere_prior_on_what_it_keeps_on_the_sphere_itself(tmp_path):
    with pytest.raises(ValueError, match="remove the constraint prior"):
        _run("ilo-inpaint-stylegan2.yaml", tmp_path, "solver.params.steps=[1, 1, 1, 1]",
             "priors=[{type: sphere, params: {variable: w+, space: gaussianised, fit_samples: 2000}}]")  # fmt: skip


@pytest.mark.parametrize("overrides", [["generator.params.noise_latents=false"], ["generator.params.latent=z"]])
def test_ilo_gives_stylegan2_noise_maps_and_w_plus_their_radii_whatever_the_declared_latents(overrides, monkeypatch, tmp_path):
    """Noise maps and w+ travel in the state even when they are not the model's input latents."""
    import invprob_plugin_ilo.solver as ilo

    radii: list[dict[str, float]] = []
    original_balls = ilo.l1_balls
    monkeypatch.setattr(ilo, "l1_balls", lambda centre, given: (radii.append(dict(given)), original_balls(centre, given))[1])
    overrides = [*overrides, "priors=[]"] if "latent=z" in overrides[0] else overrides  # geocross needs w+ as a latent
    _run("ilo-inpaint-stylegan2.yaml", tmp_path, "solver.params.steps=[2, 2]", "solver.params.radius_features=7",
         "solver.params.radius_latents=11", "solver.params.radius_noises=13", "solver.params.range_steps=0", *overrides)

    given = radii[1]  # round 1
    assert given["feature"] == 7.0 and "skip" not in given
    assert given["w+"] == 11.0
    assert given["noise_1"] == given["noise_6"] == 13.0


@pytest.mark.filterwarnings("ignore:PULSE did not reach the target loss")  # 3 steps do not reach eps
def test_pulse_on_stylegan2_optimises_w_plus_on_spheres_with_geocross_and_the_first_noise_maps(monkeypatch, tmp_path):
    import invprob_plugin_pulse.solver as pulse

    calls = _record_rounds(monkeypatch, pulse)
    seen: dict[str, object] = {}
    original, spherical = pulse.PULSESolver.solve, pulse._spherical

    def solve(self, problem, **kwargs):
        seen["priors"] = [(type(p).__name__, getattr(p, "variable", None)) for p in problem.priors]
        seen["fit"] = problem.generator.gaussian_fit()
        result = original(self, problem, **kwargs)
        seen["latents"] = result.best_latents
        return result

    def recording_spherical(variables):
        seen["radii"] = {name: value.detach().flatten(2).norm(dim=2) for name, value in variables.items()}
        return spherical(variables)

    monkeypatch.setattr(pulse.PULSESolver, "solve", solve)
    monkeypatch.setattr(pulse, "_spherical", recording_spherical)
    _run("pulse-superres-stylegan2.yaml", tmp_path, "solver.params.steps=3")

    assert calls == [{"w+": (1, 8, 64), **_noises(0, 1, 2, 3, 4)}]  # noise_5, noise_6 stay fixed
    assert seen["priors"] == [("GeocrossPenalty", "w+")]  # the spheres are the solver's own (PULSE's SphericalOptimizer)
    mean, covariance = seen["fit"]  # each w+ slot stays on its initial sphere in PULSE's Gaussianised space
    whitened = (torch.nn.functional.leaky_relu(seen["latents"]["w+"], 5.0) - mean) / covariance.diagonal().sqrt()
    torch.testing.assert_close(whitened.norm(dim=-1), seen["radii"]["w+"], rtol=1e-4, atol=0)
    noise = seen["latents"]["noise_3"]
    torch.testing.assert_close(noise.flatten(2).norm(dim=2), seen["radii"]["noise_3"], rtol=1e-4, atol=0)
    rounds = json.loads(next(tmp_path.rglob("metrics.json")).read_text())["rounds"]
    assert rounds == [{"round": 0, "steps": 3, "lr": 0.4, "constraints": ["sphere"], "variables": [
        {"name": "w+", "shape": [8, 64], "radius": None}, *({"name": f"noise_{i}", "shape": list(_noises(i)[f"noise_{i}"][1:]),
                                                               "radius": None} for i in range(5))]}]  # fmt: skip


def _gaussianised_sphere(generator, **params):
    from invprob.context import BuildContext
    from invprob.registry import default_registry

    registry = default_registry()
    context = BuildContext(registry=registry, seed=0)
    context.generator = generator
    return registry.build("priors", "sphere", {"variable": "w+", "space": "gaussianised", "fit_samples": 2000, **params},
                          context)  # fmt: skip


def _fixture_generator():
    from invprob.context import BuildContext
    from invprob.registry import default_registry

    registry = default_registry()
    context = BuildContext(registry=registry, seed=0)
    return registry.build("generators", "stylegan2", {"checkpoint": str(CHECKPOINT), "latent": "w+"}, context)


def test_the_gaussianised_sphere_puts_each_w_plus_vector_on_the_sphere_of_pulses_space():
    import torch.nn.functional as F

    generator = _fixture_generator()
    sphere = _gaussianised_sphere(generator)
    w = generator.sample_latent(3, torch.Generator().manual_seed(0))["w+"] * 1.7
    projected = sphere.project(w)
    mean, covariance = generator.gaussian_fit(2000)
    whitened = (F.leaky_relu(projected, 5.0) - mean) / covariance.diagonal().sqrt()
    norms = whitened.norm(dim=-1)
    assert torch.allclose(norms, torch.full_like(norms, mean.shape[0] ** 0.5), rtol=1e-4)
    assert torch.allclose(sphere.project(projected), projected, atol=1e-4)  # a projection
    assert not torch.allclose(projected, w)


def test_the_gaussianised_sphere_needs_a_mapping_to_fit():
    from invprob.testing.toys import TinyMappedGenerator

    with pytest.raises(ValueError, match="space: gaussianised needs a generator with PULSE's Gaussian fit"):
        _gaussianised_sphere(TinyMappedGenerator(), variable="w")


def test_ilo_keeps_geocross_in_round_0_only_and_no_constraint_prior(monkeypatch, tmp_path):
    """The official code: geocross from round 1 on has no gradient (it slices the batch axis);
    the sphere and the l1 balls are the solver's own projections in every round."""
    import invprob_plugin_ilo.solver as ilo

    seen: list[list[str]] = []
    original = ilo.optimise

    def recording(variables, render, problem, *args, **kwargs):
        seen.append(sorted(type(p).__name__ for p in problem.priors))
        return original(variables, render, problem, *args, **kwargs)

    monkeypatch.setattr(ilo, "optimise", recording)
    _run("ilo-superres-stylegan2.yaml", tmp_path, "solver.params.steps=[2, 2, 2, 2]")
    assert seen == [["GeocrossPenalty"], [], [], []]


def test_ilo_with_restarts_carries_the_fixed_noise_maps_of_the_chosen_restart(tmp_path):
    """Round 0's fixed noise maps are one draw per image for every restart, so round 1 can take any restart."""
    run = _run("ilo-inpaint-stylegan2.yaml", tmp_path, "solver.params.steps=[2, 2, 2, 2]", "solver.params.restarts=2")
    assert run.results[0].best_image.shape == (1, 3, 32, 32)
