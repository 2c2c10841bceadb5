"""Conformance of generators: split invariant, seeded sampling, output shape and range.

A generator ``G = g_{K-1} ∘ ... ∘ g_0`` split at ``k`` into ``G1 = g_{k-1} ∘ ... ∘ g_0`` and
``G2 = g_{K-1} ∘ ... ∘ g_k`` must satisfy ``G2(G1(z)) == G(z)`` for every ``0 <= k <= K``:
solvers like ILO optimise the intermediate state and rely on it.
"""

from __future__ import annotations

import pytest
import torch

from invprob.generator import Generator
from invprob.testing.numerics import (
    assert_close,
    assert_finite,
    global_rng_scrambled,
    seeded,
    shapes_of,
    trees_equal,
)
from invprob.testing.suite import ComponentCase, ConformanceSuite

RANGE_SLACK = 1e-5


def check_split_invariant(generator: Generator, *, batch: int = 2, seed: int = 0, tol: float = 1e-5) -> None:
    """``G2(G1(z)) == G(z)`` (relative error ``<= tol``) at every split ``k`` in ``0..num_stages``."""
    generator.eval()
    latent = generator.sample_latent(batch, seeded(seed))
    with torch.no_grad():
        reference = generator(latent)
        for k in range(generator.num_stages + 1):
            first, second = generator.split(k)
            assert_close(second(first(latent)), reference, tol, f"G2(G1(z)) against G(z) when split at k={k}")


def check_sampling_is_seeded(generator: Generator, *, batch: int = 2, seed: int = 0) -> None:
    """``sample_latent`` depends only on the ``torch.Generator`` it is given: same seed, same
    latents (whatever torch's global RNG is); different seeds, different latents."""
    with global_rng_scrambled(1):
        first = generator.sample_latent(batch, seeded(seed))
    with global_rng_scrambled(2):
        again = generator.sample_latent(batch, seeded(seed))
    if not trees_equal(first, again):
        raise AssertionError(
            "sample_latent gave different latents for the same seed: draw only from the torch.Generator "
            "passed in, never from torch's global RNG"
        )
    if trees_equal(first, generator.sample_latent(batch, seeded(seed + 1))):
        raise AssertionError("sample_latent gave identical latents for two different seeds")


def check_output_shape_and_range(generator: Generator, *, batch: int = 2, seed: int = 0) -> None:
    """``G(z)`` has shape ``(B, *image_shape)``, is finite, and lies in [-1, 1]."""
    generator.eval()
    latent = generator.sample_latent(batch, seeded(seed))
    with torch.no_grad():
        image = generator(latent)
    expected = (batch, *generator.image_shape)
    if tuple(image.shape) != expected:
        raise AssertionError(
            f"G(z) for latents {shapes_of(latent)} has shape {tuple(image.shape)}, expected {expected} "
            "(batch, *generator.image_shape)"
        )
    assert_finite(image, "G(z)")
    low, high = float(image.min()), float(image.max())
    if low < -1 - RANGE_SLACK or high > 1 + RANGE_SLACK:
        raise AssertionError(f"G(z) spans [{low:.4g}, {high:.4g}]: generators must return images in [-1, 1]")


def check_discriminator(generator: Generator, *, batch: int = 2, seed: int = 0) -> None:
    """``D(G(z))`` is finite and has one leading entry per image."""
    if generator.discriminator is None:
        raise ValueError("this generator has no discriminator")
    generator.eval()
    with torch.no_grad():
        scores = generator.discriminator(generator(generator.sample_latent(batch, seeded(seed))))
    if scores.dim() == 0 or scores.shape[0] != batch:
        raise AssertionError(f"D(G(z)) has shape {tuple(scores.shape)}: its first dimension must be the batch, {batch}")
    assert_finite(scores, "D(G(z))")


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

    def test_output_shape_and_range(self, case: ComponentCase) -> None:
        check_output_shape_and_range(self.build(case), batch=self.batch_size)

    def test_discriminator_scores_generated_images(self, case: ComponentCase) -> None:
        generator = self.build(case)
        if generator.discriminator is None:
            pytest.skip(f"{case.name} has no discriminator")
        check_discriminator(generator, batch=self.batch_size)


__all__ = [
    "GeneratorConformance",
    "check_discriminator",
    "check_output_shape_and_range",
    "check_sampling_is_seeded",
    "check_split_invariant",
]
