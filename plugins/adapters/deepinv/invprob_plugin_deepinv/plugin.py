"""The entry point of ``invprob-plugin-deepinv``: it registers no component and no command.

The adapter is a library (``from invprob_plugin_deepinv import from_deepinv``), not a component
a recipe names. Declaring the entry point is what makes it an installed invprob plugin:
``invprob plugins`` lists it with its version and every run records that version in its
``environment.json``, so a run given a deepinv physics says which adapter converted it. This
module imports nothing, so loading it costs nothing.
"""
