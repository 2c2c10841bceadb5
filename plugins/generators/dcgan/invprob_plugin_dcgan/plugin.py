"""invprob entry point of the DCGAN plugin: three generators and the ``train``/``convert`` commands.

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


class DcganParams(Params):
    """Standard DCGAN (Radford et al.): from a PyTorch-examples state dict, or randomly initialised."""

    weights: ExistingFile | None = Field(
        None, description="generator state dict (.safetensors or PyTorch .pt/.pth); nz, ngf, image size are inferred"
    )
    discriminator_weights: ExistingFile | None = Field(None, description="discriminator state dict (ndf is inferred)")
    latent: Literal["uniform", "normal"] | None = Field(
        None, description="latent distribution; default: from the weights' metadata, else normal (random init: normal)"
    )
    nz: int = Field(100, ge=1, description="latent size (random init only)")
    ngf: int = Field(64, ge=1, description="generator width (random init only)")
    ndf: int = Field(64, ge=1, description="discriminator width (random init only)")
    nc: int = Field(3, ge=1, description="image channels (random init only)")
    image_size: Literal[32, 64, 128] = Field(64, description="output size (random init only)")
    with_discriminator: bool = Field(True, description="random init: also build a discriminator")

    def declared_image_shape(self) -> tuple[int, int, int] | None:
        return (self.nc, self.image_size, self.image_size) if self.weights is None else None  # else: the file's


class Dcgan32CelebaParams(Params):
    """The shared pretrained 32x32 CelebA DCGAN (LSGAN discriminator), z ~ U(-1, 1)^100."""

    generator_weights: ExistingFile | None = Field(
        None, description="generator.pt of ../shared/weights/dcgan32-celeba/ (or its safetensors conversion)"
    )
    discriminator_weights: ExistingFile | None = Field(None, description="discriminator.pt of the same folder")

    def declared_image_shape(self) -> tuple[int, int, int] | None:
        return (3, 32, 32)


class Dcgan64FacesParams(Params):
    """The project's embedded 64x64 face DCGAN (trained on CelebA crops), z ~ U(-1, 1)^100."""

    discriminator: bool = Field(True, description="load the discriminator too (for the discriminator prior)")

    def declared_image_shape(self) -> tuple[int, int, int] | None:
        return (3, 64, 64)


def _build_dcgan(params: DcganParams, context: BuildContext):
    from .loading import load_dcgan
    from .model import DcganConfig, build_dcgan

    if params.weights is not None:
        generator = load_dcgan(
            params.weights, params.discriminator_weights, latent=params.latent, search=(context.base_dir,)
        )
    else:
        if params.discriminator_weights is not None:
            raise ValueError("dcgan: discriminator_weights was given without weights (the generator's state dict)")
        config = DcganConfig(
            nz=params.nz, ngf=params.ngf, ndf=params.ndf, nc=params.nc,
            image_size=params.image_size, latent=params.latent or "normal",
        )
        generator = build_dcgan(config, seed=context.seed, discriminator=params.with_discriminator)
    return generator.to(context.device)


def _build_dcgan32_celeba(params: Dcgan32CelebaParams, context: BuildContext):
    from .loading import load_celeba32

    generator = load_celeba32(params.generator_weights, params.discriminator_weights, search=(context.base_dir,))
    return generator.to(context.device)


def _build_dcgan64_faces(params: Dcgan64FacesParams, context: BuildContext):
    from .loading import load_default

    return load_default(discriminator=params.discriminator).to(context.device)


@hookimpl
def invprob_register_generators(registry: ComponentRegistry) -> None:
    registry.add(
        "dcgan",
        _build_dcgan,
        params_model=DcganParams,
        examples=[
            {"nz": 8, "ngf": 4, "ndf": 4, "image_size": 32},
            {"nz": 16, "ngf": 2, "ndf": 2, "nc": 1, "image_size": 64, "latent": "uniform"},
        ],
    )
    registry.add("dcgan32-celeba", _build_dcgan32_celeba, params_model=Dcgan32CelebaParams, examples=[])
    registry.add("dcgan64-faces", _build_dcgan64_faces, params_model=Dcgan64FacesParams, examples=[{}])


def _run_train(args: argparse.Namespace) -> int:
    from .train import run

    return run(args)


def _configure_train(parser: argparse.ArgumentParser) -> None:
    from .commands import configure_train

    configure_train(parser)


def _run_convert(args: argparse.Namespace) -> int:
    from .convert import run

    return run(args)


def _configure_convert(parser: argparse.ArgumentParser) -> None:
    from .commands import configure_convert

    configure_convert(parser)


@hookimpl
def invprob_register_commands(registry: CommandRegistry) -> None:
    registry.add(
        "train dcgan",
        _run_train,
        help="train a DCGAN on an image folder, zip or .npz (checkpoints, sample grids, --resume)",
        configure=_configure_train,
    )
    registry.add(
        "convert dcgan",
        _run_convert,
        help="convert a DCGAN state dict (PyTorch-examples or the 32x32 CelebA one) to safetensors",
        configure=_configure_convert,
    )
