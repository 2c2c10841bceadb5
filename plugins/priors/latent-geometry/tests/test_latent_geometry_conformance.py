"""Every prior of the distribution meets the core's prior contract, on a generator with a layered latent."""

import torch
from torch import nn

from invprob.generator import IMAGE, Generator, LatentSpace, TensorStage
from invprob.testing import PriorConformance


class LayeredGenerator(Generator):
    """``z [B, 3, 8]`` (three "layer" latents, like a small w+) -> a 3x16x16 image."""

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = nn.Sequential(nn.Flatten(), nn.Linear(24, 3 * 16 * 16), nn.Tanh(), nn.Unflatten(1, (3, 16, 16)))
        self.stages = nn.ModuleList([TensorStage(net, "z", IMAGE)])
        self.image_shape = (3, 16, 16)
        self.latent_spaces = {"z": LatentSpace("z", (3, 8))}


class TestLatentGeometryConformance(PriorConformance):
    distribution = "invprob-plugin-latent-geometry"

    def make_generator(self) -> Generator:
        return LayeredGenerator().eval().requires_grad_(False)
