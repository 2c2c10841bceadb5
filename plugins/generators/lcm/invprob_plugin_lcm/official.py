"""Weights of the authors' LCM code in our modules (srxdev0619/Latent_Convolutional_Models).

``EncDecCelebA``'s ``state_dict`` loads into an :class:`HourglassGenerator` of the same sizes
(``size=128, latent_size=32, latent_channels=in_channels, width=128`` for the published net),
and a ``Latent4LSND``'s into one image's ``phi`` of a :class:`ManifoldNet`. Both nets define
their layers in forward order, as ours do, so the tensors pair up layer by layer; every shape
is checked.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from .hourglass import HourglassConfig, HourglassGenerator

_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d)


def _official_layers(state: Mapping[str, torch.Tensor]) -> list[str]:
    prefixes: list[str] = []
    for key in state:
        prefix = key.rsplit(".", 1)[0]
        if prefix not in prefixes:
            prefixes.append(prefix)
    return prefixes


def load_official_hourglass(generator: HourglassGenerator, state: Mapping[str, torch.Tensor]) -> HourglassGenerator:
    """Copy an ``EncDecCelebA`` ``state_dict`` into ``generator`` (in place; returned)."""
    ours = [m for m in generator.modules() if isinstance(m, _LAYERS)]
    theirs = _official_layers(state)
    if len(ours) != len(theirs):
        raise ValueError(f"the official state has {len(theirs)} layers, this hourglass {len(ours)}: build it with the official sizes")
    with torch.no_grad():
        for module, prefix in zip(ours, theirs):
            for name, tensor in list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False)):
                if name == "num_batches_tracked" and f"{prefix}.{name}" not in state:
                    continue  # a counter, unused with the default momentum
                source = state[f"{prefix}.{name}"]
                if source.shape != tensor.shape:
                    raise ValueError(f"{prefix}.{name} has shape {tuple(source.shape)}, ours {tuple(tensor.shape)}")
                tensor.copy_(source)
    return generator


def official_hourglass_config(state: Mapping[str, torch.Tensor], size: int = 128) -> HourglassConfig:
    """The sizes of the ``EncDecCelebA`` whose ``state_dict`` is ``state`` (``conv1.weight [2w, C, 4, 4]``)."""
    first = state["conv1.weight"]
    return HourglassConfig(size=size, latent_channels=first.shape[1], latent_size=size // 4, width=first.shape[0] // 2)


def official_phi(states: list[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The batched ``phi`` (:class:`ManifoldNet` keys) of ``Latent4LSND`` state dicts, one per image."""
    from invprob_plugin_conv_manifold.manifold import bn_keys, conv_key

    params: dict[str, list[torch.Tensor]] = {}
    for state in states:
        for index in range(4):
            params.setdefault(conv_key(index), []).append(state[f"conv{index + 1}.weight"])
            if index < 3:
                scale, shift = bn_keys(index)
                params.setdefault(scale, []).append(state[f"conv{index + 1}_bn.weight"])
                params.setdefault(shift, []).append(state[f"conv{index + 1}_bn.bias"])
    return {name: torch.stack(values) for name, values in params.items()}
