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
>>> invprob.main(["validate", "recipes/demo.yaml"])   # the ``invprob`` command, in-process # doctest: +SKIP

This module is the public façade, not the kernel: its names are looked up on first use, some
in the application (:mod:`invprob.app`: ``run``, ``build``, ``main``), so that a plugin or a
script reaches the application through these names only and the kernel (every other module of
``invprob``) never imports it (``tests/test_layering.py``). ``adapt_generator`` is the
``invprob-plugin-torch-module`` adapter's, reached here when that distribution is installed.
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
    "main",
    "__version__",
]

_LAZY = {
    "load_recipe": "invprob.recipe",
    "validate_recipe": "invprob.recipe",
    "build": "invprob.app.components",
    "run": "invprob.app.execute",
    "build_component": "invprob.building",
    "build_operator": "invprob.building",
    "build_generator": "invprob.building",
    "build_prior": "invprob.building",
    "build_loss": "invprob.building",
    "build_solver": "invprob.building",
    "adapt_generator": "invprob_plugin_torch_module",
    "main": "invprob.app.cli",
}

if TYPE_CHECKING:
    from invprob.app.components import build
    from invprob.building import build_component, build_generator, build_loss, build_operator, build_prior, build_solver
    from invprob.app.cli import main
    from invprob.app.execute import run
    from invprob.recipe import load_recipe, validate_recipe
    from invprob_plugin_torch_module import adapt_generator


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        try:
            return getattr(importlib.import_module(_LAZY[name]), name)
        except ModuleNotFoundError as exc:
            if exc.name != _LAZY[name] or not exc.name.startswith("invprob_plugin_"):
                raise
            distribution = exc.name.replace("_", "-")  # a first-party plugin's package names its distribution
            raise ImportError(f"invprob.{name} comes with {distribution}, which is not installed: pip install {distribution}") from None
    raise AttributeError(f"module 'invprob' has no attribute {name!r}")
