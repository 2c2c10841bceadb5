"""invprob entry point of the LCM plugin: the ``lcm-hourglass`` generator, the ``lap-l1`` loss,
and the ``train lcm``, ``train glo``, ``lcm sample`` and ``lcm interpolate`` commands.

Light on purpose: torch and the models are imported inside the factories and commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from invprob.hookspecs import hookimpl
from invprob.params import ExistingFile, Params

if TYPE_CHECKING:
    import argparse

    from invprob.context import BuildContext
    from invprob.registry import CommandRegistry, ComponentRegistry


class HourglassParams(Params):
    """The LCM hourglass generator g_theta (latent: a map stack "z" [C, h, w]): a committed trained
    face model, a checkpoint written by invprob train lcm/glo, or a random init."""

    model: Literal["lcm-faces64", "glo-faces64"] | None = Field(
        "lcm-faces64",
        description="committed 64x64 face model (LCM or its GLO baseline); null: random init from the sizes below",
    )
    checkpoint: ExistingFile | None = Field(
        None, description="a model .safetensors written by invprob train lcm/glo (wins over model)"
    )
    size: Literal[32, 64, 128] = Field(64, description="image size (random init only)")
    latent_channels: int = Field(32, ge=1, description="channels C of the latent z (random init only)")
    latent_size: int = Field(16, ge=16, description="side h of the latent maps, a power of two >= 16 (random init only)")
    width: int = Field(16, ge=1, description="width w of the hourglass, the official net's 128 (random init only)")
    latent_vector: int = Field(
        0, ge=0, description="random init: 0 for a map-stack latent, d for GLO's vector latent z [d] (a linear layer to the maps)"
    )
    seed: int | None = Field(None, ge=0, description="random init: weights seed (default: the run's seed)")

    def declared_image_shape(self) -> tuple[int, int, int] | None:
        if self.checkpoint is not None:
            return None  # the file's
        return (3, 64, 64) if self.model is not None else (3, self.size, self.size)  # the committed models are 64x64 faces


class LapL1Params(Params):
    """Laplacian-pyramid L1 (GLO/LCM, the authors' laploss): sum_j 2^(-2j) mean|L_j(A(x)) - L_j(y)| over the levels and the residual."""

    levels: int = Field(3, ge=0, le=6, description="band-pass levels (the residual is added)")


class BandMSEParams(Params):
    """The authors' LCM inpainting MSE: mean((W * (A(x) - y))^2), W = weight on a band of width pixels around the hole, else 1."""

    weight: float = Field(5.0, gt=0, description="W in the band (the authors': 5, so a band pixel's squared error counts 25x)")
    width: int = Field(5, ge=0, description="band width in pixels around the missing pixels (the authors': 5 at 128 px)")


def _build_hourglass(params: HourglassParams, context: BuildContext):
    from .hourglass import HourglassConfig, build_hourglass
    from .models import committed_model_path, load_model

    if params.checkpoint is not None:
        generator, _ = load_model(params.checkpoint)
    elif params.model is not None:
        generator, _ = load_model(committed_model_path(params.model))
    else:
        config = HourglassConfig(
            size=params.size, latent_channels=params.latent_channels, latent_size=params.latent_size,
            width=params.width, latent_vector=params.latent_vector,
        )
        generator = build_hourglass(config, seed=context.seed if params.seed is None else params.seed).eval()
    return generator.to(context.device)


def _lap_l1(params: LapL1Params, context: BuildContext):
    from .lap_l1 import LapL1Loss

    return LapL1Loss(levels=params.levels)


def _band_mse(params: BandMSEParams, context: BuildContext):
    from .band_mse import BandMSELoss

    return BandMSELoss(weight=params.weight, width=params.width)


@hookimpl
def invprob_register_generators(registry: ComponentRegistry) -> None:
    registry.add(
        "lcm-hourglass",
        _build_hourglass,
        params_model=HourglassParams,
        examples=[
            {},
            {"model": "glo-faces64"},
            {"model": None, "size": 32, "latent_channels": 4, "latent_size": 16, "width": 4},
            {"model": None, "size": 64, "latent_channels": 3, "latent_size": 16, "width": 4, "seed": 1},
            {"model": None, "size": 32, "latent_channels": 2, "latent_size": 16, "width": 4, "latent_vector": 16},
        ],
    )


@hookimpl
def invprob_register_losses(registry: ComponentRegistry) -> None:
    registry.add("lap-l1", _lap_l1, params_model=LapL1Params, examples=[{}, {"levels": 1}])
    registry.add("band-mse", _band_mse, params_model=BandMSEParams, examples=[{}, {"weight": 2.0, "width": 1}])


def _runner(module: str, function: str = "run"):
    def run(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(f"invprob_plugin_lcm.{module}"), function)(args)

    return run


def _configurer(name: str):
    def configure(parser: argparse.ArgumentParser) -> None:
        from . import commands

        getattr(commands, name)(parser)

    return configure


@hookimpl
def invprob_register_commands(registry: CommandRegistry) -> None:
    registry.add(
        "train lcm",
        _runner("train", "run_lcm"),
        help="train an LCM (hourglass generator + one latent ConvNet per image) on an image folder, zip or .npz",
        configure=_configurer("configure_train_lcm"),
    )
    registry.add(
        "train glo",
        _runner("train", "run_glo"),
        help="train a GLO baseline (hourglass generator + free latent maps per image) on an image folder, zip or .npz",
        configure=_configurer("configure_train_glo"),
    )
    registry.add(
        "lcm sample",
        _runner("sample"),
        help="unconditional samples of a trained LCM/GLO (PCA + Gaussian mixture of the trained latents) as a grid",
        configure=_configurer("configure_sample"),
    )
    registry.add(
        "lcm interpolate",
        _runner("interpolate"),
        help="fit two images with a trained LCM/GLO and decode the interpolation of their phi (or z) as a grid",
        configure=_configurer("configure_interpolate"),
    )
