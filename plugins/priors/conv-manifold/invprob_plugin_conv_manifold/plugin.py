"""Entry point of invprob-plugin-conv-manifold: the ``conv-manifold`` prior (no torch imported here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from invprob.hookspecs import hookimpl
from invprob.params import Params

if TYPE_CHECKING:
    from invprob.context import BuildContext
    from invprob.registry import ComponentRegistry


class ConvManifoldParams(Params):
    """Convolutional manifold (LCM): the map-stack latent is z = f_phi(s), a small ConvNet per image
    whose conv weights phi stay in [-bound, bound]; s is fixed uniform noise."""

    variable: str = Field("z", description="the latent (a map stack [C, h, w]) that f_phi(s) replaces")
    input_channels: int = Field(2, ge=1, description="channels of the fixed noise input s")
    channels: list[int] = Field(
        default_factory=lambda: [8, 16, 32],
        min_length=1,
        description="hidden widths of f (len + 1 unpadded 3x3 convs; paper at 128 px: [8, 16, 32])",
    )
    bound: float = Field(0.01, gt=0, description="box constraint B on the conv weights (paper: 0.01)")
    noise_scale: float = Field(0.1, gt=0, description="s ~ U(0, 1) * noise_scale")
    seed: int | None = Field(
        0, ge=0, description="draws s and the initial phi (0: what the trained LCM models use); null: the run's rng"
    )


def _conv_manifold(params: ConvManifoldParams, context: BuildContext):
    from .prior import ConvManifoldPrior

    if any(c < 1 for c in params.channels):
        raise ValueError(f"conv-manifold: channels must be positive, got {params.channels}")
    if context.generator is not None:
        spaces = context.generator.latent_spaces
        if params.variable not in spaces:
            raise ValueError(
                f"conv-manifold: the generator has no latent {params.variable!r} (it has {sorted(spaces)}); "
                "set 'variable' to one of them"
            )
        if len(spaces[params.variable].shape) != 3:
            raise ValueError(
                f"conv-manifold: latent {params.variable!r} has shape {spaces[params.variable].shape}, "
                "not a map stack [C, h, w]; use a generator with a convolutional latent (lcm-hourglass)"
            )
    return ConvManifoldPrior(
        variable=params.variable,
        input_channels=params.input_channels,
        channels=params.channels,
        bound=params.bound,
        noise_scale=params.noise_scale,
        seed=params.seed,
    )


@hookimpl
def invprob_register_priors(registry: ComponentRegistry) -> None:
    registry.add(
        "conv-manifold",
        _conv_manifold,
        params_model=ConvManifoldParams,
        examples=[{}, {"channels": [4, 4], "input_channels": 1, "seed": 3}],
    )
