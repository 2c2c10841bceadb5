"""Relative comparisons and seeded random inputs shared by the conformance checks.

Every check compares with *relative* errors, ``||a - b|| / ||b||``, computed in float64 (or
complex128) so that the summation itself does not eat the tolerance: a check measures the
component, not the arithmetic of the test.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn


def seeded(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` (a random stream, ``rng``) on ``device`` seeded with ``seed``."""
    rng = torch.Generator(device=device)
    rng.manual_seed(seed)
    return rng


def random_images(
    batch: int,
    image_shape: tuple[int, ...],
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """``batch`` images uniform in [-1, 1] (the range generators produce), reproducibly."""
    images = torch.rand((batch, *image_shape), generator=seeded(seed), dtype=torch.float64) * 2 - 1
    return images.to(device=device, dtype=dtype)


def random_like(reference: torch.Tensor, *, seed: int) -> torch.Tensor:
    """A standard normal tensor with ``reference``'s shape, dtype and device."""
    values = torch.randn(reference.shape, generator=seeded(seed), dtype=_wide(reference.dtype))
    return values.to(device=reference.device, dtype=reference.dtype)


def inner(a: torch.Tensor, b: torch.Tensor) -> float:
    """The real inner product ``Re <a, b>`` accumulated in double precision."""
    a, b = _widen(a), _widen(b)
    return float((a.conj() * b).sum().real)


def norm(a: torch.Tensor) -> float:
    return float(_widen(a).abs().norm())


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """``||actual - expected|| / ||expected||`` in double precision (absolute when expected is 0)."""
    diff = norm(_widen(actual) - _widen(expected).to(_widen(actual).device))
    scale = norm(expected)
    return diff / scale if scale > 0 else diff


def assert_close(actual: torch.Tensor, expected: torch.Tensor, rtol: float, what: str) -> None:
    """Raise an ``AssertionError`` that says ``what`` failed unless the shapes match and the
    relative error is at most ``rtol``."""
    if tuple(actual.shape) != tuple(expected.shape):
        raise AssertionError(f"{what}: got shape {tuple(actual.shape)}, expected {tuple(expected.shape)}")
    error = relative_error(actual, expected)
    if not error <= rtol:  # also catches NaN
        raise AssertionError(f"{what}: relative error {error:.3g} exceeds the tolerance {rtol:g}")


def assert_finite(value: torch.Tensor, what: str) -> None:
    if not bool(torch.isfinite(value).all()):
        bad = int((~torch.isfinite(value)).sum())
        raise AssertionError(f"{what}: {bad} of {value.numel()} values are NaN or infinite")


def assert_tensor_dict(value: Any, what: str) -> None:
    """Raise an ``AssertionError`` unless ``value`` is a dict of tensors (named latents, a state)."""
    if not isinstance(value, Mapping):
        raise AssertionError(f"{what} must be a dict {{name: tensor}}, got {type(value).__name__}")
    wrong = {str(name): type(entry).__name__ for name, entry in value.items() if not isinstance(entry, torch.Tensor)}
    if wrong:
        raise AssertionError(f"{what} must be a dict {{name: tensor}}; these entries are not tensors: {wrong}")


def tensors_of(tree: Any) -> list[torch.Tensor]:
    """The tensors of a latent (a tensor, or a dict/list/tuple of them), in a stable order."""
    if isinstance(tree, torch.Tensor):
        return [tree]
    if isinstance(tree, Mapping):
        return [t for key in sorted(tree) for t in tensors_of(tree[key])]
    if isinstance(tree, (list, tuple)):
        return [t for item in tree for t in tensors_of(item)]
    return []


def shapes_of(tree: Any) -> Any:
    """The structure of a latent with each tensor replaced by its shape."""
    if isinstance(tree, torch.Tensor):
        return tuple(tree.shape)
    if isinstance(tree, Mapping):
        return {key: shapes_of(value) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [shapes_of(item) for item in tree]
    return type(tree).__name__


def trees_equal(a: Any, b: Any) -> bool:
    """Whether two latents have the same structure and bit-identical tensors."""
    if shapes_of(a) != shapes_of(b):
        return False
    return all(torch.equal(x, y) for x, y in zip(tensors_of(a), tensors_of(b)))


def moved(module: nn.Module, *, dtype: torch.dtype | None = None, device: str | None = None) -> nn.Module:
    """A deep copy of ``module`` moved to ``dtype``/``device`` (the original is left alone)."""
    duplicate = copy.deepcopy(module)
    return duplicate.to(device=device, dtype=dtype)


@contextlib.contextmanager
def global_rng_scrambled(seed: int) -> Iterator[None]:
    """Reseed torch's global RNG for the block, then restore it.

    Calling a seeded function twice under different global seeds shows whether it draws only
    from the ``torch.Generator`` it was given.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _wide(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype.is_complex else torch.float64


def _widen(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().to(_wide(tensor.dtype))
