"""The deepinv adapter: the value-range conversion of images, measurements and noise, both
ways, checked against a stand-in implementing deepinv's documented physics interface (and
the README's example run against the real deepinv when it is importable)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import torch
from torch import nn

import invprob
from invprob_plugin_deepinv import from_deepinv, to_deepinv
from invprob.testing.operators import check_adjointness
from invprob.unit_range import RangeError

README = Path(__file__).resolve().parents[1] / "README.md"


class Physics(nn.Module):
    """deepinv.physics.Physics as documented: ``A``, ``noise_model``, ``forward = noise(A(x))``."""

    def __init__(self, A=lambda x: x, noise_model=None, **kwargs):
        super().__init__()
        self._A = A
        self.noise_model = noise_model if noise_model is not None else ZeroNoise()

    def A(self, x, **kwargs):
        return self._A(x)

    def forward(self, x, seed=None, **kwargs):
        return self.noise_model(self.A(x), seed=seed)


class LinearPhysics(Physics):
    """deepinv.physics.LinearPhysics: also ``A_adjoint``."""

    def __init__(self, A=lambda x: x, A_adjoint=lambda y: y, noise_model=None, **kwargs):
        super().__init__(A=A, noise_model=noise_model)
        self._A_adjoint = A_adjoint

    def A_adjoint(self, y, **kwargs):
        return self._A_adjoint(y)


class ZeroNoise(nn.Module):
    def forward(self, x, seed=None, **kwargs):
        return x


class GaussianNoise(nn.Module):
    """deepinv.physics.GaussianNoise (0.5): ``x + sigma * n`` drawn with ``self.rng``; ``seed``
    seeds ``rng`` and is ignored (with a warning) when the model was built without one."""

    def __init__(self, sigma=0.1, rng=None):
        super().__init__()
        self.sigma, self.rng = sigma, rng

    def forward(self, x, seed=None, **kwargs):
        if seed is not None and self.rng is not None:
            self.rng.manual_seed(seed)
        return x + self.sigma * torch.empty_like(x).normal_(generator=self.rng)


def _inpainting(mask: torch.Tensor, noise=None) -> LinearPhysics:
    return LinearPhysics(A=lambda u: mask * u, A_adjoint=lambda y: mask * y, noise_model=noise)


def _images(seed: int = 0, shape=(2, 3, 8, 10)) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def test_a_deepinv_mask_acts_on_0_1_images_as_the_physics_and_on_minus_one_one_inside():
    mask = (torch.rand(1, 3, 8, 10, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    public = from_deepinv(_inpainting(mask), image_shape=(3, 8, 10))
    u = _images()
    x = 2 * u - 1
    y_d = mask * u
    torch.testing.assert_close(public.A(u), y_d)  # the public operator is the physics, on [0, 1]
    torch.testing.assert_close(public.A_adjoint(y_d), mask * y_d)
    with pytest.raises(RangeError, match=r"DeepinvOperator.A: images must be in \[0, 1\].*pass \(x \+ 1\) / 2"):
        public.A(x)
    operator = public.operator  # what a run's solvers use
    torch.testing.assert_close(operator.A(x), mask * x)  # linear: the same map
    torch.testing.assert_close(operator.from_deepinv_measurement(y_d), mask * x)  # 2 y_d - A_d(1)
    torch.testing.assert_close(operator.to_deepinv_measurement(mask * x), y_d)
    assert operator.linear and public.linear
    assert check_adjointness(operator, (3, 8, 10), dtype=torch.float64) < 1e-10


def test_deepinv_noise_is_converted_to_invprob_units_and_seeded_by_the_run():
    noise = GaussianNoise(sigma=0.05)  # built without rng, as deepinv's default
    public = from_deepinv(_inpainting(torch.ones(1, 1, 8, 10), noise), image_shape=(1, 8, 10))
    operator = public.operator
    x = torch.zeros(4, 1, 8, 10)
    noisy = operator(x, torch.Generator().manual_seed(5))
    assert 0.08 < (noisy - x).std().item() < 0.12  # deepinv's 0.05 on [0, 1] is 0.1 on [-1, 1]
    torch.testing.assert_close(operator(x, torch.Generator().manual_seed(5)), noisy)
    assert not torch.equal(operator(x, torch.Generator().manual_seed(6)), noisy)
    assert noise.rng is None  # the generator was lent for the call only
    u = torch.full((4, 1, 8, 10), 0.5)
    torch.testing.assert_close(public(u, torch.Generator().manual_seed(5)), (noisy + 1) / 2)  # deepinv's own scale
    assert 0.04 < (public(u, torch.Generator().manual_seed(5)) - u).std().item() < 0.06


def test_a_non_linear_physics_goes_through_the_range_conversion():
    physics = Physics(A=lambda u: u**2)
    public = from_deepinv(physics, image_shape=(3, 8, 10))
    operator = public.operator
    assert not operator.linear and not public.linear
    u = _images()
    x = 2 * u - 1
    torch.testing.assert_close(operator.A(x), 2 * ((x + 1) / 2) ** 2 - 1)
    torch.testing.assert_close(public.A(u), u**2)
    with pytest.raises(NotImplementedError):
        operator.A_adjoint(x)
    with pytest.raises(NotImplementedError):
        public.A_adjoint(u)


@pytest.mark.parametrize("name, params", [("blur", {"kernel": [[0, 1, 2], [3, 4, 0], [0, 5, 0]]}), ("downsample", {"factor": 2})])
def test_an_invprob_operator_round_trips_through_deepinv(name, params):
    shape = (3, 8, 10)
    public = invprob.build_operator(name, image_shape=shape, **params, noise_sigma=10)
    physics = to_deepinv(public, shape, physics_class=LinearPhysics)
    u = _images()
    torch.testing.assert_close(physics.A(u), public.A(u))  # the same linear map on [0, 1] images
    back = from_deepinv(physics, image_shape=shape)
    torch.testing.assert_close(back.A(u), public.A(u))
    operator, back = public.operator, back.operator  # on [-1, 1], as solvers use them
    x = 2 * u - 1
    torch.testing.assert_close(back.A(x), operator.A(x))
    y = operator.A(x)
    torch.testing.assert_close(back.A_adjoint(y), operator.A_adjoint(y))
    # the noise survives the two conversions: invprob's sigma 10/127.5, seeded
    noisy = back(x, torch.Generator().manual_seed(0))
    assert 0.06 < (noisy - y).std().item() < 0.10
    torch.testing.assert_close(back(x, torch.Generator().manual_seed(0)), noisy)


def test_a_non_linear_invprob_operator_as_deepinv_physics():
    public = invprob.build_operator("jpeg", image_shape=(3, 16, 16), quality=30)
    physics = to_deepinv(public, (3, 16, 16), physics_class=Physics)
    u = _images(shape=(1, 3, 16, 16))
    operator = public.operator
    white = operator.A(torch.ones(1, 3, 16, 16))
    torch.testing.assert_close(physics.A(u), (operator.A(2 * u - 1) + white) / 2)
    torch.testing.assert_close(public.A(u), physics.A(u))  # the public operator is what deepinv gets


@pytest.mark.skipif(importlib.util.find_spec("deepinv") is None, reason="deepinv is not installed (benchmark env only)")
def test_the_readme_example_runs_against_deepinv():
    code = "\n".join(re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S))
    exec(compile(code, str(README), "exec"), {})
