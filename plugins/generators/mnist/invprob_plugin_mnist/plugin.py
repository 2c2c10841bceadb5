"""invprob entry point of the MNIST plugin: the ``mnist-gan-mlp`` generator (torch imported on build)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from invprob.hookspecs import hookimpl
from invprob.params import ExistingFile, Params

if TYPE_CHECKING:
    from invprob.context import BuildContext
    from invprob.registry import ComponentRegistry


class MnistGanParams(Params):
    """The MNIST MLP GAN (28x28 grey digits, z ~ N(0, 1)^64), splittable after every layer."""

    weights: ExistingFile | None = Field(
        None, description="generator checkpoint G--300.ckpt (e.g. ../shared/weights/mnist-gan-mlp/); null = random init from the seed"
    )
    discriminator_weights: ExistingFile | None = Field(
        None, description="discriminator checkpoint D--300.ckpt (for the discriminator prior)"
    )

    def declared_image_shape(self) -> tuple[int, int, int] | None:
        return (1, 28, 28)  # a fixed MLP: its checkpoint loads into this architecture only


def _build(params: MnistGanParams, context: BuildContext):
    from .loading import load_mnist_gan

    generator = load_mnist_gan(
        params.weights, params.discriminator_weights, seed=context.seed, search=(context.base_dir,)
    )
    return generator.to(context.device)


@hookimpl
def invprob_register_generators(registry: ComponentRegistry) -> None:
    registry.add("mnist-gan-mlp", _build, params_model=MnistGanParams, examples=[{}])
