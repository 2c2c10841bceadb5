"""Conformance of priors, each against the contract of its kind.

- A :class:`~invprob.prior.Penalty` returns one finite value per image, differentiable in the
  latents (solvers add it to the loss and back-propagate).
- A :class:`~invprob.prior.Constraint` is a projection: ``P(P(v)) == P(v)``; ``project_``
  writes in place, so the optimiser state bound to the tensor survives, and touches only the
  entry it is set on.
- A :class:`~invprob.prior.Reparameterisation` returns named latents shaped like the template
  it was initialised with, with finite gradients for its own parameters.

Variables are the generator's named latents, every entry of them. Priors are tested with
:class:`~invprob.testing.toys.TinyGenerator` (override :meth:`PriorConformance.make_generator`
to use another, e.g. :class:`~invprob.testing.toys.TinyMappedGenerator` with two latents).
"""

from __future__ import annotations

import torch

from invprob.generator import Generator
from invprob.prior import Constraint, Penalty, PenaltyContext, Prior, Reparameterisation
from invprob.testing.numerics import assert_close, assert_finite, assert_tensor_dict, seeded, shapes_of, tensors_of
from invprob.testing.suite import ComponentCase, ConformanceSuite
from invprob.testing.toys import TinyGenerator


def check_penalty(penalty: Penalty, generator: Generator, *, batch: int = 2, seed: int = 0) -> None:
    """On the generator's named latents (every entry a variable), the penalty has shape ``[B]``,
    is finite, and has finite gradients wrt the latents it depends on (at least one)."""
    latents = generator.sample_latent(batch, seeded(seed))
    variables = {name: value.requires_grad_(True) for name, value in latents.items()}
    value = penalty(PenaltyContext(variables=variables, image=generator(variables), generator=generator))
    if tuple(value.shape) != (batch,):
        raise AssertionError(f"the penalty has shape {tuple(value.shape)}; it must give one value per image, ({batch},)")
    assert_finite(value, "the penalty")
    names = list(variables)
    gradients = torch.autograd.grad(value.sum(), [variables[name] for name in names], allow_unused=True)
    if all(gradient is None for gradient in gradients):
        raise AssertionError(f"the penalty depends on none of the latents {names}: it has no gradient")
    for name, gradient in zip(names, gradients):
        if gradient is not None:
            assert_finite(gradient, f"the gradient of the penalty wrt {name!r}")


def check_constraint(constraint: Constraint, generator: Generator, *, batch: int = 2, seed: int = 0) -> None:
    """On the generator's named latents, ``project`` is idempotent and keeps the shape,
    ``project_`` writes into the constrained entry in place and leaves the others alone."""
    spaces = generator.latent_spaces
    if constraint.variable not in spaces:
        raise AssertionError(
            f"the constraint is set on {constraint.variable!r}, which is not a latent of "
            f"{type(generator).__name__} ({sorted(spaces)}); build it for one of those"
        )
    rng = seeded(seed)
    values = {name: 3 * torch.randn((batch, *space.shape), generator=rng) for name, space in spaces.items()}
    value = values[constraint.variable]  # mostly outside any ball
    with torch.no_grad():
        once = constraint.project(value.clone())
        if tuple(once.shape) != tuple(value.shape):
            raise AssertionError(f"project changed the shape {tuple(value.shape)} to {tuple(once.shape)}")
        assert_finite(once, "project(v)")
        assert_close(constraint.project(once.clone()), once, 1e-5, "project(project(v)) against project(v)")
    variables = {name: tensor.clone() for name, tensor in values.items()}
    tensors = dict(variables)
    constraint.project_(variables)
    for name, tensor in tensors.items():
        if variables[name] is not tensor:
            raise AssertionError(
                f"project_ replaced the tensor {name!r} instead of writing into it; the optimiser state would be lost"
            )
        if name != constraint.variable and not torch.equal(tensor, values[name]):
            raise AssertionError(f"project_ of a constraint on {constraint.variable!r} changed the latent {name!r}")
    assert_close(tensors[constraint.variable], once, 1e-6, "the tensor after project_ against project(v)")


def check_reparameterisation(
    prior: Reparameterisation, generator: Generator, *, batch: int = 2, seed: int = 0
) -> None:
    """After ``initialise(template, rng)``, ``forward()`` is a dict of latents shaped like the
    template that ``generator`` accepts, with finite gradients for the prior's parameters."""
    template = generator.sample_latent(batch, seeded(seed))
    prior.initialise(template, rng=seeded(seed + 1))
    latents = prior()
    assert_tensor_dict(latents, "the reparameterisation's forward()")
    if shapes_of(latents) != shapes_of(template):
        raise AssertionError(
            f"forward() gave latents shaped {shapes_of(latents)}, the template is {shapes_of(template)}"
        )
    parameters = [p for p in prior.parameters() if p.requires_grad]
    if not parameters:
        raise AssertionError("the reparameterisation has no trainable parameters after initialise()")
    generator(latents).square().mean().backward()
    for name, parameter in prior.named_parameters():
        if not parameter.requires_grad:
            continue
        if parameter.grad is None:
            raise AssertionError(f"parameter {name!r} gets no gradient through forward()")
        assert_finite(parameter.grad, f"the gradient of parameter {name!r}")
    for tensor in tensors_of(latents):
        assert_finite(tensor, "the reparameterised latent")


def check_prior(prior: Prior, generator: Generator, *, batch: int = 2, seed: int = 0) -> None:
    """Run the check of the prior's kind; a prior of no known kind is an error."""
    if isinstance(prior, Penalty):
        check_penalty(prior, generator, batch=batch, seed=seed)
    elif isinstance(prior, Constraint):
        check_constraint(prior, generator, batch=batch, seed=seed)
    elif isinstance(prior, Reparameterisation):
        check_reparameterisation(prior, generator, batch=batch, seed=seed)
    else:
        raise AssertionError(
            f"{type(prior).__qualname__} is none of Penalty, Constraint, Reparameterisation: solvers cannot use it"
        )


class PriorConformance(ConformanceSuite):
    """The prior suite: subclass it and set ``distribution``.

    Priors are built with :meth:`make_generator`'s generator in their context (as the pipeline
    builds them) and for its image shape.
    """

    kind = "priors"
    expected_type = Prior
    image_shapes = [(3, 16, 16)]

    def make_generator(self) -> Generator:
        """The generator the priors are tested with (a frozen, seeded TinyGenerator)."""
        return TinyGenerator(seed=0).eval().requires_grad_(False)

    def test_prior_meets_the_contract_of_its_kind(self, case: ComponentCase) -> None:
        generator = self.make_generator()
        prior = self.build(case, image_shape=generator.image_shape, generator=generator)
        check_prior(prior, generator, batch=self.batch_size)


__all__ = [
    "PriorConformance",
    "check_constraint",
    "check_penalty",
    "check_prior",
    "check_reparameterisation",
]
