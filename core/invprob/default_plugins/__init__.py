"""The core's own components, registered through the ``invprob`` entry-point group like any plugin."""
