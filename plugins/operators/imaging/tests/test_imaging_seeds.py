"""Random operators are fixed by the recipe seed: same seed, same operator; new seed, new draw."""

from __future__ import annotations

import pytest
import torch
from imaging_helpers import build, case_id, examples, images


@pytest.mark.parametrize("case", examples(), ids=case_id)
def test_same_seed_builds_the_same_operator(case):
    name, params, shape = case
    first, second = build(name, params, shape, seed=7), build(name, params, shape, seed=7)
    for (key, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        torch.testing.assert_close(a, b, msg=f"buffer {key} differs between two builds with one seed")


@pytest.mark.parametrize(
    "name, params",
    [
        ("inpaint-random", {"observed": 0.3}),
        ("inpaint-pattern", {}),
        ("cs-gaussian", {"fraction": 0.1}),
        ("cs-circulant", {"fraction": 0.1, "rows": "random"}),
        ("cs-circulant", {"fraction": 0.1, "distribution": "rademacher"}),
    ],
)
def test_a_different_seed_draws_a_different_operator(name, params):
    x = images((3, 16, 16))
    assert not torch.equal(build(name, params, seed=0).A(x), build(name, params, seed=1).A(x))
