"""invprob-plugin-deepinv: deepinv's physics as invprob operators (:func:`from_deepinv`) and
invprob's operators as deepinv physics (:func:`to_deepinv`); the conversion is described in
:mod:`invprob_plugin_deepinv.adapter` and the distribution's README."""

from invprob_plugin_deepinv.adapter import DeepinvOperator, from_deepinv, to_deepinv

__all__ = ["DeepinvOperator", "from_deepinv", "to_deepinv"]
