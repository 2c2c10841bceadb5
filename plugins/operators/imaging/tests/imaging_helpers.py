"""Shared helpers of the imaging plugin's tests: a registry with only this plugin loaded."""

from __future__ import annotations

from pathlib import Path

import torch

from invprob.context import BuildContext
from invprob.registry import new_registry

REPO_ROOT = Path(__file__).resolve().parents[4]
SHARED = REPO_ROOT.parent / "shared"
SHAPES = [(3, 16, 16), (1, 16, 24)]

_REGISTRY = None


def registry():
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = new_registry(strict=True, only={"invprob-plugin-imaging"})
    return _REGISTRY


def build(name: str, params: dict, shape=(3, 16, 16), seed: int = 0):
    context = BuildContext(registry=registry(), image_shape=shape, seed=seed)
    return registry().build("operators", name, params, context)


def examples(linear_only: bool = False):
    """(name, params, shape) for every registered example of this plugin, on both test shapes."""
    cases = []
    for name in registry().names("operators"):
        component = registry().get("operators", name)
        if component.distribution != "invprob-plugin-imaging":
            continue
        for params in component.examples:
            for shape in SHAPES:
                if linear_only and not build(name, params, shape).linear:
                    continue
                cases.append((name, params, shape))
    return cases


def case_id(case) -> str:
    name, params, shape = case
    return f"{name}-{params}-{'x'.join(map(str, shape))}"


def images(shape, batch: int = 2, dtype=torch.float32, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, *shape, generator=generator, dtype=dtype) * 2 - 1
