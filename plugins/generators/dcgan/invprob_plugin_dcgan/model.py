"""The DCGAN of Radford et al. (2016), laid out exactly as the PyTorch-examples ``dcgan/main.py``.

``DcganNetG`` and ``DcganNetD`` hold one ``nn.Sequential`` called ``main``, so their state-dict
keys (``main.0.weight``, ``main.1.running_mean``, ...) are those of the examples' ``netG`` and
``netD`` and an examples checkpoint loads with ``strict=True``. For an image of size
``S = 2**(n+2)`` (32, 64 or 128) the generator is::

    z [B, nz] -> ConvT(nz, ngf*2**(n-1), 4, 1, 0) BN ReLU            -> 4x4
              -> ConvT(c, c/2, 4, 2, 1) BN ReLU        (n-1 times)     -> ... -> (S/2)x(S/2)
              -> ConvT(ngf, nc, 4, 2, 1) tanh                          -> S x S, in [-1, 1]

and the discriminator mirrors it with stride-2 convolutions, LeakyReLU(0.2) and BatchNorm
(none on the first layer), ending in ``Conv(ndf*2**(n-1), 1, 4, 1, 0)``. The examples append a
``Sigmoid``; here D stops at the logit (``[B, 1]``) so that training uses BCE-with-logits and
priors such as ``log(1 - sigmoid(D))`` stay numerically stable. The Sigmoid has no parameters,
so the keys are unchanged.

:class:`DcganGenerator` wraps a ``DcganNetG`` as an :class:`invprob.generator.Generator`
whose stages are the layer blocks (``ConvT, BN, ReLU``), so ``split(k)`` cuts at every layer
boundary; the split state is ``{"features": [B, C, h, w]}``. It is put in eval mode: BatchNorm
uses its running statistics, as inversion needs. Its discriminator returns a logit
(``discriminator_output = "logit"``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import nn

from invprob.generator import FEATURES, IMAGE, Generator, LatentSpace, Latents, TensorStage

IMAGE_SIZES = (32, 64, 128)
LatentKind = Literal["uniform", "normal"]


@dataclass(frozen=True)
class DcganConfig:
    """Architecture hyperparameters of a standard DCGAN pair."""

    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    nc: int = 3
    image_size: int = 64
    latent: LatentKind = "normal"

    def __post_init__(self) -> None:
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"DCGAN image_size must be one of {IMAGE_SIZES}, got {self.image_size}")
        for name in ("nz", "ngf", "ndf", "nc"):
            if getattr(self, name) < 1:
                raise ValueError(f"DCGAN {name} must be a positive integer, got {getattr(self, name)}")
        if self.latent not in ("uniform", "normal"):
            raise ValueError(f"DCGAN latent must be 'uniform' or 'normal', got {self.latent!r}")

    @property
    def num_upsamplings(self) -> int:
        """Number of stride-2 layers: ``log2(image_size / 4)``."""
        return self.image_size.bit_length() - 3

    def as_metadata(self) -> dict[str, str]:
        """String metadata for a safetensors header (read back by :meth:`from_metadata`)."""
        return {key: str(value) for key, value in asdict(self).items()}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> dict[str, object]:
        """The config fields found in a safetensors header (ints parsed, unknown keys ignored)."""
        fields: dict[str, object] = {}
        for key in ("nz", "ngf", "ndf", "nc", "image_size"):
            if key in metadata:
                fields[key] = int(metadata[key])
        if metadata.get("latent") in ("uniform", "normal"):
            fields["latent"] = metadata["latent"]
        return fields


class DcganNetG(nn.Module):
    """The PyTorch-examples ``netG``: ``main`` maps ``[B, nz, 1, 1]`` to ``[B, nc, S, S]``."""

    def __init__(self, config: DcganConfig):
        super().__init__()
        self.config = config
        width = config.ngf * 2 ** (config.num_upsamplings - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(config.nz, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(config.num_upsamplings - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, config.nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.reshape(z.shape[0], -1, 1, 1))

    def blocks(self) -> list[nn.Sequential]:
        """The layer blocks ``(ConvT, BN, ReLU)`` ... ``(ConvT, Tanh)``, sharing this net's modules."""
        layers = list(self.main)
        blocks = [nn.Sequential(*layers[i : i + 3]) for i in range(0, len(layers) - 2, 3)]
        return blocks + [nn.Sequential(*layers[-2:])]


