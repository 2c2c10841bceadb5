"""invprob-plugin-imaging: the forward models of ILO, LCM and Yeh et al. as invprob operators.

The entry point is :mod:`invprob_plugin_imaging.plugin` (light: no torch at import). The
operators themselves live in one module per family: :mod:`.masks`, :mod:`.downsample`,
:mod:`.colorize`, :mod:`.sensing` (the FFT maths is the core's :mod:`invprob.ops`), :mod:`.jpeg`,
:mod:`.classifier`, :mod:`.compose`.
"""

__version__ = "0.1.0"
