"""invprob-plugin-example-blur: a Gaussian blur operator, as a template for third-party plugins."""

__version__ = "0.1.0"
