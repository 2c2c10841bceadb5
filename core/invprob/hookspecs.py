"""The hooks a plugin implements to add components to invprob.

Each hook receives a typed registry for one kind of component and calls
``registry.add(name, factory, params_model=...)`` once per component. Hook modules must stay
light: import torch models, weights and other heavy code inside the factory, not at module
level, so that ``invprob plugins``/``validate``/``schema`` answer at once.

A plugin module is referenced from ``[project.entry-points.invprob]`` in its
``pyproject.toml`` and decorates its hook functions with :data:`invprob.hookimpl`; the core's
own components are plugins of the same kind (:mod:`invprob.default_plugins`). Every
``invprob_*`` function of a plugin must be one of the hooks below, or one a distribution
declares through the ``invprob.hookspecs`` entry-point group (``invprob-studies`` declares
``invprob_register_study_engines``; :meth:`invprob.registry.Registry.add_hookspecs`): a
misspelled one stops the plugin from loading, with a "did you mean".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import torch

    from invprob.registry import CommandRegistry, ComponentRegistry

PROJECT_NAME = "invprob"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def invprob_register_generators(registry: ComponentRegistry) -> None:
    """Add generators: modules that map latents to images in [-1, 1] and split at any stage."""


@hookspec
def invprob_register_operators(registry: ComponentRegistry) -> None:
    """Add operators: forward models ``y = noise(A(x))`` with an adjoint when linear."""


@hookspec
def invprob_register_priors(registry: ComponentRegistry) -> None:
    """Add priors: penalties, constraints and reparameterisations of the latent."""


@hookspec
def invprob_register_losses(registry: ComponentRegistry) -> None:
    """Add losses: per-sample data fidelity between ``A(G(z))`` and the observation."""


@hookspec
def invprob_register_solvers(registry: ComponentRegistry) -> None:
    """Add solvers: algorithms that optimise latents/parameters for an inverse problem.

    A solver may declare the recipe-level losses and priors it wants when a recipe names none:
    ``registry.add("yeh", factory, defaults={"losses": [{"type": "context"}], "priors": [...]})``.
    """


@hookspec
def invprob_register_metrics(registry: ComponentRegistry) -> None:
    """Add metrics: per-image quality scores of a reconstruction against the ground truth."""


@hookspec
def invprob_setup_runtime(device: torch.device) -> None:
    """Prepare for running on ``device`` before any component runs: register faster kernels.

    Called once per run, after the device is known. A kernel plugin registers its
    implementations of the core's ops here (:func:`invprob.ops.register_kernel`). A hook that
    raises is reported as the plugin's failure and the run goes on without it (strict mode
    stops).
    """


@hookspec
def invprob_register_commands(registry: CommandRegistry) -> None:
    """Add ``invprob`` subcommands (for example ``invprob train dcgan``)."""
