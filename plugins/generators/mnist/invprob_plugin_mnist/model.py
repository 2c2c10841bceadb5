"""The MNIST MLP GAN of csinva/gan-vae-pretrained-pytorch (``mnist_gan_mlp``), layer for layer.

    z [B, 64] ~ N(0, 1) -> Linear(64, 256) ReLU -> Linear(256, 256) ReLU
                        -> Linear(256, 784) Tanh -> [B, 1, 28, 28] in [-1, 1] (row-major)

The discriminator is ``Linear(784, 256) LReLU(0.2) Linear(256, 256) LReLU(0.2)
Linear(256, 1) Sigmoid`` on the image flattened row-major. It was trained with BCE, so the
pre-sigmoid value is a logit: the model here stops before the sigmoid and declares
``discriminator_output = "logit"`` (the discriminator prior applies the sigmoid itself).

Both checkpoints are flat ``Sequential`` state dicts (keys ``0.*``, ``2.*``, ``4.*``); the
nets below keep that layout, so a strict load checks every key and shape. Layouts and
reference values: ``../shared/weights/README.md``.
"""

from __future__ import annotations

import torch
from torch import nn

from invprob.generator import FEATURES, IMAGE, LatentSpace, Latents, TensorStage
from invprob.generator import Generator as _Generator

NZ = 64
HIDDEN = 256
IMAGE_SHAPE = (1, 28, 28)


class MnistNetG(nn.Sequential):
    """The generator's flat ``Sequential``: Linear/ReLU, Linear/ReLU, Linear/Tanh."""

    def __init__(self) -> None:
        super().__init__(
            nn.Linear(NZ, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 784), nn.Tanh()
        )


class MnistNetD(nn.Module):
    """The discriminator without its final sigmoid: ``[B, 1, 28, 28] -> [B, 1]`` logits.

    ``main`` holds indices 0..4 of the checkpoint's ``Sequential`` (index 5, the sigmoid, has
    no parameters); :meth:`load` takes the checkpoint's own keys.
    """

    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Linear(784, HIDDEN), nn.LeakyReLU(0.2), nn.Linear(HIDDEN, HIDDEN), nn.LeakyReLU(0.2), nn.Linear(HIDDEN, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x.reshape(x.shape[0], -1))


class _ToImage(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *IMAGE_SHAPE)


class MnistGanGenerator(_Generator):
    """The MLP GAN as an invprob generator: one stage per Linear layer (``K = 3``).

    Split points: 0 (the latent ``z``), 1 and 2 (the 256 hidden units after each ReLU, under
    the state key ``features``), 3 (the image). ``net`` and ``discriminator`` own the weights;
    ``stages`` are views of ``net``'s modules built on demand, so every weight appears once in
    the module tree and ``state_dict()`` reads like the checkpoints (``net.0.weight``, ...).
    """

    discriminator_output = "logit"

    def __init__(self, net: MnistNetG, discriminator: MnistNetD | None = None) -> None:
        super().__init__()
        self.net = net
        self.discriminator = discriminator
        self.image_shape = IMAGE_SHAPE
        self.latent_spaces = {"z": LatentSpace("z", (NZ,), "normal")}
        self.eval()
        self.requires_grad_(False)

    @property
    def stages(self) -> list[nn.Module]:
        net = self.net
        return [
            TensorStage(nn.Sequential(net[0], net[1]), "z", FEATURES),
            TensorStage(nn.Sequential(net[2], net[3]), FEATURES, FEATURES),
            TensorStage(nn.Sequential(net[4], net[5], _ToImage()), FEATURES, IMAGE),
        ]

    def forward(self, latents: Latents | torch.Tensor) -> torch.Tensor:
        z = self.as_latents(latents)["z"]
        return self.net(z).reshape(z.shape[0], *IMAGE_SHAPE)
