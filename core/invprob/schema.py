"""JSON Schema of recipes, with every installed component's params, for editor completion."""

from __future__ import annotations

from typing import Any

from invprob.recipe import COMPONENT_SECTIONS, Recipe
from invprob.registry import Registry


def _component_variants(registry: Registry, kind: str, defs: dict[str, Any], weighted: bool) -> list[dict[str, Any]]:
    """One ``{type: <name>, params: {...}}`` object schema per installed component of ``kind``."""
    variants = []
    for name in registry.names(kind):
        component = registry.components[kind][name]
        params_schema = component.params_model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(params_schema.pop("$defs", {}))
        properties: dict[str, Any] = {"type": {"const": name}, "params": params_schema}
        if weighted:
            properties["weight"] = {"type": "number", "default": 1.0}
        variants.append(
            {
                "title": f"{name} ({component.distribution})",
                "description": component.description,
                "type": "object",
                "properties": properties,
                "required": ["type"],
                "additionalProperties": False,
            }
        )
    return variants


def _one_of(variants: list[dict[str, Any]]) -> dict[str, Any]:
    return {"oneOf": variants} if variants else {"type": "object"}


def recipe_json_schema(registry: Registry) -> dict[str, Any]:
    """The recipe schema where each component section lists the installed components.

    ``metrics`` lists the installed metrics, by name or as ``{type, params}``.
    """
    schema = Recipe.model_json_schema(ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    for section, kind in COMPONENT_SECTIONS.items():
        variants = _one_of(_component_variants(registry, kind, defs, weighted=(section == "losses")))
        if section in ("priors", "losses"):
            schema["properties"][section] = {"type": "array", "items": variants}
        else:
            schema["properties"][section] = variants
    metrics = _component_variants(registry, "metrics", defs, weighted=False)
    names = {"type": "string", "enum": registry.names("metrics")}
    schema["properties"]["metrics"] = {"type": "array", "items": {"anyOf": [names, *metrics]}}
    schema["title"] = "invprob recipe"
    return schema
