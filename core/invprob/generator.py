"""The generator interface: named latents to images in [-1, 1], splittable at every stage.

Everything that flows into or through a generator is a dict of named tensors:

- **latents** (:data:`Latents`) map each latent space's name to a batch ``[B, *shape]``
  (``{"z": ...}`` for a DCGAN; ``{"w": ..., "noise0": ...}`` for a StyleGAN2);
- the **state** at a split point (:data:`State`) is what the rest of the generator needs
  (for StyleGAN2: the feature map, the RGB skip, and the per-layer latents and noise maps
  still to come), so a solver such as ILO can optimise it by name.

``split(k)`` is the contract: it returns ``(G1, G2)`` with ``G1(latents) -> state`` and
``G2(state) -> image`` such that ``G2(G1(latents)) == G(latents)`` for every ``0 <= k <= K``
(``K = num_stages``); at ``k = 0`` the state is the latents dict itself.

A generator that is a chain of stages may list them in ``stages`` (modules ``State -> State``;
the last one writes the image under :data:`IMAGE`) and gets ``forward``, ``split`` and
``num_stages`` from this class. ``stages`` may be a property that builds views of the
checkpoint's own modules on demand, so the module tree (and the state-dict keys) stay those of
the checkpoint. A generator of another shape overrides ``split`` and ``num_stages`` itself.

**Optional capabilities.** Some solvers and priors use more than this contract when a generator
offers it. Each such capability is a :func:`typing.runtime_checkable` protocol here, which a
generator provides by having the member (no base class to inherit; its docstring says which
protocols it implements), a component checks with ``isinstance(generator, Protocol)``, and the
generator conformance suite checks behaviourally for every generator that has it
(:mod:`invprob.testing.generators`):

- :class:`HasStateLatents` (``state_latents``): which split-state entries are latents rather
  than feature maps (StyleGAN2's ``w+`` and noise maps; ILO's latent radii and sphere);
- :class:`HasGaussianFit` (``gaussian_fit``): the Gaussian fit of the mapping network's output
  (StyleGAN2; PULSE's and ILO's Gaussianised space, the ``sphere`` prior's ``space: gaussianised``);
- :class:`HasLCMInfo` (``lcm_info``): the latent manifold an LCM model was trained with (the
  ``lcm`` solver refuses another one).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import torch
from torch import nn

from invprob import seeding

Latents = dict[str, torch.Tensor]
"""Latent name -> ``[B, *shape]``."""

State = dict[str, torch.Tensor]
"""What flows across a split boundary: named tensors, each ``[B, ...]``."""

Sampler = Callable[[int, "torch.Generator | None"], torch.Tensor]
"""``sampler(batch, rng) -> [batch, *shape]``: draws a latent space's own distribution."""

IMAGE = "image"
"""The state key under which the last stage of a stage chain writes the image."""

FEATURES = "features"
"""The state key of the single feature map of a plain convolutional chain (DCGAN)."""

DiscriminatorOutput = Literal["logit", "least_squares"]


@dataclass(frozen=True)
class LatentSpace:
    """A latent space: its name, per-sample shape, and the distribution the generator expects.

    ``distribution`` is ``"normal"`` (N(0, 1)), ``"uniform"`` (U(-1, 1)), or ``"custom"``: the
    space then draws with its own ``sampler(batch, rng) -> [batch, *shape]``. StyleGAN2's
    ``w`` is one: ``w = mapping(z)`` with ``z ~ N(0, I)``, neither normal nor uniform; its
    generator declares ``LatentSpace.custom("w", (512,), self.sample_w)``. A sampler draws
    its randomness with :func:`invprob.seeding.randn`/``rand`` on ``rng`` (a CPU generator),
    so that one seed gives the same latents on every device; it runs under ``no_grad``.
    """

    name: str
    shape: tuple[int, ...]
    distribution: Literal["normal", "uniform", "custom"] = "normal"
    sampler: Sampler | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.distribution not in ("normal", "uniform", "custom"):
            raise ValueError(
                f"latent space {self.name!r}: unknown distribution {self.distribution!r}; "
                "expected 'normal', 'uniform' or 'custom' (with a sampler)"
            )
        if (self.distribution == "custom") != (self.sampler is not None):
            raise ValueError(
                f"latent space {self.name!r}: a sampler goes with distribution 'custom' and only with it "
                f"(got distribution={self.distribution!r}, sampler={self.sampler!r}); "
                "use LatentSpace.custom(name, shape, sampler) for a space with its own sampler"
            )

    @classmethod
    def custom(cls, name: str, shape: tuple[int, ...], sampler: Sampler) -> LatentSpace:
        """A space whose latents ``sampler(batch, rng)`` draws (e.g. a mapping network's output)."""
        return cls(name, tuple(shape), "custom", sampler)

    def sample(
        self,
        batch: int,
        rng: torch.Generator | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """``batch`` latents ``[batch, *shape]`` on ``device``: drawn on the (CPU) ``rng``, then moved."""
        shape = (batch, *self.shape)
        if self.sampler is not None:
            with torch.no_grad():
                value = self.sampler(batch, rng)
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
                got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"the sampler of latent space {self.name!r} returned {got}, expected {shape}")
            return value.to(device=device, dtype=dtype)
        if self.distribution == "uniform":
            return seeding.rand(shape, rng, device=device, dtype=dtype) * 2 - 1
        return seeding.randn(shape, rng, device=device, dtype=dtype)


