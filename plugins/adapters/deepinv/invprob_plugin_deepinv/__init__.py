"""invprob-plugin-deepinv: deepinv's physics as invprob operators (:func:`from_deepinv`) and
invprob's operators as deepinv physics (:func:`to_deepinv`); the conversion is described in
:mod:`invprob_plugin_deepinv.adapter` and the distribution's README.

The names are imported on first use: loading the entry point (``invprob plugins``, every
command) must not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["DeepinvOperator", "from_deepinv", "to_deepinv"]

if TYPE_CHECKING:
    from invprob_plugin_deepinv.adapter import DeepinvOperator, from_deepinv, to_deepinv


def __getattr__(name: str) -> Any:
    if name in __all__:
        from invprob_plugin_deepinv import adapter

        return getattr(adapter, name)
    raise AttributeError(f"module 'invprob_plugin_deepinv' has no attribute {name!r}")
