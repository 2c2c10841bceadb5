"""The entry point of ``invprob-plugin-torch-module``: it registers no component and no command.

The adapter is a library (``invprob.adapt_generator``), not a component a recipe names: the
generator it returns is given where a recipe dict takes its generator. Declaring the entry
point is what makes it an installed invprob plugin: ``invprob plugins`` lists it with its
version and every run records that version in its ``environment.json``. This module imports
nothing, so loading it costs nothing.
"""