class DcganNetD(nn.Module):
    """The PyTorch-examples ``netD`` without the final Sigmoid: returns logits ``[B, 1]``."""

    def __init__(self, config: DcganConfig):
        super().__init__()
        self.config = config
        width = config.ndf
        layers: list[nn.Module] = [nn.Conv2d(config.nc, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        for _ in range(config.num_upsamplings - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, inplace=True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).reshape(x.shape[0], 1)


def init_dcgan_weights(module: nn.Module) -> None:
    """Radford et al.'s initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class _LatentToMap(nn.Module):
    """``[B, nz]`` (or ``[B, nz, 1, 1]``) to the ``[B, nz, 1, 1]`` map the first ConvT takes."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z.reshape(z.shape[0], -1, 1, 1)


class BlockGenerator(Generator):
    """A generator whose stages are the layer blocks of one net; the first block takes ``z [B, nz]``.

    The nets that own the weights are the submodules (``net``, ``discriminator``), so
    ``state_dict()`` reads like the checkpoint. ``stages`` are views of the net's blocks built
    on demand (by ``split``), never stored: each weight appears once in the module tree.
    ``forward`` runs the net itself. Subclasses say what the blocks are.
    """

    def __init__(
        self,
        net: nn.Module,
        *,
        image_shape: tuple[int, int, int],
        latent: LatentSpace,
        discriminator: nn.Module | None = None,
    ):
        super().__init__()
        self.net = net
        self.discriminator = discriminator
        self.image_shape = image_shape
        self.latent_spaces = {latent.name: latent}
        self.eval()
        self.requires_grad_(False)

    def blocks(self) -> list[nn.Module]:
        """The net's layer blocks in order (modules of the net, not copies)."""
        raise NotImplementedError

    @property
    def stages(self) -> list[nn.Module]:
        """``{z} -> {features} -> ... -> {image}``: one stage per block, viewing the net's modules."""
        blocks = self.blocks()
        stages: list[nn.Module] = []
        for index, block in enumerate(blocks):
            source = self.primary_latent.name if index == 0 else FEATURES
            target = IMAGE if index == len(blocks) - 1 else FEATURES
            stages.append(TensorStage(nn.Sequential(_LatentToMap(), block) if index == 0 else block, source, target))
        return stages

    def forward(self, latents: Latents | torch.Tensor) -> torch.Tensor:
        return self.net(self.as_latents(latents)[self.primary_latent.name])


class DcganGenerator(BlockGenerator):
    """A standard DCGAN as an invprob generator: one stage per layer block (``K = log2(S) - 1``)."""

    discriminator_output = "logit"

    def __init__(self, net_g: DcganNetG, net_d: DcganNetD | None = None):
        config = net_g.config
        super().__init__(
            net_g,
            image_shape=(config.nc, config.image_size, config.image_size),
            latent=LatentSpace("z", (config.nz,), config.latent),
            discriminator=net_d,
        )
        self.config = config

    def blocks(self) -> list[nn.Module]:
        return self.net.blocks()


def build_dcgan(config: DcganConfig, *, seed: int = 0, discriminator: bool = True) -> DcganGenerator:
    """A randomly initialised (Radford init, seeded) DCGAN generator, with its discriminator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net_g = DcganNetG(config)
        net_g.apply(init_dcgan_weights)
        net_d = DcganNetD(config) if discriminator else None
        if net_d is not None:
            net_d.apply(init_dcgan_weights)
    return DcganGenerator(net_g, net_d)