class Generator(nn.Module):
    """Maps latents ``{name: [B, *shape]}`` to an image batch ``[B, C, H, W]`` in [-1, 1].

    Subclasses set ``image_shape`` and ``latent_spaces`` (the first one declared is the
    *primary* latent, the one a bare tensor given to ``forward`` stands for), and
    ``discriminator`` where the checkpoint has one, with ``discriminator_output`` saying what
    it returns: ``"logit"`` (a BCE-trained GAN, ``D = sigmoid(logit)``) or
    ``"least_squares"`` (an LSGAN score pushed towards 1 for real images). The discriminator
    prior reads that declaration; ``None`` means undeclared.

    Then either list ``stages`` (see the module docstring) or override ``forward``, ``split``
    and ``num_stages``. A subclass with ``stages`` may still override ``forward`` with a
    faster path (the conformance suite checks that it agrees with every split).
    """

    image_shape: tuple[int, int, int]
    latent_spaces: dict[str, LatentSpace]
    discriminator_output: DiscriminatorOutput | None = None
    stages: Sequence[nn.Module]  # optional: State -> State modules; the last writes IMAGE

    @property
    def discriminator(self) -> nn.Module | None:
        """The checkpoint's discriminator (a registered submodule), or None.

        A property rather than a class attribute ``= None``: ``nn.Module`` stores submodules in
        ``_modules`` and a class attribute would shadow the one a subclass assigns.
        """
        return self._modules.get("discriminator")

    @discriminator.setter
    def discriminator(self, module: nn.Module | None) -> None:
        self._modules["discriminator"] = module

    @property
    def display_name(self) -> str:
        """How messages name this generator: its class (an adapter names the module it adapts)."""
        return type(self).__name__

    @property
    def primary_latent(self) -> LatentSpace:
        """The latent space a bare tensor stands for (the first one declared)."""
        return next(iter(self.latent_spaces.values()))

    @property
    def num_stages(self) -> int:
        """``K``: the valid split points are ``0..K``."""
        return len(self._stage_list())

    def as_latents(self, latents: Latents | torch.Tensor) -> Latents:
        """``latents`` as a dict with exactly this generator's latent names (a tensor = the primary)."""
        if isinstance(latents, torch.Tensor):
            return {self.primary_latent.name: latents}
        if not isinstance(latents, Mapping):
            raise TypeError(
                f"{type(self).__name__} takes latents as a dict {{name: tensor}} (or one tensor for "
                f"{self.primary_latent.name!r}), got {type(latents).__name__}"
            )
        if latents.keys() != self.latent_spaces.keys():
            raise ValueError(
                f"{type(self).__name__} takes the latents {sorted(self.latent_spaces)}, got {sorted(latents)}"
            )
        return dict(latents)

    def forward(self, latents: Latents | torch.Tensor) -> torch.Tensor:
        """The image batch for ``latents`` (a dict, or a bare tensor for the primary latent)."""
        return _run(self._stage_list(), self.as_latents(latents), IMAGE)

    def split(self, k: int) -> tuple[nn.Module, nn.Module]:
        """``(G1, G2)``: ``G1(latents) -> state`` runs stages ``[0, k)``, ``G2(state) -> image`` the rest."""
        stages = self._stage_list()
        if not 0 <= k <= len(stages):
            raise ValueError(f"split index {k} is outside [0, {len(stages)}] for {type(self).__name__}")
        return StageChain(stages[:k]), StageChain(stages[k:], output=IMAGE)

    def segment(self, start: int, stop: int) -> nn.Module:
        """The part of the generator between split points: ``state_start -> state_stop``.

        ``segment(0, k)`` is ``G1`` of ``split(k)`` (it takes the latents); for ``start > 0``
        it runs stages ``[start, stop)`` of a stage chain, so that
        ``split(stop)[0](latents) == segment(start, stop)(split(start)[0](latents))``. ILO's
        projection back to the range fits one round's variables through it. A generator that
        overrides ``split`` without listing ``stages`` gets only ``start == 0`` unless it
        overrides this too.
        """
        if not 0 <= start <= stop <= self.num_stages:
            raise ValueError(f"segment [{start}, {stop}) is outside 0 <= start <= stop <= {self.num_stages}")
        if start == 0:
            return self.split(stop)[0]
        return StageChain(self._stage_list()[start:stop])

    def sample_latent(self, batch: int, rng: torch.Generator | None = None) -> Latents:
        """Latents for ``batch`` images from each space's distribution, on this module's device.

        Drawn on ``rng`` (a CPU ``torch.Generator``; torch's global RNG when None), space by
        space in declaration order, then moved: one seed gives the same latents on every device.
        """
        device, dtype = _module_device(self), _module_dtype(self)
        spaces = self.latent_spaces.items()
        return {name: space.sample(batch, rng, device=device, dtype=dtype) for name, space in spaces}

    def _stage_list(self) -> list[nn.Module]:
        stages = getattr(self, "stages", None)
        if stages is None:
            raise NotImplementedError(
                f"{type(self).__name__} lists no stages: list them in 'stages' (State -> State modules) "
                "or override split() and num_stages"
            )
        return list(stages)


