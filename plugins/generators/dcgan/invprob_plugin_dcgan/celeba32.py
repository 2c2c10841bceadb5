"""The shared pretrained 32x32 CelebA DCGAN (fletchersarip93/face-generator), layer for layer.

Its architecture is irregular (see ``../shared/weights/README.md``): block 0 is a 4x4 ConvT with
BatchNorm and *no* activation, block 1 a 3x3 ``Conv2d`` at 4x4, then three stride-2 ConvTs::

    z [B, 100] ~ U(-1, 1) -> ConvT(100, 256, 4, 1, 0) BN            -> 256x4x4
                          -> Conv(256, 128, 3, 1, 1) BN LReLU(0.2)   -> 128x4x4
                          -> ConvT(128, 64, 4, 2, 1) BN LReLU(0.2)   -> 64x8x8
                          -> ConvT(64, 32, 4, 2, 1) BN LReLU(0.2)    -> 32x16x16
                          -> ConvT(32, 3, 4, 2, 1, bias) tanh        -> 3x32x32 RGB in [-1, 1]

The discriminator is four stride-2 convolutions (BatchNorm on all but the first), a flatten
and ``Linear(1024, 1)``. It was trained with the least-squares GAN loss, so its output is an
unbounded realness score (real ~ 0.43, fake ~ 0.18), **not a logit**: the generator's
``discriminator_output = "least_squares"`` tells the discriminator prior to use
``(D(G(z)) - 1)^2`` rather than ``-log sigmoid(D)``.
Keys are ``generator_deconv.{block}.{0 conv, 1 bn}.*`` and ``discriminator.{i}.*``.
"""

from __future__ import annotations

import torch
from torch import nn

from invprob.generator import LatentSpace

from .model import BlockGenerator

NZ = 100


def _block(conv: nn.Module, batch_norm: bool, activation: nn.Module | None) -> nn.Sequential:
    layers: list[nn.Module] = [conv]
    if batch_norm:
        layers.append(nn.BatchNorm2d(conv.out_channels))
    if activation is not None:
        layers.append(activation)
    return nn.Sequential(*layers)


class Celeba32NetG(nn.Module):
    """``generator_deconv``: five blocks, as in the checkpoint."""

    def __init__(self):
        super().__init__()
        lrelu = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        self.generator_deconv = nn.Sequential(
            _block(nn.ConvTranspose2d(NZ, 256, 4, 1, 0, bias=False), True, None),
            _block(nn.Conv2d(256, 128, 3, 1, 1, bias=False), True, lrelu()),
            _block(nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), True, lrelu()),
            _block(nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False), True, lrelu()),
            _block(nn.ConvTranspose2d(32, 3, 4, 2, 1, bias=True), False, nn.Tanh()),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator_deconv(z.reshape(z.shape[0], NZ, 1, 1))


class Celeba32NetD(nn.Module):
    """``discriminator``: four conv blocks, Flatten, Linear(1024, 1); a least-squares score."""

    def __init__(self):
        super().__init__()
        lrelu = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        self.discriminator = nn.Sequential(
            _block(nn.Conv2d(3, 32, 4, 2, 1, bias=True), False, lrelu()),
            _block(nn.Conv2d(32, 64, 4, 2, 1, bias=False), True, lrelu()),
            _block(nn.Conv2d(64, 128, 4, 2, 1, bias=False), True, lrelu()),
            _block(nn.Conv2d(128, 256, 4, 2, 1, bias=False), True, lrelu()),
            nn.Flatten(),
            nn.Linear(1024, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator(x)


class Celeba32Generator(BlockGenerator):
    """The 32x32 CelebA DCGAN as an invprob generator: one stage per block (K = 5)."""

    discriminator_output = "least_squares"

    def __init__(self, net_g: Celeba32NetG, net_d: Celeba32NetD | None = None):
        super().__init__(
            net_g,
            image_shape=(3, 32, 32),
            latent=LatentSpace("z", (NZ,), "uniform"),
            discriminator=net_d,
        )

    def blocks(self) -> list[nn.Module]:
        return list(self.net.generator_deconv)
