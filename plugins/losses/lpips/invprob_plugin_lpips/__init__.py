"""LPIPS (Zhang et al., CVPR 2018) for invprob: a perceptual data-fidelity loss and an image metric.

The entry point is :mod:`invprob_plugin_lpips.plugin` (light: no torch at import); the network
is :mod:`.loss`, the metric wrapping it :mod:`.metric`.
"""

__version__ = "0.1.0"
