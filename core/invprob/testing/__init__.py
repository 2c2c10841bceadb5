"""invprob's testing kit: conformance suites plugin authors reuse, toy components, a pytest plugin.

In a plugin's top-level ``conftest.py``::

    pytest_plugins = ["invprob.testing"]

and in a test module::

    from invprob.testing import OperatorConformance

    class TestImagingOperators(OperatorConformance):
        distribution = "invprob-plugin-imaging"
        skip = {"classifier": "needs weights"}

Each suite runs its checks on every component of its kind that the distribution registers,
for each of the component's ``examples`` and each image shape. The checks are plain functions
(``check_adjointness(op, shape)``...) that raise ``AssertionError`` with a readable cause, so
they work outside pytest too.

This module is also the pytest plugin: it exposes the ``invprob_registry`` fixture and the
``gpu`` marker handling of :mod:`invprob.testing.plugin`.
"""

from __future__ import annotations

from invprob.testing.generators import (
    GeneratorConformance,
    check_discriminator,
    check_gaussian_fit,
    check_latents_match_across_devices,
    check_lcm_info,
    check_output_shape_and_range,
    check_sampling_is_seeded,
    check_split_invariant,
    check_state_latents,
)
from invprob.testing.losses import (
    LossConformance,
    check_loss_batch_consistency,
    check_loss_gradients,
    check_loss_is_per_sample,
)
from invprob.testing.metrics import (
    MetricConformance,
    check_metric_batch_consistency,
    check_metric_direction,
    check_metric_is_per_image,
)
from invprob.testing.operators import (
    OperatorConformance,
    check_adjoint_matches_autograd,
    check_adjointness,
    check_batch_consistency,
    check_dense_matrix,
    check_device_move,
    check_dtype_move,
    check_noise_is_seeded,
    check_state_round_trip,
    dense_matrix,
)
from invprob.testing.plugin import (
    installed_registry,
    invprob_registry,
    pytest_collection_modifyitems,
    pytest_configure,
    swap_default_registry,
)
from invprob.testing.priors import (
    PriorConformance,
    check_constraint,
    check_penalty,
    check_prior,
    check_reparameterisation,
)
from invprob.testing.solvers import (
    SolverConformance,
    check_best_loss_is_measurement_loss,
    check_loss_decreases,
    check_result_shapes,
    check_stops_when_asked,
    initial_measurement_loss,
    run_solver,
)
from invprob.testing.suite import ComponentBuildError, ComponentCase, ConformanceSuite, registry_for
from invprob.testing.toys import MaskOperator, TinyGenerator, TinyMappedGenerator, make_toy_problem

__all__ = [
    "ComponentBuildError",
    "ComponentCase",
    "ConformanceSuite",
    "GeneratorConformance",
    "LossConformance",
    "MaskOperator",
    "MetricConformance",
    "OperatorConformance",
    "PriorConformance",
    "SolverConformance",
    "TinyGenerator",
    "TinyMappedGenerator",
    "check_adjoint_matches_autograd",
    "check_adjointness",
    "check_batch_consistency",
    "check_best_loss_is_measurement_loss",
    "check_constraint",
    "check_dense_matrix",
    "check_device_move",
    "check_discriminator",
    "check_gaussian_fit",
    "check_latents_match_across_devices",
    "check_lcm_info",
    "check_dtype_move",
    "check_loss_batch_consistency",
    "check_loss_decreases",
    "check_loss_gradients",
    "check_loss_is_per_sample",
    "check_metric_batch_consistency",
    "check_metric_direction",
    "check_metric_is_per_image",
    "check_noise_is_seeded",
    "check_output_shape_and_range",
    "check_penalty",
    "check_prior",
    "check_reparameterisation",
    "check_result_shapes",
    "check_sampling_is_seeded",
    "check_split_invariant",
    "check_state_latents",
    "check_state_round_trip",
    "check_stops_when_asked",
    "dense_matrix",
    "initial_measurement_loss",
    "installed_registry",
    "invprob_registry",
    "make_toy_problem",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "registry_for",
    "run_solver",
    "swap_default_registry",
]
