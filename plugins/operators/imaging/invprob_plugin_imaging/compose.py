"""Composition of operators given by name, applied first to last.

``operators: [op_1, ..., op_k]`` builds ``A = A_k ∘ ... ∘ A_1`` from the core's
``ComposedOperator`` (``op_2 * op_1``). Each operator is built for the output shape of the
previous one (found by applying it to a zero image). Operator ``i > 0`` is built with the seed
``stream_seed(seed, "compose[i]")``, a hashed sub-stream, so two random masks in one chain
differ while the first operator is drawn exactly as it would be alone. Only the last operator may carry noise (the
noise of the composition): noise in the middle of a chain would not be a forward model
``noise(A(x))``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch

from invprob.operator import NoiseModel, Operator
from invprob.params import ComponentSpec
from invprob.seeding import stream_seed



def has_noise(operator: Operator) -> bool:
    """Whether the operator's noise model does anything (is not the core's no-op)."""
    return type(operator.noise) is not NoiseModel


def build_composition(specs: Sequence[ComponentSpec], context: Any) -> Operator:
    """``A_k ∘ ... ∘ A_1`` from the specs through ``context.registry``, each with the params
    recipe validation kept with it (validated now only for a spec made outside a recipe)."""
    if not specs:
        raise ValueError("compose needs at least one operator in 'operators'")
    shape = context.image_shape
    built: list[Operator] = []
    for index, spec in enumerate(specs):
        name = spec.type
        sub_context = dataclasses.replace(context, image_shape=shape, seed=_sub_seed(context.seed, index))
        try:
            params = context.registry.spec_params("operators", spec, sub_context.base_dir)
            operator = context.registry.build("operators", name, params, sub_context)
        except Exception as exc:
            raise ValueError(f"compose: operators[{index}] ({name}) could not be built: {exc}") from exc
        if has_noise(operator) and index < len(specs) - 1:
            raise ValueError(
                f"compose: operators[{index}] ({name}) has noise but is not the last operator; "
                "put the noise on the last operator (or append a 'denoise' operator)"
            )
        built.append(operator)
        shape = _output_image_shape(operator, shape, context.device)
    composed = built[0]
    for operator in built[1:]:
        composed = operator * composed
    return composed


def _sub_seed(seed: int, index: int) -> int:
    """The seed operator ``index`` of a chain is built with: the chain's own for the first."""
    return seed if index == 0 else stream_seed(seed, f"compose[{index}]")


def _output_image_shape(operator: Operator, shape: tuple[int, int, int] | None, device: str):
    if shape is None:
        return None
    with torch.no_grad():
        out = operator.A(torch.zeros(1, *shape, device=device))
    return tuple(out.shape[1:]) if out.dim() == 4 else None
