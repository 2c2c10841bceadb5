"""Entry point of invprob-plugin-yeh: parameters, factories and recipe defaults (no torch here).

The plugin registers two components: the ``yeh`` solver and the ``context`` loss it is
defined with. What the paper optimises lives in the recipe, not in solver switches: a recipe
that names no ``losses``/``priors`` gets :data:`YEH_DEFAULTS` (the context loss with a 7-pixel
window, the discriminator prior with lambda = 0.003, and the box [-1, 1] on z).
"""

from __future__ import annotations

from pydantic import Field

from invprob.hookspecs import hookimpl
from invprob.params import OddWindow, Params
from invprob.registry import ComponentRegistry


class YehParams(Params):
    """Yeh et al. semantic inpainting: latent search on the recipe's losses and priors, then Poisson blending."""

    needs_generator = True  # optimises or constrains a generator's latent
    needs_mask = True  # Poisson-blends into the observed pixels; its context loss weighs by the mask

    steps: int = Field(1500, ge=0, description="iterations (the paper: 1500)")
    lr: float = Field(0.01, gt=0, description="Adam learning rate (bamos/dcgan-completion.tensorflow: 0.01)")
    restarts: int = Field(1, ge=1, description="random restarts, optimised together as one batch")
    blend: bool = Field(True, description="Poisson-blend G(z) into the observed pixels at the end")


class ContextParams(Params):
    """Importance-weighted L1 context loss of Yeh et al. (eq. 3-4) for inpainting."""

    needs_mask = True  # weighs each observed pixel by its missing neighbours

    window: OddWindow = Field(7, description="odd side of the square neighbourhood N(i), in pixels")


YEH_DEFAULTS = {
    "losses": [{"type": "context", "params": {"window": 7}}],
    "priors": [{"type": "discriminator", "params": {"lam": 0.003}}, {"type": "box"}],
}
"""The recipe's ``losses``/``priors`` when it names none: Yeh et al.'s eq. 2-5, z in [-1, 1]."""


def _yeh(params: YehParams, context: object):
    from .solver import YehSolver

    return YehSolver(steps=params.steps, lr=params.lr, restarts=params.restarts, blend=params.blend)


def _context(params: ContextParams, context: object):
    from .context_loss import ContextLoss

    return ContextLoss(window=params.window)


@hookimpl
def invprob_register_solvers(registry: ComponentRegistry) -> None:
    registry.add(
        "yeh",
        _yeh,
        params_model=YehParams,
        examples=[{"steps": 20, "lr": 0.05}, {"steps": 20, "lr": 0.05, "restarts": 2, "blend": False}],
        defaults=YEH_DEFAULTS,
    )


@hookimpl
def invprob_register_losses(registry: ComponentRegistry) -> None:
    registry.add("context", _context, params_model=ContextParams, examples=[{}, {"window": 3}])
