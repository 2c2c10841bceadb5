"""YAML recipes: their schema, loading with overrides, and two-stage validation.

A recipe names every component as ``{type: <registered name>, params: {...}}``. The package
is split by job, and this module re-exports the names used from outside it:

- :mod:`~invprob.recipe.schema`: the recipe model (stage 1), the solver's defaults for omitted
  ``losses``/``priors``, :func:`dump_recipe`;
- :mod:`~invprob.recipe.reading`: a recipe file read as small UTF-8 YAML, within limits;
- :mod:`~invprob.recipe.overrides`: ``a.b.c=value`` and ``~a.b`` on the command line;
- :mod:`~invprob.recipe.loading`: :func:`load_recipe`, the one way in;
- :mod:`~invprob.recipe.validation`: both stages, each component's params validated once;
- :mod:`~invprob.recipe.checks`: what one component needs of another;
- :mod:`~invprob.recipe.problems`: :class:`RecipeProblem`, :class:`RecipeError` and the
  translation of pydantic's errors into the recipe's words.

Torch is not imported here: validating a recipe is instant.
"""

from invprob.recipe.checks import data_path_problems, default_metric_names, known_image_shape, operator_declares_mask
from invprob.recipe.loading import load_recipe
from invprob.recipe.overrides import OverrideError, apply_overrides
from invprob.recipe.problems import RecipeError, RecipeProblem, problems_from_validation_error, short_repr
from invprob.recipe.reading import read_recipe_file
from invprob.recipe.schema import COMPONENT_SECTIONS, DEFAULT_FIT, FitPolicy, Recipe, dump_recipe, solver_default
from invprob.recipe.validation import component_distributions, validate_recipe

__all__ = [
    "COMPONENT_SECTIONS",
    "DEFAULT_FIT",
    "FitPolicy",
    "OverrideError",
    "Recipe",
    "RecipeError",
    "RecipeProblem",
    "apply_overrides",
    "component_distributions",
    "data_path_problems",
    "default_metric_names",
    "dump_recipe",
    "known_image_shape",
    "load_recipe",
    "operator_declares_mask",
    "problems_from_validation_error",
    "read_recipe_file",
    "short_repr",
    "solver_default",
    "validate_recipe",
]
