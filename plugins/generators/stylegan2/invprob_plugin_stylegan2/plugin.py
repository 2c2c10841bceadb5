"""invprob entry point of the StyleGAN2 plugin: the ``stylegan2`` generator, ``invprob convert stylegan2`` and ``invprob train stylegan2``.

Light on purpose: torch and the model are imported inside the factory and the commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from invprob.hookspecs import hookimpl
from invprob.params import ExistingFile, Params

if TYPE_CHECKING:
    import argparse

    from invprob.context import BuildContext
    from invprob.registry import CommandRegistry, ComponentRegistry


class StyleGAN2Params(Params):
    """StyleGAN2 (rosinality layout, pure PyTorch): from a .pt, .pkl or converted .safetensors checkpoint, or randomly initialised."""

    checkpoint: ExistingFile | None = Field(
        None,
        description="rosinality .pt (g_ema, latent_avg, d), NVlabs stylegan2-ada-pytorch .pkl, or a converted .safetensors; "
        "the architecture is inferred from the tensors. Without it: a randomly initialised model (size, style_dim, ...)",
    )
    latent: Literal["z", "w", "w+"] = Field("w+", description="the primary latent space solvers draw and optimise")
    noise_latents: bool = Field(False, description="also declare the per-layer noise maps noise_i as latents")
    truncation: float = Field(1.0, gt=0, le=1, description="psi: every w moved to latent_avg + psi * (w - latent_avg)")
    output: Literal["clamp", "raw"] = Field(
        "clamp", description="clamp the image to [-1, 1] (the generator contract) or return the raw synthesis"
    )
    discriminator: bool = Field(True, description="load the checkpoint's discriminator (for the discriminator prior)")
    size: int = Field(256, ge=4, description="random init only: resolution, a power of two")
    style_dim: int = Field(512, ge=1, description="random init only: z/w size")
    n_mlp: int = Field(8, ge=1, description="random init only: mapping network depth")
    channel_multiplier: int = Field(2, ge=1, description="random init only: upstream's width multiplier (config-f: 2)")
    channels: dict[int, int] | None = Field(
        None, description="random init only: width per resolution {4: ..., 8: ..., size: ...} (default: upstream's)"
    )

    @field_validator("size")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value & (value - 1):
            raise ValueError(f"the resolution must be a power of two (4, 8, ..., 1024), got {value}")
        return value

    def declared_image_shape(self) -> tuple[int, int, int] | None:
        return (3, self.size, self.size) if self.checkpoint is None else None  # else: the file's


def _build_stylegan2(params: StyleGAN2Params, context: BuildContext):
    options = {
        "latent": params.latent,
        "noise_latents": params.noise_latents,
        "truncation": params.truncation,
        "output": params.output,
    }
    if params.checkpoint is not None:
        from .loading import load_stylegan2

        generator = load_stylegan2(
            params.checkpoint, search=(context.base_dir,), discriminator=params.discriminator, **options
        )
    else:
        from .generator import random_stylegan2
        from .networks import StyleGAN2Config, standard_channels

        config = StyleGAN2Config(
            size=params.size,
            style_dim=params.style_dim,
            n_mlp=params.n_mlp,
            channels=params.channels or standard_channels(params.channel_multiplier),
        )
        generator = random_stylegan2(config, seed=context.seed, discriminator=params.discriminator, **options)
    return generator.to(context.device)


TINY = {"size": 16, "style_dim": 8, "n_mlp": 2, "channels": {4: 8, 8: 8, 16: 4}}


@hookimpl
def invprob_register_generators(registry: ComponentRegistry) -> None:
    registry.add(
        "stylegan2",
        _build_stylegan2,
        params_model=StyleGAN2Params,
        examples=[
            dict(TINY),
            {**TINY, "latent": "z", "noise_latents": True, "truncation": 0.7},
            {**TINY, "latent": "w", "discriminator": False},
        ],
    )


def _run_convert(args: argparse.Namespace) -> int:
    from .convert import run

    return run(args)


def _configure_convert(parser: argparse.ArgumentParser) -> None:
    from .commands import configure_convert

    configure_convert(parser)


def _run_train(args: argparse.Namespace) -> int:
    from .train import run

    return run(args)


def _configure_train(parser: argparse.ArgumentParser) -> None:
    from .commands import configure_train

    configure_train(parser)


@hookimpl
def invprob_register_commands(registry: CommandRegistry) -> None:
    registry.add(
        "train stylegan2",
        _run_train,
        help="train a StyleGAN2 (logistic loss, lazy R1, style mixing, EMA; no path-length regularisation)",
        configure=_configure_train,
    )
    registry.add(
        "convert stylegan2",
        _run_convert,
        help="convert a rosinality .pt or NVlabs .pkl StyleGAN2 to safetensors + a JSON config",
        configure=_configure_convert,
    )
