"""The CSGM recipe's z-prior weight is Bora et al.'s lambda at their code's balance, for the mean `mse`."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from invprob.testing.toys import make_toy_problem

REPO = Path(__file__).resolve().parents[4]
SHARED = REPO.parent / "shared"
PAPER_LAMBDA = 0.001  # Bora et al.'s code: mean_j (y - x A)_j^2 + 0.001 ||z||^2, A's rows sqrt(n) e_i (inpainting)


def test_the_mse_loss_is_the_sum_over_measurement_entries_divided_by_their_number():
    """What the rescaling rests on (docs/solvers.md, "Loss normalisation")."""
    problem = make_toy_problem(batch=2)
    image = torch.rand(2, *problem.image_shape) * 2 - 1
    residual = problem.operator.A(image) - problem.observation
    summed = residual.pow(2).reshape(2, -1).sum(dim=1)
    torch.testing.assert_close(problem.measurement_loss(image), summed / residual[0].numel())


def test_the_dcgan32_recipe_weights_the_gaussian_prior_as_the_paper_does():
    if not (SHARED / "weights" / "dcgan32-celeba" / "generator.pt").is_file():
        pytest.skip("../shared/weights/dcgan32-celeba is absent")
    import invprob
    from invprob.recipe import known_image_shape

    recipe = invprob.load_recipe(REPO / "recipes" / "csgm-inpaint-dcgan32.yaml")
    (prior,) = [p for p in recipe.priors if p.type == "gaussian-norm"]
    assert [loss.type for loss in recipe.losses] == ["mse"]
    shape = known_image_shape(recipe)
    entries = math.prod(shape)  # inpainting: the measurement is image-shaped
    assert entries == 3 * 32 * 32
    observed = entries - 3 * 16 * 16  # the centre hole of fraction 0.5: 16 x 16 pixels
    assert recipe.operator.params == {"fraction": 0.5}
    # Bora's loss is entries^2 / observed times our mse: the same balance is lambda * m / n^2
    assert prior.params["weight"] == pytest.approx(PAPER_LAMBDA * observed / entries**2, rel=0.002)
