"""A user's own objects in a run: a plain ``nn.Module`` as the generator, live components in a
recipe dict.

**Generators.** :func:`adapt_generator` wraps any ``nn.Module`` that maps a latent batch
``[B, *latent_shape]`` to images ``[B, C, H, W]`` into an :class:`invprob.generator.Generator`:
it declares the latent's shape and distribution (``normal``, N(0, 1), or ``uniform``,
U(-1, 1)), and maps the module's output range (``(-1, 1)``, a tanh output, or ``(0, 1)``, a
sigmoid output) to invprob's [-1, 1]. The wrapped generator is one stage, so it splits at
``k = 0`` and ``k = 1`` only: CSGM, PULSE and the latent priors work with it; ILO's deeper
layers need a generator that lists its stages.

**Live components.** From Python, a recipe dict may hold objects instead of
``{type, params}`` in its component sections: ``generator`` (an invprob ``Generator``, for
instance an adapted module), ``operator`` (an invprob ``Operator``, for instance a deepinv
physics through :func:`invprob.deepinv.from_deepinv`), ``priors``/``losses`` items (or a loss
``{type: <object>, weight: 2}``) and ``solver``. :func:`extract_live_components` replaces
each by ``{type: "python:<section>"}`` and keeps the object; :func:`with_live_components`
gives a registry in which those names build the objects, so the recipe validates, builds and
runs as any other, and ``recipe.resolved.yaml`` says which sections came from Python.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import nn

from invprob.generator import IMAGE, Generator, LatentSpace, TensorStage
from invprob.params import Params
from invprob.registry import Component, Components, Registry

LIVE_DISTRIBUTION = "python"
"""The distribution live components are said to come from: ``type: python:<section>``."""


class _OutputRange(nn.Module):
    """Maps ``[low, high]`` to [-1, 1]."""

    def __init__(self, module: nn.Module, low: float, high: float):
        super().__init__()
        self.module = module
        self.low, self.high = float(low), float(high)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        image = self.module(z)
        if (self.low, self.high) == (-1.0, 1.0):
            return image
        return (image - self.low) * (2.0 / (self.high - self.low)) - 1.0


class AdaptedGenerator(Generator):
    """A user's ``nn.Module`` as a one-stage invprob generator (see :func:`adapt_generator`)."""

    def __init__(
        self,
        module: nn.Module,
        latent: LatentSpace,
        image_shape: tuple[int, int, int],
        output_range: tuple[float, float],
    ):
        super().__init__()
        self.network = _OutputRange(module, *output_range)
        self.latent_spaces = {latent.name: latent}
        self.image_shape = image_shape
        self.output_range = output_range

    @property
    def stages(self) -> list[nn.Module]:
        return [TensorStage(self.network, self.primary_latent.name, IMAGE)]


