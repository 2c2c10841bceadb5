"""Conformance of generators: named latents, split invariant, seeded sampling, output shape and range.

Latents and split states are dicts of named tensors. A generator split at ``k`` into
``G1: latents -> state`` and ``G2: state -> image`` must satisfy ``G2(G1(z)) == G(z)`` for
every ``0 <= k <= K``, with ``G1`` at ``k = 0`` returning the latents themselves: solvers like
ILO optimise the intermediate state by name and rely on it.

Latents are drawn on a CPU ``torch.Generator`` (``rng``) and then moved, so one seed gives the
same latents on every device.

A generator that has an optional capability (a protocol of :mod:`invprob.generator`:
:class:`~invprob.generator.HasStateLatents`, :class:`~invprob.generator.HasGaussianFit`,
:class:`~invprob.generator.HasLCMInfo`) is checked to provide it as the protocol says; the
suite skips those checks for a generator without it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import pytest
import torch

from invprob.generator import IMAGE, Generator, HasGaussianFit, HasLCMInfo, HasStateLatents, LCMInfo, generator_name
from invprob.testing.numerics import (
    assert_close,
    assert_finite,
    assert_tensor_dict,
    global_rng_scrambled,
    moved,
    seeded,
    shapes_of,
    trees_equal,
)
from invprob.testing.suite import ComponentCase, ConformanceSuite

RANGE_SLACK = 1e-5
DISCRIMINATOR_OUTPUTS = ("logit", "least_squares")


def check_split_invariant(generator: Generator, *, batch: int = 2, seed: int = 0, tol: float = 1e-5) -> None:
    """At every split ``k`` in ``0..num_stages``, ``G1`` returns a dict of tensors (the latents
    themselves at ``k = 0``) and ``G2(G1(z)) == G(z)`` (relative error ``<= tol``)."""
    generator.eval()
    latents = generator.sample_latent(batch, seeded(seed))
    assert_tensor_dict(latents, "sample_latent(batch, rng)")
    with torch.no_grad():
        reference = generator(latents)
        for k in range(generator.num_stages + 1):
            first, second = generator.split(k)
            state = first(latents)
            assert_tensor_dict(state, f"the state G1(latents) when split at k={k}")
            if k == 0 and not trees_equal(state, latents):
                raise AssertionError(
                    f"G1 at k=0 must return the latents unchanged; got {shapes_of(state)} for {shapes_of(latents)}"
                )
            assert_close(second(state), reference, tol, f"G2(G1(z)) against G(z) when split at k={k}")


def check_sampling_is_seeded(generator: Generator, *, batch: int = 2, seed: int = 0) -> None:
    """``sample_latent`` returns one ``[batch, *shape]`` tensor per latent space, on the module's
    device, drawn only from the ``rng`` it is given: same seed, same latents (whatever torch's
    global RNG is); different seeds, different latents."""
    with global_rng_scrambled(1):
        first = generator.sample_latent(batch, seeded(seed))
    assert_tensor_dict(first, "sample_latent(batch, rng)")
    expected = {name: (batch, *space.shape) for name, space in generator.latent_spaces.items()}
    if shapes_of(first) != expected:
        raise AssertionError(f"sample_latent gave {shapes_of(first)}; the latent spaces declare {expected}")
    device = next(generator.parameters(), torch.empty(0)).device
    for name, value in first.items():
        if value.device != device:
            raise AssertionError(f"latent {name!r} is on {value.device}, the generator on {device}")
    with global_rng_scrambled(2):
        again = generator.sample_latent(batch, seeded(seed))
    if not trees_equal(first, again):
        raise AssertionError(
            "sample_latent gave different latents for the same seed: draw only from the rng "
            "passed in (invprob.seeding.randn/rand), never from torch's global RNG"
        )
    if trees_equal(first, generator.sample_latent(batch, seeded(seed + 1))):
        raise AssertionError("sample_latent gave identical latents for two different seeds")


def check_latents_match_across_devices(
    generator: Generator, *, device: str = "cuda", batch: int = 2, seed: int = 0, tol: float = 1e-5
) -> None:
    """A copy of the generator on ``device`` samples the same latents from the same CPU seed
    (drawn on the CPU, then moved; a custom sampler's network may differ by rounding)."""
    on_device = moved(generator, device=device)
    here = generator.sample_latent(batch, seeded(seed))
    there = on_device.sample_latent(batch, seeded(seed))
    for name, value in here.items():
        if there[name].device.type != torch.device(device).type:
            raise AssertionError(f"latent {name!r} of the generator on {device} is on {there[name].device}")
        assert_close(there[name].cpu(), value, tol, f"latent {name!r} sampled on {device} against the CPU")


def check_output_shape_and_range(generator: Generator, *, batch: int = 2, seed: int = 0) -> None:
    """``G(z)`` has shape ``(B, *image_shape)``, is finite, and lies in [-1, 1]; with one latent
    space, ``G`` of the bare tensor equals ``G`` of the dict."""
    generator.eval()
    latents = generator.sample_latent(batch, seeded(seed))
    with torch.no_grad():
        image = generator(latents)
        if len(latents) == 1:
            assert_close(generator(next(iter(latents.values()))), image, 0.0, "G(tensor) against G({name: tensor})")
    expected = (batch, *generator.image_shape)
    if tuple(image.shape) != expected:
        raise AssertionError(
            f"G(z) for latents {shapes_of(latents)} has shape {tuple(image.shape)}, expected {expected} "
            "(batch, *generator.image_shape)"
        )
    assert_finite(image, "G(z)")
    low, high = float(image.min()), float(image.max())
    if low < -1 - RANGE_SLACK or high > 1 + RANGE_SLACK:
        raise AssertionError(f"G(z) spans [{low:.4g}, {high:.4g}]: generators must return images in [-1, 1]")


def check_discriminator(generator: Generator, *, batch: int = 2, seed: int = 0) -> None:
    """``discriminator_output`` is declared, and ``D(G(z))`` is finite with one leading entry per image."""
    if generator.discriminator is None:
        raise ValueError("this generator has no discriminator")
    if generator.discriminator_output not in DISCRIMINATOR_OUTPUTS:
        raise AssertionError(
            f"{type(generator).__name__} has a discriminator but declares discriminator_output = "
            f"{generator.discriminator_output!r}; declare one of {DISCRIMINATOR_OUTPUTS} so that the "
            "discriminator prior reads its scores the way it was trained"
        )
    generator.eval()
    with torch.no_grad():
        scores = generator.discriminator(generator(generator.sample_latent(batch, seeded(seed))))
    if scores.dim() == 0 or scores.shape[0] != batch:
        raise AssertionError(f"D(G(z)) has shape {tuple(scores.shape)}: its first dimension must be the batch, {batch}")
    assert_finite(scores, "D(G(z))")


def check_state_latents(generator: Generator, *, batch: int = 2, seed: int = 0) -> None:
    """:class:`~invprob.generator.HasStateLatents`: ``state_latents`` is a tuple of distinct names,
    none of them the image, and each is a ``[batch, ...]`` tensor in the state of some split point."""
    name = generator_name(generator)
    if not isinstance(generator, HasStateLatents):
        raise AssertionError(f"{name} has no state_latents (invprob.generator.HasStateLatents)")
    names = generator.state_latents
    if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
        raise AssertionError(f"{name}.state_latents must be a tuple of names (str), got {names!r}")
    if len(set(names)) != len(names) or IMAGE in names:
        raise AssertionError(f"{name}.state_latents must name distinct state entries other than {IMAGE!r}, got {names}")
    generator.eval()
    latents = generator.sample_latent(batch, seeded(seed))
    carried: set[str] = set()
    with torch.no_grad():
        for k in range(generator.num_stages + 1):
            state = generator.split(k)[0](latents)
            for entry in set(names) & set(state):
                if not isinstance(state[entry], torch.Tensor) or state[entry].shape[:1] != (batch,):
                    got = tuple(state[entry].shape) if isinstance(state[entry], torch.Tensor) else type(state[entry]).__name__
                    raise AssertionError(f"state latent {entry!r} at split k={k} is {got}, expected a [{batch}, ...] tensor")
            carried |= set(state)
    missing = [entry for entry in names if entry not in carried]
    if missing:
        raise AssertionError(
            f"{name}.state_latents names {missing}, which no split state carries (the states have {sorted(carried)})"
        )


def check_gaussian_fit(generator: Generator, *, samples: int = 256, seed: int = 0) -> None:
    """:class:`~invprob.generator.HasGaussianFit`: ``gaussian_fit(samples, seed=seed)`` returns a
    finite mean ``[D]`` and a symmetric covariance ``[D, D]`` with non-negative variances, on the
    generator's device, ``D`` the width of its ``w``/``w+`` latent when it has one; the same
    arguments give the same fit."""
    name = generator_name(generator)
    if not isinstance(generator, HasGaussianFit):
        raise AssertionError(f"{name} has no gaussian_fit (invprob.generator.HasGaussianFit)")
    fit = generator.gaussian_fit(samples, seed=seed)
    if not (isinstance(fit, tuple) and len(fit) == 2 and all(isinstance(t, torch.Tensor) for t in fit)):
        raise AssertionError(f"{name}.gaussian_fit must return (mean, covariance) tensors, got {type(fit).__name__}")
    mean, covariance = fit
    width = mean.shape[0] if mean.dim() == 1 else None
    if width is None or tuple(covariance.shape) != (width, width):
        raise AssertionError(
            f"{name}.gaussian_fit gave mean {tuple(mean.shape)} and covariance {tuple(covariance.shape)}; expected [D] and [D, D]"
        )
    style = next((generator.latent_spaces[s] for s in ("w+", "w") if s in generator.latent_spaces), None)
    if style is not None and style.shape[-1] != width:
        raise AssertionError(f"{name}.gaussian_fit is over {width} entries, its {style.name!r} latent has {style.shape[-1]}")
    device = next(generator.parameters(), torch.empty(0)).device
    if mean.device != device or covariance.device != device:
        raise AssertionError(f"{name}.gaussian_fit returned tensors on {mean.device}, the generator is on {device}")
    assert_finite(mean, "the gaussian_fit mean")
    assert_finite(covariance, "the gaussian_fit covariance")
    assert_close(covariance.T, covariance, 1e-5, "the gaussian_fit covariance against its transpose")
    if bool((covariance.diagonal() < 0).any()):
        raise AssertionError(f"{name}.gaussian_fit's covariance has negative variances on its diagonal")
    again = generator.gaussian_fit(samples, seed=seed)
    assert_close(again[0], mean, 1e-6, "gaussian_fit's mean for the same samples and seed")
    assert_close(again[1], covariance, 1e-6, "gaussian_fit's covariance for the same samples and seed")


def check_lcm_info(generator: Generator) -> None:
    """:class:`~invprob.generator.HasLCMInfo`: ``lcm_info`` has ``manifold`` (None, or a JSON-able
    mapping: the solver compares it by its JSON) and ``bound`` (None, or a positive finite number)."""
    name = generator_name(generator)
    if not isinstance(generator, HasLCMInfo):
        raise AssertionError(f"{name} has no lcm_info (invprob.generator.HasLCMInfo)")
    info = generator.lcm_info
    if not isinstance(info, LCMInfo):
        raise AssertionError(f"{name}.lcm_info must have 'manifold' and 'bound' (invprob.generator.LCMInfo), got {info!r}")
    if info.manifold is not None:
        if not isinstance(info.manifold, Mapping):
            raise AssertionError(f"{name}.lcm_info.manifold must be a mapping or None, got {type(info.manifold).__name__}")
        try:
            json.dumps(dict(info.manifold))
        except (TypeError, ValueError) as exc:
            raise AssertionError(f"{name}.lcm_info.manifold must be JSON-able: {exc}") from None
    bound = info.bound
    if bound is not None and not (isinstance(bound, (int, float)) and math.isfinite(bound) and bound > 0):
        raise AssertionError(f"{name}.lcm_info.bound must be None or a positive finite number, got {bound!r}")


class GeneratorConformance(ConformanceSuite):
    """The generator suite: subclass it and set ``distribution``.

    A generator decides its own output shape (``generator.image_shape``); the suite builds it
    with ``image_shapes`` in the context, by default one shape.
    """

    kind = "generators"
    expected_type = Generator
    image_shapes = [(3, 16, 16)]

    def test_split_reproduces_forward_at_every_stage(self, case: ComponentCase) -> None:
        check_split_invariant(self.build(case), batch=self.batch_size)

    def test_latent_sampling_is_seeded(self, case: ComponentCase) -> None:
        check_sampling_is_seeded(self.build(case), batch=self.batch_size)

    def test_latents_match_on_cuda(self, case: ComponentCase) -> None:
        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA device")
        check_latents_match_across_devices(self.build(case), batch=self.batch_size)

    def test_output_shape_and_range(self, case: ComponentCase) -> None:
        check_output_shape_and_range(self.build(case), batch=self.batch_size)

    def test_discriminator_scores_generated_images(self, case: ComponentCase) -> None:
        generator = self.build(case)
        if generator.discriminator is None:
            pytest.skip(f"{case.name} has no discriminator")
        check_discriminator(generator, batch=self.batch_size)

    def test_optional_capabilities_behave_as_declared(self, case: ComponentCase) -> None:
        """Every capability protocol the generator has, checked (one build for all of them)."""
        generator = self.build(case)
        checks = {
            HasStateLatents: lambda: check_state_latents(generator, batch=self.batch_size),
            HasGaussianFit: lambda: check_gaussian_fit(generator),
            HasLCMInfo: lambda: check_lcm_info(generator),
        }
        present = [check for capability, check in checks.items() if isinstance(generator, capability)]
        if not present:
            pytest.skip(f"{case.name} has none of the optional capabilities ({', '.join(c.__name__ for c in checks)})")
        for check in present:
            check()


__all__ = [
    "GeneratorConformance",
    "check_discriminator",
    "check_gaussian_fit",
    "check_lcm_info",
    "check_latents_match_across_devices",
    "check_output_shape_and_range",
    "check_sampling_is_seeded",
    "check_split_invariant",
    "check_state_latents",
]
