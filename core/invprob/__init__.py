"""invprob: imaging inverse problems with deep generative priors.

The core defines what generators, operators, priors, losses and solvers are and how plugins
provide them; every method lives in a plugin distribution. Importing ``invprob`` is cheap:
torch and the run machinery are imported on first use of the names below. Images handed in
or got back here are in [0, 1]; components work on [-1, 1] inside (:mod:`invprob.unit_range`).

>>> import invprob
>>> recipe = invprob.load_recipe("recipes/demo.yaml")          # doctest: +SKIP
>>> run = invprob.run(recipe)                                   # doctest: +SKIP
>>> run.directory, run.metrics["mean"]["psnr"], run.reconstructions  # in [0, 1] # doctest: +SKIP
>>> summary = run.summary()   # picklable: directory, names, metrics, environment # doctest: +SKIP
>>> op = invprob.build_operator("downsample", image_shape=(3, 64, 64), factor=4)  # doctest: +SKIP
>>> y = op(images)   # images in [0, 1] -> measurements as deepinv's         # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invprob.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "hookimpl",
    "load_recipe",
    "validate_recipe",
    "build",
    "run",
    "build_component",
    "build_operator",
    "build_generator",
    "build_prior",
    "build_loss",
    "build_solver",
    "adapt_generator",
    "__version__",
]

_LAZY = {
    "load_recipe": "invprob.recipe",
    "validate_recipe": "invprob.recipe",
    "build": "invprob.app.components",
    "run": "invprob.app.execute",
    "build_component": "invprob.app.components",
    "build_operator": "invprob.app.components",
    "build_generator": "invprob.app.components",
    "build_prior": "invprob.app.components",
    "build_loss": "invprob.app.components",
    "build_solver": "invprob.app.components",
    "adapt_generator": "invprob.user_modules",
}

if TYPE_CHECKING:
    from invprob.app.components import build, build_component, build_generator, build_loss, build_operator, build_prior, build_solver
    from invprob.app.execute import run
    from invprob.recipe import load_recipe, validate_recipe
    from invprob.user_modules import adapt_generator


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'invprob' has no attribute {name!r}")