def adapt_generator(
    module: nn.Module,
    latent_shape: tuple[int, ...] | int,
    *,
    distribution: Literal["normal", "uniform"] = "normal",
    output_range: tuple[float, float] = (-1.0, 1.0),
    latent_name: str = "z",
    image_shape: tuple[int, int, int] | None = None,
) -> AdaptedGenerator:
    """``module`` (latents ``[B, *latent_shape]`` -> images ``[B, C, H, W]``) as an invprob generator.

    ``distribution`` is the one the module was trained with: ``"normal"`` (N(0, 1)) or
    ``"uniform"`` (U(-1, 1)); ``output_range`` the range of its images, mapped to [-1, 1]
    (``(0, 1)`` for a sigmoid output). ``image_shape`` is found by running the module once on
    one latent when not given. The module is put in eval mode with gradients off, as a run
    uses every generator::

        G = invprob.adapt_generator(my_dcgan, latent_shape=(100, 1, 1), output_range=(-1, 1))
        invprob.run({..., "generator": G, "solver": {"type": "csgm", "params": {"steps": 500}}})
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"adapt_generator takes a torch.nn.Module, got {type(module).__name__}")
    shape = (latent_shape,) if isinstance(latent_shape, int) else tuple(int(s) for s in latent_shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"latent_shape must be positive sizes, got {latent_shape}")
    low, high = (float(v) for v in output_range)
    if not high > low:
        raise ValueError(f"output_range must be (low, high) with low < high, got {output_range}")
    latent = LatentSpace(latent_name, shape, distribution)
    module = module.eval().requires_grad_(False)
    if image_shape is None:
        parameter = next(module.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        with torch.no_grad():
            image = module(latent.sample(1, torch.Generator().manual_seed(0), device=device))
        if not isinstance(image, torch.Tensor) or image.dim() != 4 or image.shape[1] not in (1, 3):
            got = list(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise ValueError(
                f"the module must map latents [B, {', '.join(map(str, shape))}] to images [B, C, H, W] with C = 1 or 3; "
                f"it returned {got}"
            )
        image_shape = tuple(int(s) for s in image.shape[1:])  # type: ignore[assignment]
    return AdaptedGenerator(module, latent, tuple(image_shape), (low, high))  # type: ignore[arg-type]


# -- live components in a recipe dict ------------------------------------------------------

_SECTIONS: dict[str, tuple[str, type]] = {
    "generator": ("generators", Generator),
    "operator": ("operators", nn.Module),
    "priors": ("priors", object),
    "losses": ("losses", object),
    "solver": ("solvers", object),
}
_HINTS = {
    "generator": "wrap a plain nn.Module with invprob.adapt_generator(module, latent_shape=...)",
    "operator": "subclass invprob.operator.Operator (A, A_adjoint), or wrap a deepinv physics with "
    "invprob.deepinv.from_deepinv(physics)",
}


def _is_live(value: Any) -> bool:
    return value is not None and not isinstance(value, (Mapping, str, int, float, bool, list, tuple))


def extract_live_components(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    """``data`` with every live object replaced by ``{type: "python:<name>"}``, and
    ``{(kind, name): object}``. Raises ``TypeError`` for an object of the wrong kind."""
    from invprob.operator import Operator

    out = dict(data)
    live: dict[tuple[str, str], Any] = {}

    def placeholder(section: str, name: str, value: Any) -> dict[str, Any]:
        kind, expected = _SECTIONS[section]
        if section == "operator" and not isinstance(value, Operator):
            expected = Operator
        if not isinstance(value, expected):
            hint = _HINTS.get(section, "")
            raise TypeError(
                f"{section}: a {type(value).__name__} object is not an invprob {expected.__name__}"
                + (f"; {hint}" if hint else "")
            )
        live[(kind, name)] = value
        return {"type": f"{LIVE_DISTRIBUTION}:{name}"}

    for section in _SECTIONS:
        value = data.get(section)
        if isinstance(value, list):
            items = []
            for index, item in enumerate(value):
                name = f"{section}-{index}"
                if _is_live(item):
                    items.append(placeholder(section, name, item))
                elif isinstance(item, Mapping) and _is_live(item.get("type")):
                    items.append({**item, **placeholder(section, name, item["type"])})
                else:
                    items.append(item)
            out[section] = items
        elif _is_live(value):
            out[section] = placeholder(section, section, value)
    return out, live


def with_live_components(registry: Registry, live: Mapping[tuple[str, str], Any]) -> Registry:
    """A copy of ``registry`` where ``python:<name>`` builds each live object (the original is
    untouched, so nothing of one run stays in the process-wide registry)."""
    if not live:
        return registry
    child = copy.copy(registry)
    child.components = {}
    for kind, named in registry.components.items():
        copied = Components()
        dict.update(copied, named)
        copied.qualified = dict(named.qualified)
        child.components[kind] = copied
    for (kind, name), value in live.items():
        child.components[kind].qualified[f"{LIVE_DISTRIBUTION}:{name}"] = Component(
            kind=kind,
            name=name,
            factory=lambda params, context, value=value: value,
            params_model=_live_params_model(value),
            distribution=LIVE_DISTRIBUTION,
            description=f"a {type(value).__name__} object given from Python",
        )
    return child


def _live_params_model(value: Any) -> type[Params]:
    """A params model (no params) declaring what the object is: a masking operator, a prior or
    solver that needs the generator's latent (as the object says, ``needs_generator``)."""
    provides_mask = False
    observed_mask = getattr(value, "observed_mask", None)
    if callable(observed_mask):
        try:
            provides_mask = observed_mask() is not None
        except Exception:  # noqa: BLE001 - an operator that cannot tell has no declared mask
            provides_mask = False
    attributes = {
        "__doc__": f"A {type(value).__name__} object given from Python.",
        "provides_mask": provides_mask,
        "needs_generator": bool(getattr(value, "needs_generator", False)),
        "needs_mask": bool(getattr(value, "needs_mask", False)),
    }
    return type(f"Live{type(value).__name__}Params", (Params,), attributes)
