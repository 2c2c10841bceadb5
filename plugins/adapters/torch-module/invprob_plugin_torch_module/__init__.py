"""invprob-plugin-torch-module: a plain ``nn.Module`` as an invprob generator
(:func:`adapt_generator`, also ``invprob.adapt_generator``); see
:mod:`invprob_plugin_torch_module.adapter` and the distribution's README.

The names are imported on first use: loading the entry point (``invprob plugins``, every
command) must not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["AdaptedGenerator", "adapt_generator"]

if TYPE_CHECKING:
    from invprob_plugin_torch_module.adapter import AdaptedGenerator, adapt_generator


def __getattr__(name: str) -> Any:
    if name in __all__:
        from invprob_plugin_torch_module import adapter

        return getattr(adapter, name)
    raise AttributeError(f"module 'invprob_plugin_torch_module' has no attribute {name!r}")
