"""The generator interface: latents to images in [-1, 1], as a sequence of splittable stages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

Latent = Any  # a tensor, or a dict of tensors for generators with several latent spaces


@dataclass(frozen=True)
class LatentSpace:
    """A latent space: its per-sample shape and the distribution the generator was trained on."""

    name: str
    shape: tuple[int, ...]
    distribution: Literal["normal", "uniform"] = "normal"

    def sample(
        self,
        batch: int,
        generator: torch.Generator | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """Draw ``batch`` latents; ``uniform`` means U(-1, 1), ``normal`` N(0, 1)."""
        device = torch.device(device) if device is not None else (generator.device if generator else None)
        shape = (batch, *self.shape)
        if self.distribution == "uniform":
            return torch.rand(shape, generator=generator, device=device, dtype=dtype) * 2 - 1
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)


class Stages(nn.Module):
    """Runs a contiguous run of generator stages; the empty run is the identity."""

    def __init__(self, stages: Sequence[nn.Module]):
        super().__init__()
        self.stages = nn.ModuleList(stages)

    def forward(self, state: Any) -> Any:
        for stage in self.stages:
            state = stage(state)
        return state


class Generator(nn.Module):
    """Maps a latent to an image batch ``[B, C, H, W]`` in [-1, 1].

    A generator is the composition of ``self.stages`` (an ``nn.ModuleList``): stage 0 takes
    the latent, the last stage returns the image, and each stage maps the state the previous
    one produced to the next state (a tensor, or a tuple/dict when the next stage needs more,
    as StyleGAN2 needs the RGB skip and the per-layer latents). ``split(k)`` cuts between
    stage ``k-1`` and stage ``k`` so that ``G2(G1(z)) == G(z)`` for every ``0 <= k <= K``.

    Subclasses set ``stages``, ``image_shape`` and ``latent_spaces``, and ``discriminator``
    where the checkpoint has one.
    """

    stages: nn.ModuleList
    image_shape: tuple[int, int, int]
    latent_spaces: dict[str, LatentSpace]

    @property
    def discriminator(self) -> nn.Module | None:
        """The checkpoint's discriminator (a registered submodule), or None.

        A property rather than a class attribute ``= None``: ``nn.Module`` stores submodules in
        ``_modules`` and a class attribute would shadow the one a subclass assigns.
        """
        return self._modules.get("discriminator")

    @discriminator.setter
    def discriminator(self, module: nn.Module | None) -> None:
        self._modules["discriminator"] = module

    @property
    def num_stages(self) -> int:
        return len(self.stages)

    @property
    def primary_latent(self) -> LatentSpace:
        """The latent space ``forward`` takes (the first one declared)."""
        return next(iter(self.latent_spaces.values()))

    def forward(self, latent: Latent) -> torch.Tensor:
        state = latent
        for stage in self.stages:
            state = stage(state)
        return state

    def split(self, k: int) -> tuple[nn.Module, nn.Module]:
        """``(G1, G2)`` with G1 = stages ``[0, k)`` and G2 = stages ``[k, K)``."""
        if not 0 <= k <= self.num_stages:
            raise ValueError(f"split index {k} is outside [0, {self.num_stages}] for {type(self).__name__}")
        return Stages(list(self.stages[:k])), Stages(list(self.stages[k:]))

    def sample_latent(self, batch: int, generator: torch.Generator | None = None) -> Latent:
        """Latents for ``batch`` images from the training distribution, on this module's device."""
        device = _module_device(self)
        return self.primary_latent.sample(batch, generator, device=device, dtype=_module_dtype(self))


def _module_device(module: nn.Module) -> torch.device:
    for tensor in [*module.parameters(), *module.buffers()]:
        return tensor.device
    return torch.device("cpu")


def _module_dtype(module: nn.Module) -> torch.dtype:
    for tensor in module.parameters():
        return tensor.dtype
    return torch.float32
