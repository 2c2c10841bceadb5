"""A user's own objects in a run: live components in a recipe dict.

From Python, a recipe dict may hold objects instead of ``{type, params}`` in its component
sections: ``generator`` (an invprob ``Generator``, for instance a plain ``nn.Module`` adapted by
``invprob.adapt_generator``, distribution ``invprob-plugin-torch-module``), ``operator`` (an
invprob ``Operator``, for instance a deepinv physics through
``invprob_plugin_deepinv.from_deepinv``), ``priors``/``losses`` items (or a loss
``{type: <object>, weight: 2}``) and ``solver``. :func:`extract_live_components` replaces each
by ``{type: "python:<section>"}`` and keeps the object; :func:`with_live_components` gives a
registry in which those names build the objects, so the recipe validates, builds and runs as
any other, and ``recipe.resolved.yaml`` says which sections came from Python.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from invprob.hints import with_article
from invprob.params import Params
from invprob.registry import Component, Components, Registry

LIVE_DISTRIBUTION = "python"
"""The distribution live components are said to come from: ``type: python:<section>``."""


# -- live components in a recipe dict ------------------------------------------------------

_SECTIONS = {"generator": "generators", "operator": "operators", "priors": "priors", "losses": "losses", "solver": "solvers"}
"""Recipe section -> the kind of the components it takes."""
_HINTS = {
    "generator": "wrap a plain nn.Module with invprob.adapt_generator(module, latent_shape=...)",
    "operator": "subclass invprob.operator.Operator (A, A_adjoint), or wrap a deepinv physics with "
    "invprob_plugin_deepinv.from_deepinv(physics) (pip install invprob-plugin-deepinv)",
}


def _is_live(value: Any) -> bool:
    return value is not None and not isinstance(value, (Mapping, str, int, float, bool, list, tuple))


def extract_live_components(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    """``data`` with every live object replaced by ``{type: "python:<name>"}``, and
    ``{(kind, name): object}``. Raises ``TypeError`` for an object of the wrong kind. Torch is
    imported only when ``data`` holds an object: a plain recipe dict validates without it."""
    out = dict(data)
    live: dict[tuple[str, str], Any] = {}

    def placeholder(section: str, name: str, value: Any) -> dict[str, Any]:
        from invprob.generator import Generator
        from invprob.operator import Operator
        from invprob.unit_range import internal_operator

        expected = {"generator": Generator, "operator": Operator}.get(section, object)
        if section == "operator":
            value = internal_operator(value)
        if not isinstance(value, expected):
            hint = _HINTS.get(section, "")
            raise TypeError(
                f"{section}: {with_article(type(value).__name__)} object is not an invprob {expected.__name__}"
                + (f"; {hint}" if hint else "")
            )
        live[(_SECTIONS[section], name)] = value
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
            description=f"{with_article(type(value).__name__)} object given from Python",
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
