"""invprob's application: the ``invprob`` command, running a recipe, a run's outputs.

The kernel (every other module of :mod:`invprob`) is what plugins build on; this subpackage
uses the kernel and nothing imports it but the ``invprob`` façade's lazy names, the
``invprob`` console script and the ``invprob.hookspecs`` entry point of its hook
(:mod:`invprob.app.hookspecs`). ``tests/test_layering.py`` holds that direction: no plugin imports
``invprob.app``, and the kernel imports neither ``invprob.app`` nor a plugin.
"""
