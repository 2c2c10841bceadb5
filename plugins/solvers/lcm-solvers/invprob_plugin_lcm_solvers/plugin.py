"""Entry point of invprob-plugin-lcm-solvers: parameters and factories only (no torch here).

Two solvers: ``lcm`` (restoration with a trained latent model held fixed: ``phi`` of the
convolutional manifold with a ``conv-manifold`` prior, else the latent ``z``: GLO) and ``dip``
(Deep Image Prior: a fresh skip network fitted to each image, no generator). Both default to
the quadratic likelihood, MSE on the measurements, when a recipe names no ``losses``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from invprob.context import BuildContext
from invprob.hookspecs import hookimpl
from invprob.params import Params
from invprob.registry import ComponentRegistry

QUADRATIC = {"losses": [{"type": "mse"}]}
"""The recipe's losses when it names none: LCM's quadratic likelihood (and DIP's)."""


class LCMParams(Params):
    """LCM restoration: SGD (the authors') or Adam on phi of the conv-manifold prior (eq. 4), or on the latent z without it (GLO, eq. 5)."""

    needs_generator = True  # restores through a trained generator held fixed

    steps: int = Field(3001, ge=0, description="optimiser steps (the authors': 3001)")
    optimizer: Literal["sgd", "adam"] = Field(
        "sgd", description="sgd: the authors' plain SGD without momentum; adam: our earlier procedure"
    )
    lr: float | None = Field(
        None,
        gt=0,
        description="per-image learning rate; default sgd: 0.02 on phi (the authors' lr 1.0 on the mean over 50 "
        "images), 0.2 on z (their GLO rate 10 over 50); adam: 0.01 on phi and on z",
    )
    restarts: int = Field(1, ge=1, description="starts batched as one tensor; restart 0 starts from the prior's phi")


class DIPParams(Params):
    """Deep Image Prior (Ulyanov et al. 2018): a skip ConvNet fitted to each image from fixed noise; steps regularise."""

    steps: int = Field(1000, ge=0, description="Adam steps: DIP's regulariser (early stopping)")
    lr: float = Field(0.01, gt=0, description="Adam learning rate (DIP: 0.01)")
    restarts: int = Field(1, ge=1, description="independent network draws per image, batched; best kept")
    reg_noise_std: float = Field(
        0.03, ge=0, description="std of the fresh Gaussian noise added to the input at every step (DIP's notebooks: 0.03; 0: off)"
    )
    input_depth: int = Field(32, ge=1, description="channels of the fixed uniform-noise input (DIP: 32)")
    down: list[int] = Field([16, 32, 64, 128], min_length=1, description="channels of each scale's encoder convs")
    up: list[int] = Field([16, 32, 64, 128], min_length=1, description="channels of each scale's decoder conv")
    skip: list[int] = Field([4, 4, 4, 4], min_length=1, description="channels of each scale's 1x1 skip branch (0: none)")
    upsample: Literal["bilinear", "nearest"] = Field("bilinear", description="decoder upsampling")
    pad: Literal["reflection", "zero"] = Field("reflection", description="padding of the 3x3 convs")
    up_1x1: bool = Field(True, description="a 1x1 conv + BN + LeakyReLU after each decoder conv (DIP's need1x1_up)")
    batching: Literal["loop", "grouped"] = Field(
        "loop",
        description="a loop over images (an image gets bit-for-bit the same result alone or in a batch), or all "
        "images' networks as one grouped-conv network (the layout a GPU prefers; equal to float32 rounding only)",
    )

    @model_validator(mode="after")
    def _one_entry_per_scale(self) -> DIPParams:
        if not len(self.down) == len(self.up) == len(self.skip):
            raise ValueError(
                f"down, up and skip need one entry per scale; got {len(self.down)}, {len(self.up)} and {len(self.skip)}"
            )
        if min(self.down + self.up) < 1 or min(self.skip) < 0:
            raise ValueError("down and up channels must be >= 1, skip channels >= 0")
        return self


def _lcm(params: LCMParams, context: BuildContext):
    from .lcm import LCMSolver

    return LCMSolver(steps=params.steps, lr=params.lr, restarts=params.restarts, optimizer=params.optimizer)


def _dip(params: DIPParams, context: BuildContext):
    from .dip import SkipConfig
    from .dip_solver import DIPSolver

    shape = context.image_shape
    config = SkipConfig(
        input_depth=params.input_depth,
        down=tuple(params.down),
        up=tuple(params.up),
        skip=tuple(params.skip),
        upsample=params.upsample,
        pad=params.pad,
        up_1x1=params.up_1x1,
        output_channels=shape[0] if shape else 3,
    )
    if shape:
        config.check_image(shape[1], shape[2])  # an image the network cannot halve enough: fail at build time
    return DIPSolver(config, steps=params.steps, lr=params.lr, restarts=params.restarts, grouped=params.batching == "grouped", reg_noise_std=params.reg_noise_std)


@hookimpl
def invprob_register_solvers(registry: ComponentRegistry) -> None:
    registry.add(
        "lcm",
        _lcm,
        params_model=LCMParams,
        examples=[{"steps": 30, "lr": 0.05, "optimizer": "adam"}, {"steps": 20, "restarts": 2}],
        defaults=QUADRATIC,
    )
    registry.add(
        "dip",
        _dip,
        params_model=DIPParams,
        examples=[
            {"steps": 30, "down": [8, 16], "up": [8, 16], "skip": [2, 2]},
            {"steps": 20, "down": [8, 8], "up": [8, 8], "skip": [0, 2], "upsample": "nearest", "pad": "zero", "restarts": 2, "batching": "loop"},
        ],
        defaults=QUADRATIC,
    )
