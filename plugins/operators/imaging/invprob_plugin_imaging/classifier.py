"""Classifier operator: ``y = log softmax(f(P(x)))`` for a torch image classifier ``f``.

ILO generates out-of-distribution images by fitting a generator to the classifier's output
("make a face that the classifier calls a tench"). ``P`` adapts invprob's images
(``[B, C, H, W]`` in [-1, 1]) to what ``f`` was trained on: the value range, grey or RGB, and
the input size (bilinear, antialiased when shrinking). The measurement is the vector of
log-probabilities ``[B, K]``; a classifier that already ends in ``LogSoftmax`` is unchanged by
the final ``log_softmax``. The classifier is frozen (eval mode, no parameter gradients) but
differentiable in its input.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from invprob.operator import Operator


class LeNet5(nn.Module):
    """LeNet-5 for MNIST, as in ``../shared/weights/mnist-lenet5`` (input ``[B, 1, 32, 32]``
    in [0, 1], output log-probabilities over the 10 digits)."""

    def __init__(self):
        super().__init__()
        self.convnet = nn.Sequential(
            OrderedDict(
                c1=nn.Conv2d(1, 6, 5), relu1=nn.ReLU(), s2=nn.MaxPool2d(2, 2),
                c3=nn.Conv2d(6, 16, 5), relu3=nn.ReLU(), s4=nn.MaxPool2d(2, 2),
                c5=nn.Conv2d(16, 120, 5), relu5=nn.ReLU(),
            )
        )
        self.fc = nn.Sequential(
            OrderedDict(f6=nn.Linear(120, 84), relu6=nn.ReLU(), f7=nn.Linear(84, 10), sig7=nn.LogSoftmax(dim=-1))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convnet(x).flatten(1))


@dataclass(frozen=True)
class ClassifierInput:
    """What a classifier expects: ``channels`` (1 = grey, 3 = RGB), ``size`` (H, W), and the
    value range ``(low, high)`` that [-1, 1] is mapped onto."""

    channels: int
    size: tuple[int, int]
    value_range: tuple[float, float] = (0.0, 1.0)


ARCHITECTURES: dict[str, tuple[Callable[[], nn.Module], ClassifierInput]] = {
    "lenet5": (LeNet5, ClassifierInput(channels=1, size=(32, 32))),
}
"""Architectures a recipe can name, with the input each expects."""


def load_classifier(architecture: str, weights: str | Path | None, rng: torch.Generator | None = None) -> nn.Module:
    """``architecture`` with ``weights`` (strict load), or randomly initialised from ``rng``
    when ``weights`` is None."""
    from invprob.weights import load_state_dict, load_strict

    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown classifier architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}")
    build, _ = ARCHITECTURES[architecture]
    if weights is None:
        with torch.random.fork_rng(devices=[]):
            seed = int(torch.randint(0, 2**62, (), generator=rng)) if rng is not None else 0
            torch.manual_seed(seed)
            return build()
    model = build()
    load_strict(model, load_state_dict(weights, what=f"{architecture} classifier weights"), what=f"{architecture} classifier")
    return model


class ClassifierOperator(Operator):
    """``A(x) = log_softmax(classifier(P(x)))`` with ``P`` given by ``expects``.

    Example::

        op = ClassifierOperator(LeNet5(), ClassifierInput(1, (32, 32)))
        log_probs = op.A(images)  # [B, 10]
    """

    def __init__(self, classifier: nn.Module, expects: ClassifierInput):
        super().__init__()
        self.classifier = classifier.eval().requires_grad_(False)
        self.expects = expects

    def train(self, mode: bool = True) -> ClassifierOperator:
        super().train(mode)
        self.classifier.eval()
        return self

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """``P(x)``: [-1, 1] to the classifier's range, channels and size."""
        low, high = self.expects.value_range
        x = (x + 1) * ((high - low) / 2) + low
        channels = self.expects.channels
        if x.shape[1] != channels:
            if channels == 1:
                x = x.mean(dim=1, keepdim=True)
            elif x.shape[1] == 1:
                x = x.expand(-1, channels, -1, -1)
            else:
                raise ValueError(f"the classifier takes {channels}-channel images, got {x.shape[1]} channels")
        if tuple(x.shape[-2:]) != self.expects.size:
            x = F.interpolate(x, size=self.expects.size, mode="bilinear", align_corners=False, antialias=True)
        return x

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.classifier(self.prepare(x)), dim=-1)