@runtime_checkable
class HasStateLatents(Protocol):
    """A generator whose split states carry latents besides feature maps, and says which.

    ``state_latents`` names the split-state entries (at any ``k``) that are latents (a per-layer
    style ``w+``, noise maps) rather than feature maps, whether or not they are input latents
    of this model. ILO keeps them on their sphere and gives them its latent radii; without this
    capability only the input latents count as latents. Every name must occur in the state of
    some split point, as a tensor (checked by :func:`invprob.testing.generators.check_state_latents`).
    """

    @property
    def state_latents(self) -> tuple[str, ...]:
        """The names, in a fixed order."""
        ...


@runtime_checkable
class HasGaussianFit(Protocol):
    """A generator with a mapping network whose output can be Gaussianised (PULSE's space).

    ``gaussian_fit(samples, seed=seed)`` returns ``(mean [D], covariance [D, D])`` of the
    Gaussianised mapping output (StyleGAN2: ``leaky_relu(w, 5)``, ``D`` the width of ``w``)
    over ``samples`` draws seeded by ``seed`` (same arguments, same result); ``samples``
    defaults to what the generator deems enough. PULSE and ILO search ``w``/``w+`` in that
    space; the ``sphere`` prior's ``space: gaussianised`` needs it. Checked by
    :func:`invprob.testing.generators.check_gaussian_fit`.
    """

    def gaussian_fit(self, samples: int = ..., *, seed: int = ...) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean [D], covariance [D, D])`` on the generator's device."""
        ...


@runtime_checkable
class LCMInfo(Protocol):
    """What an LCM model file records about its latent manifold (see :class:`HasLCMInfo`)."""

    manifold: Mapping[str, Any] | None
    """The latent ConvNet's config (JSON-able; the ``conv-manifold`` prior's ``config()``), None for GLO."""
    bound: float | None
    """The box bound on the manifold's parameters, None for GLO."""


@runtime_checkable
class HasLCMInfo(Protocol):
    """A generator trained jointly with a latent manifold (LCM), recording that manifold.

    The ``lcm`` solver compares ``lcm_info.manifold`` and ``lcm_info.bound`` with its prior's
    and refuses another manifold: it would optimise a latent the generator never saw. A
    generator without this record is not checked. Checked by
    :func:`invprob.testing.generators.check_lcm_info`.
    """

    lcm_info: LCMInfo


class StageChain(nn.Module):
    """Runs a run of stages on a state dict; ``output`` names the entry to return (else the state).

    The empty chain is the identity, so ``split(0)`` gives ``G1(latents) == latents``.
    """

    def __init__(self, stages: Sequence[nn.Module], output: str | None = None):
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.output = output

    def forward(self, state: State) -> State | torch.Tensor:
        return _run(self.stages, state, self.output)


class TensorStage(nn.Module):
    """A ``tensor -> tensor`` module as a stage: ``state[source] -> state[target]``.

    The other entries of the state pass through untouched (the latents a later stage still
    needs). This is how a plain convolutional chain (DCGAN) keeps its checkpoint's modules and
    still speaks in named state: ``TensorStage(block, "z", FEATURES)`` first, then
    ``TensorStage(block, FEATURES, FEATURES)``, and ``TensorStage(block, FEATURES, IMAGE)`` last.
    """

    def __init__(self, module: nn.Module, source: str, target: str):
        super().__init__()
        self.module = module
        self.source = source
        self.target = target

    def forward(self, state: State) -> State:
        rest = {name: value for name, value in state.items() if name != self.source}
        rest[self.target] = self.module(state[self.source])
        return rest


def _run(stages: Sequence[nn.Module], state: State, output: str | None) -> State | torch.Tensor:
    if not isinstance(state, Mapping):
        raise TypeError(f"generator stages take a dict {{name: tensor}}, got {type(state).__name__}")
    for stage in stages:
        state = stage(state)
    if output is None:
        return state
    if output not in state:
        raise KeyError(f"the generator's last stage must write {output!r}; the state has {sorted(state)}")
    return state[output]


def generator_name(generator: nn.Module) -> str:
    """How messages name a generator: :attr:`Generator.display_name`, else its class."""
    return generator.display_name if isinstance(generator, Generator) else type(generator).__name__


def _module_device(module: nn.Module) -> torch.device:
    tensor = next(itertools.chain(module.parameters(), module.buffers()), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _module_dtype(module: nn.Module) -> torch.dtype:
    tensor = next(module.parameters(), None)
    return tensor.dtype if tensor is not None else torch.float32
