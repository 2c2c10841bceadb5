"""Poisson blending: observed pixels kept, Δx = ΔG(z) in the hole, nothing read from the hole of y."""

from __future__ import annotations

import torch

from invprob_plugin_yeh.blending import poisson_blend


def _setup(seed: int = 0, batch: int = 2, channels: int = 3, size: int = 12):
    rng = torch.Generator().manual_seed(seed)
    generated = 0.3 * (torch.rand(batch, channels, size, size, generator=rng) * 2 - 1)
    observation = 0.3 * (torch.rand(batch, channels, size, size, generator=rng) * 2 - 1)
    mask = torch.ones(1, 1, size, size)
    mask[..., 3:8, 2:9] = 0
    return generated, observation, mask


def _laplacian(image: torch.Tensor) -> torch.Tensor:
    """sum over in-image 4-neighbours q of (x_p - x_q)."""
    padded = torch.nn.functional.pad(image, (1, 1, 1, 1))
    inside = torch.nn.functional.pad(torch.ones_like(image), (1, 1, 1, 1))
    total = torch.zeros_like(image)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        rows = slice(1 + dy, padded.shape[-2] - 1 + dy)
        cols = slice(1 + dx, padded.shape[-1] - 1 + dx)
        total += inside[..., rows, cols] * (image - padded[..., rows, cols])
    return total


def test_observed_pixels_are_the_observation_exactly():
    generated, observation, mask = _setup()
    blended = poisson_blend(generated, observation, mask)
    observed = mask.expand_as(blended).bool()
    assert torch.equal(blended[observed], observation[observed])


def test_laplacian_matches_the_generated_image_inside_the_hole():
    generated, observation, mask = _setup()
    blended = poisson_blend(generated.double(), observation.double(), mask, clamp=False)
    hole = ~mask.expand_as(blended).bool()
    torch.testing.assert_close(_laplacian(blended)[hole], _laplacian(generated.double())[hole], atol=1e-5, rtol=0)


def test_values_of_the_observation_inside_the_hole_never_reach_the_result():
    generated, observation, mask = _setup()
    tampered = observation.clone()
    hole = ~mask.expand_as(observation).bool()
    tampered[hole] = torch.randn(int(hole.sum()))  # e.g. ground truth leaking into y's hole
    assert torch.equal(poisson_blend(generated, observation, mask), poisson_blend(generated, tampered, mask))


def test_a_generated_image_that_agrees_with_the_observation_is_returned_unchanged():
    generated, _, mask = _setup()
    blended = poisson_blend(generated.double(), generated.double() * mask, mask, clamp=False)
    torch.testing.assert_close(blended, generated.double(), atol=1e-6, rtol=0)


def test_constant_colour_offset_is_removed_in_the_hole():
    """The point of blending: G(z) with the right content but shifted intensities fits in."""
    generated, _, mask = _setup()
    truth = generated.double()
    blended = poisson_blend(truth + 0.2, truth * mask, mask, clamp=False)
    torch.testing.assert_close(blended, truth, atol=1e-5, rtol=0)


def test_per_image_and_per_channel_masks_and_a_fully_missing_channel():
    generated, observation, _ = _setup(batch=2, channels=2)
    mask = torch.ones(2, 2, 12, 12)
    mask[0, 0, :6] = 0
    mask[1, 1] = 0  # no observed pixel at all: the hole has no boundary, the result is G(z)
    blended = poisson_blend(generated.double(), observation.double(), mask, clamp=False)
    assert torch.isfinite(blended).all()
    torch.testing.assert_close(blended[1, 1], generated[1, 1].double(), atol=1e-4, rtol=0)
    torch.testing.assert_close(blended[0, 1], observation[0, 1].double())


def test_a_hole_with_an_observed_boundary_gets_the_exact_poisson_solution_without_bias():
    """The regulariser that fixes the constant of boundary-free holes stays out of bounded ones.

    ``truth + offset`` has the Laplacian of ``truth``, and the boundary is ``truth``: the exact
    Poisson solution is ``truth`` itself. A term ``eps (x - g)`` on every hole pixel would pull
    the large hole towards ``g`` by about ``eps * size² * offset`` (≈ 1e-4 here).
    """
    rng = torch.Generator().manual_seed(1)
    truth = torch.rand(1, 1, 96, 96, generator=rng, dtype=torch.float64) * 2 - 1
    mask = torch.ones(1, 1, 96, 96, dtype=torch.float64)
    mask[..., 4:92, 4:92] = 0
    blended = poisson_blend(truth + 0.5, truth * mask, mask, clamp=False)
    torch.testing.assert_close(blended, truth, atol=1e-10, rtol=0)


def test_only_a_channel_with_nothing_observed_is_regularised():
    import numpy as np

    from invprob_plugin_yeh.blending import unbounded_hole_regions

    observed = np.ones((6, 7), dtype=bool)
    observed[1:5, 1:6] = False
    assert not unbounded_hole_regions(observed).any()
    assert unbounded_hole_regions(np.zeros((6, 7), dtype=bool)).all()
