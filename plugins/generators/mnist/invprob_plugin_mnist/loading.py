"""Loading the MNIST MLP GAN: the upstream checkpoints (read without running code) or random weights."""

from __future__ import annotations

from pathlib import Path

import torch

from invprob.weights import find_weights, load_state_dict, load_strict

from .model import MnistGanGenerator, MnistNetD, MnistNetG

SHARED_HELP = (
    "the pretrained files are G--300.ckpt and D--300.ckpt of csinva/gan-vae-pretrained-pytorch "
    "(mnist_gan_mlp/weights/), e.g. ../shared/weights/mnist-gan-mlp/"
)


def load_mnist_gan(
    weights: str | Path | None,
    discriminator_weights: str | Path | None = None,
    *,
    seed: int = 0,
    search: tuple[Path, ...] = (),
) -> MnistGanGenerator:
    """The MLP GAN from ``weights`` (``G--300.ckpt``) and ``discriminator_weights``
    (``D--300.ckpt``), or randomly initialised from ``seed`` (PyTorch's default init) when
    ``weights`` is None.

    The ``.ckpt`` files are legacy PyTorch pickles; :func:`invprob.weights.load_state_dict`
    reads them with ``torch.load(weights_only=True)``, which refuses any pickle that would run
    code. Loads are strict: a wrong file lists the missing and unexpected keys.
    """
    if weights is None:
        if discriminator_weights is not None:
            raise ValueError("mnist-gan-mlp: discriminator_weights was given without weights (the generator's checkpoint)")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return MnistGanGenerator(MnistNetG(), MnistNetD())
    net_g = MnistNetG()
    path = find_weights(weights, search, what="mnist-gan-mlp generator weights")
    load_strict(net_g, load_state_dict(path, what="mnist-gan-mlp generator weights"), what="mnist-gan-mlp generator")
    net_d = None
    if discriminator_weights is not None:
        net_d = MnistNetD()
        d_path = find_weights(discriminator_weights, search, what="mnist-gan-mlp discriminator weights")
        state = load_state_dict(d_path, what="mnist-gan-mlp discriminator weights")
        load_strict(net_d.main, state, what="mnist-gan-mlp discriminator")
    return MnistGanGenerator(net_g, net_d)
