"""invprob: imaging inverse problems with deep generative priors.

The core defines what generators, operators, priors, losses and solvers are and how plugins
provide them; every method lives in a plugin distribution. Importing ``invprob`` is cheap:
torch and the run machinery are imported on first use of the names below.

>>> import invprob
>>> recipe = invprob.load_recipe("recipes/demo.yaml")          # doctest: +SKIP
>>> run = invprob.run(recipe)                                   # doctest: +SKIP
>>> run.directory, run.metrics["mean"]["psnr"]                 # doctest: +SKIP
>>> summary = run.summary()   # picklable: directory, names, metrics, environment # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invprob.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["hookimpl", "load_recipe", "validate_recipe", "build", "run", "__version__"]

_LAZY = {
    "load_recipe": "invprob.recipe",
    "validate_recipe": "invprob.recipe",
    "build": "invprob.components",
    "run": "invprob.execute",
}

if TYPE_CHECKING:
    from invprob.components import build
    from invprob.execute import run
    from invprob.recipe import load_recipe, validate_recipe


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'invprob' has no attribute {name!r}")
