"""The testing kit (`invprob.testing`): its suites pass on correct toy components, its checks
fail on deliberately wrong ones, and its fixture isolates plugins registered by one test."""

from __future__ import annotations

import textwrap
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from invprob import hookimpl
from invprob import registry as registry_module
from invprob.generator import (
    FEATURES, IMAGE, HasGaussianFit, HasLCMInfo, HasStateLatents, LatentSpace, TensorStage,
)
from invprob.loss import Loss, per_sample_mean
from invprob.operator import GaussianNoise, Operator
from invprob.params import Params
from invprob.prior import Constraint, Penalty, PenaltyContext, Reparameterisation
from invprob.problem import InverseProblem
from invprob.progress import Monitor
from invprob.registry import Registry, new_registry
from invprob.solver import BestIterate, Solver, SolverResult
from invprob.testing import (
    ComponentBuildError,
    GeneratorConformance,
    LossConformance,
    MaskOperator,
    OperatorConformance,
    PriorConformance,
    SolverConformance,
    TinyGenerator,
    check_adjoint_matches_autograd,
    check_adjointness,
    check_batch_consistency,
    check_best_loss_is_measurement_loss,
    check_constraint,
    check_dense_matrix,
    check_dtype_move,
    check_loss_batch_consistency,
    check_loss_decreases,
    check_loss_is_per_sample,
    check_noise_is_seeded,
    check_output_shape_and_range,
    check_penalty,
    check_result_shapes,
    check_sampling_is_seeded,
    check_split_invariant,
    check_state_round_trip,
    check_stops_when_asked,
    make_toy_problem,
    run_solver,
)
from invprob.testing.generators import check_discriminator, check_gaussian_fit, check_lcm_info, check_state_latents
from invprob.testing.toys import TinyMappedGenerator

pytest_plugins = ["pytester", "invprob.testing"]

TOY_DISTRIBUTION = "invprob-toys"
SHAPE = (3, 16, 16)


# -- correct toy components ---------------------------------------------------------------


class ScaleOperator(Operator):
    """``A(x) = factor * x``: the simplest linear operator, with optional Gaussian noise."""

    linear = True

    def __init__(self, factor: float, sigma: float = 0.0):
        super().__init__(GaussianNoise(sigma) if sigma > 0 else None)
        self.register_buffer("factor", torch.tensor(float(factor)))

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor.to(x.dtype) * x

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self.factor.to(y.dtype) * y


class TanhOperator(Operator):
    """A non-linear operator: the suites skip its adjoint checks and run the others."""

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(2 * x)


class GaussianNormPenalty(Penalty):
    """``weight * ||z||^2`` per sample."""

    def __init__(self, weight: float):
        super().__init__()
        self.weight = weight

    def forward(self, context: PenaltyContext) -> torch.Tensor:
        z = context.variables["z"]
        return self.weight * z.reshape(z.shape[0], -1).square().sum(dim=1)


class BoxConstraint(Constraint):
    """Clamp the latent into ``[-bound, bound]``."""

    def __init__(self, bound: float):
        super().__init__("z")
        self.bound = bound

    def project(self, value: torch.Tensor) -> torch.Tensor:
        return value.clamp(-self.bound, self.bound)


class LinearManifold(Reparameterisation):
    """``z = W s`` for a fixed noise input ``s`` and trainable ``W``."""

    def initialise(self, template: dict[str, torch.Tensor], rng: torch.Generator | None = None) -> None:
        batch, dim = template["z"].shape
        self.register_buffer("source", torch.randn(batch, dim, generator=rng))
        self.weight = nn.Parameter(torch.eye(dim))

    def forward(self) -> dict[str, torch.Tensor]:
        return {"z": self.source @ self.weight.T}


class GradientDescentSolver(Solver):
    """Adam on the latent for a fixed number of steps, keeping the best iterate."""

    def __init__(self, steps: int, lr: float):
        self.steps = steps
        self.lr = lr

    def solve(self, problem: InverseProblem, *, rng=None, monitor=None) -> SolverResult:
        monitor = monitor or Monitor(show_progress=False)
        model = problem.generator
        z = model.sample_latent(problem.batch_size, rng)["z"].requires_grad_(True)
        optimiser = torch.optim.Adam([z], lr=self.lr)
        best = BestIterate(problem.batch_size)
        interrupted = False
        monitor.start(self.steps, "gradient descent")
        for _ in range(self.steps):
            if monitor.stop_requested:
                interrupted = True
                break
            image = model(z)
            loss = problem.measurement_loss(image)
            best.update(loss, image, {"z": z})
            optimiser.zero_grad()
            (loss + problem.penalty({"z": z}, image)).sum().backward()
            optimiser.step()
            problem.project_({"z": z})
            monitor.step(loss=loss)
        with torch.no_grad():
            image = model(z)
            best.update(problem.measurement_loss(image), image, {"z": z})
        monitor.close()
        return SolverResult(
            best_image=best.image,
            best_latents=best.variables,
            best_loss=best.loss,
            last_image=image,
            last_latents={"z": z.detach()},
            history=monitor.history,
            interrupted=interrupted,
        )


class FactorParams(Params):
    """Scale every pixel by a factor, with optional Gaussian noise."""

    factor: float = 2.0
    sigma: float = 0.0


class MaskParams(Params):
    """Keep the border, drop the centre square."""

    sigma: float = 0.0


class WeightParams(Params):
    """Gaussian norm penalty."""

    weight: float = 0.1


class BoundParams(Params):
    """Clamp the latent."""

    bound: float = 1.0


class DescentParams(Params):
    """Adam on the latent."""

    steps: int = 30
    lr: float = 0.1


class ToyPlugin:
    """A test plugin registering one correct toy per kind (and two operators)."""

    @hookimpl
    def invprob_register_operators(self, registry):
        registry.add(
            "scale", lambda p, c: ScaleOperator(p.factor, p.sigma), params_model=FactorParams,
            examples=[{}, {"factor": -0.5, "sigma": 0.1}],
        )
        registry.add("mask", lambda p, c: MaskOperator(c.image_shape, p.sigma), params_model=MaskParams, examples=[{}])
        registry.add("tanh", lambda p, c: TanhOperator())

    @hookimpl
    def invprob_register_generators(self, registry):
        registry.add("tiny", lambda p, c: TinyGenerator(channels=c.image_shape[0], seed=c.seed))
        registry.add("tiny-mapped", lambda p, c: TinyMappedGenerator(channels=c.image_shape[0], seed=c.seed))
        registry.add("tiny-capable", lambda p, c: CapableGenerator(channels=c.image_shape[0], seed=c.seed))

    @hookimpl
    def invprob_register_priors(self, registry):
        registry.add("gaussian-norm", lambda p, c: GaussianNormPenalty(p.weight), params_model=WeightParams)
        registry.add("box", lambda p, c: BoxConstraint(p.bound), params_model=BoundParams, examples=[{"bound": 0.5}])
        registry.add("linear-manifold", lambda p, c: LinearManifold())

    @hookimpl
    def invprob_register_solvers(self, registry):
        registry.add(
            "gradient-descent", lambda p, c: GradientDescentSolver(p.steps, p.lr), params_model=DescentParams,
            examples=[{"steps": 20}],
        )


def toy_registry() -> Registry:
    registry = new_registry(entry_points=False, strict=True)
    registry.register_plugin(ToyPlugin(), distribution=TOY_DISTRIBUTION)
    return registry


# -- the suites, run on the toys (and on the core's own losses, found for real) ----------


class ToySuite:
    distribution = TOY_DISTRIBUTION

    @classmethod
    def load_registry(cls) -> Registry:
        return toy_registry()


class TestToyOperators(ToySuite, OperatorConformance):
    pass


class TestToyGenerators(ToySuite, GeneratorConformance):
    image_shapes = [(3, 16, 16), (1, 16, 16)]


class TestToyPriors(ToySuite, PriorConformance):
    pass


class TestToySolvers(ToySuite, SolverConformance):
    pass


class TestCoreLosses(LossConformance):
    distribution = "invprob-core"
    image_shapes = [(3, 16, 16)]  # one shape: LPIPS is slow to build


def test_suites_parametrise_every_component_example_and_shape():
    ids = [case.id for case in TestToyOperators.cases()]
    assert ids == [
        "mask[0]-3x16x16", "mask[0]-1x16x24",
        "scale[0]-3x16x16", "scale[0]-1x16x24", "scale[1]-3x16x16", "scale[1]-1x16x24",
        "tanh[0]-3x16x16", "tanh[0]-1x16x24",
    ]  # fmt: skip
    core_loss_ids = {case.id for case in TestCoreLosses.cases()}
    assert {"l1[0]-3x16x16", "mse[0]-3x16x16"} <= core_loss_ids


def test_suite_for_an_uninstalled_distribution_fails_with_a_hint():
    class TestMissing(OperatorConformance):
        distribution = "invprob-plugin-does-not-exist"

    (case,) = TestMissing.cases()
    assert "not installed" in case.problem
    with pytest.raises(ComponentBuildError, match="invprob-plugin-does-not-exist"):
        case.build()


def test_component_that_cannot_be_built_from_its_example_names_it_and_its_params():
    class BadExamplePlugin:
        @hookimpl
        def invprob_register_operators(self, registry):
            registry.add("scale", lambda p, c: ScaleOperator(p.factor), params_model=FactorParams, examples=[{"factr": 1}])

    class TestBadExample(OperatorConformance):
        distribution = "bad-example"

        @classmethod
        def load_registry(cls):
            registry = new_registry(entry_points=False, strict=True)
            registry.register_plugin(BadExamplePlugin(), distribution="bad-example")
            return registry

    case = TestBadExample.cases()[0]
    with pytest.raises(ComponentBuildError, match=r"operator 'scale' of bad-example \(example 0: \{'factr': 1\}"):
        TestBadExample().build(case)


# -- the fixture ------------------------------------------------------------------------


def test_invprob_registry_is_the_process_default_with_only_the_core(invprob_registry):
    assert registry_module.default_registry() is invprob_registry
    assert set(invprob_registry.distributions) == {"invprob-core"}
    assert invprob_registry.register_plugin(ToyPlugin(), distribution="my-test-plugin")
    assert invprob_registry.get("operators", "scale").distribution == "my-test-plugin"


def test_checks_run_on_a_component_registered_in_the_fixture(invprob_registry):
    from invprob.context import BuildContext

    invprob_registry.register_plugin(ToyPlugin(), distribution="my-test-plugin")
    context = BuildContext(registry=invprob_registry, image_shape=SHAPE)
    op = invprob_registry.build("operators", "mask", {}, context)
    assert check_adjointness(op, SHAPE, dtype=torch.float64) < 1e-10
    check_dense_matrix(op, SHAPE)


def test_registrations_last_one_test_and_the_previous_default_comes_back(pytester):
    pytester.makeconftest('pytest_plugins = ["invprob.testing"]')
    pytester.makepyfile(
        textwrap.dedent(
            """
            from invprob import hookimpl, registry
            SENTINEL = object()

            class Plugin:
                @hookimpl
                def invprob_register_operators(self, registry):
                    from invprob.testing import MaskOperator
                    registry.add("only-here", lambda p, c: MaskOperator())

            def test_a_registers(invprob_registry):
                invprob_registry.register_plugin(Plugin(), distribution="my-test-plugin")
                assert "only-here" in registry.default_registry().names("operators")

            def test_b_does_not_see_it(invprob_registry):
                assert "only-here" not in invprob_registry.names("operators")
            """
        )
    )
    before = registry_module._DEFAULT
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    assert registry_module._DEFAULT is before


def test_a_swapped_default_registry_lasts_one_test_however_often_it_is_swapped(pytester):
    pytester.makeconftest('pytest_plugins = ["invprob.testing"]')
    pytester.makepyfile(
        textwrap.dedent(
            """
            from invprob import registry

            def test_a_swaps_twice(swap_default_registry):
                first, second = registry.Registry(), registry.Registry()
                swap_default_registry(first)
                assert registry.default_registry() is first
                swap_default_registry(second)
                assert registry.default_registry() is second

            def test_b_installed_plugins_are_loaded_afresh(installed_registry):
                assert registry.default_registry().names("operators")  # the installed plugins, not a swapped one
            """
        )
    )
    before = registry_module._DEFAULT
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    assert registry_module._DEFAULT is before


def test_gpu_marked_tests_are_skipped_without_cuda(pytester):
    pytester.makeconftest('pytest_plugins = ["invprob.testing"]')
    pytester.makepyfile("import pytest\n@pytest.mark.gpu\ndef test_on_gpu():\n    assert False\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    if torch.cuda.is_available():
        result.assert_outcomes(failed=1)
    else:
        result.assert_outcomes(skipped=1)
        result.stdout.fnmatch_lines(["*needs a CUDA device*"])


# -- deliberately wrong components: the checks must fail ---------------------------------


class WrongAdjoint(MaskOperator):
    """Claims the identity is the adjoint of masking."""

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return y


class BatchMixing(Operator):
    """Subtracts the batch mean: each output depends on the other images of the batch."""

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return x - x.mean(dim=0, keepdim=True)


class GlobalRngNoise(MaskOperator):
    """Draws its noise from torch's global RNG, ignoring the rng it is given."""

    def forward(self, x, rng=None):
        return self.A(x) + 0.1 * torch.randn_like(x)


class SameNoiseEverySeed(MaskOperator):
    """Draws from the rng but adds the same noise whatever its seed."""

    def forward(self, x, rng=None):
        torch.randn(1, generator=rng)
        return self.A(x) + 0.1 * torch.ones_like(x)


class AlwaysFloat32(ScaleOperator):
    def A(self, x: torch.Tensor) -> torch.Tensor:
        return (self.factor * x).float()


class UnsavedRandomWeights(Operator):
    """Keeps its seed-dependent weights in a plain attribute, outside the state dict."""

    def __init__(self, seed: int):
        super().__init__()
        self.weights = torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed))

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weights


@pytest.mark.parametrize(
    ("check", "op", "message"),
    [
        (check_adjointness, WrongAdjoint(SHAPE), "not the adjoint"),
        (check_adjoint_matches_autograd, WrongAdjoint(SHAPE), "autograd"),
        (check_dense_matrix, WrongAdjoint(SHAPE), "M\\^T y"),
        (check_batch_consistency, BatchMixing(), "batch element"),
        (check_noise_is_seeded, GlobalRngNoise(SHAPE), "global RNG"),
        (check_noise_is_seeded, SameNoiseEverySeed(SHAPE), "two different seeds"),
        (check_dtype_move, AlwaysFloat32(2.0), "ignores its dtype"),
    ],
    ids=["adjointness", "autograd-adjoint", "dense-matrix", "batch", "noise-global-rng", "noise-same-seeds", "dtype"],
)
def test_operator_checks_fail_on_a_wrong_operator(check, op, message):
    with pytest.raises(AssertionError, match=message):
        check(op, SHAPE)


def test_state_round_trip_fails_when_state_lives_outside_buffers():
    with pytest.raises(AssertionError, match="keep everything A depends on in buffers"):
        check_state_round_trip(UnsavedRandomWeights(0), lambda: UnsavedRandomWeights(1), SHAPE)


def test_generator_suite_checks_the_capabilities_a_generator_has():
    """The suite finds a capability by isinstance and fails a generator that has it wrong."""

    class Plugin:
        @hookimpl
        def invprob_register_generators(self, registry):
            registry.add("plain", lambda p, c: TinyGenerator())
            registry.add("uncarried", lambda p, c: UncarriedStateLatent())

    class TestBroken(GeneratorConformance):
        distribution = "broken"

        @classmethod
        def load_registry(cls):
            registry = new_registry(entry_points=False, strict=True)
            registry.register_plugin(Plugin(), distribution="broken")
            return registry

    cases = {case.name: case for case in TestBroken.cases()}
    with pytest.raises(pytest.skip.Exception, match=r"plain has none of the optional capabilities \(HasStateLatents, "):
        TestBroken().test_optional_capabilities_behave_as_declared(cases["plain"])
    with pytest.raises(AssertionError, match=r"UncarriedStateLatent.state_latents names \['style'\], which no split state"):
        TestBroken().test_optional_capabilities_behave_as_declared(cases["uncarried"])


def test_operator_suite_reports_a_wrong_adjoint_as_failures(pytester):
    pytester.makeconftest('pytest_plugins = ["invprob.testing"]')
    pytester.makepyfile(
        textwrap.dedent(
            """
            import torch
            from invprob import hookimpl
            from invprob.registry import new_registry
            from invprob.testing import MaskOperator, OperatorConformance

            class WrongAdjoint(MaskOperator):
                def A_adjoint(self, y):
                    return y

            class Plugin:
                @hookimpl
                def invprob_register_operators(self, registry):
                    registry.add("wrong-adjoint", lambda p, c: WrongAdjoint(c.image_shape))

            class TestBroken(OperatorConformance):
                distribution = "broken"
                image_shapes = [(1, 8, 8)]

                @classmethod
                def load_registry(cls):
                    registry = new_registry(entry_points=False, strict=True)
                    registry.register_plugin(Plugin(), distribution="broken")
                    return registry
            """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-q")
    # the CUDA move of a wrong adjoint passes on a GPU (A* agrees with the CPU's) and is skipped without one
    if torch.cuda.is_available():
        result.assert_outcomes(failed=4, passed=5)
    else:
        result.assert_outcomes(failed=4, passed=4, skipped=1)
    result.stdout.fnmatch_lines(["E*AssertionError: A_adjoint is not the adjoint of A in torch.float32*"])
    result.stdout.fnmatch_lines(
        [
            "FAILED*test_adjointness_float32[[]wrong-adjoint[[]0[]]-1x8x8[]]*",
            "FAILED*test_adjointness_float64*",
            "FAILED*test_adjoint_matches_autograd*",
            "FAILED*test_dense_matrix*",
        ]
    )


class ShrunkForward(TinyGenerator):
    """``forward`` is no longer the composition of the stages, so splitting breaks it."""

    def forward(self, latent):
        return 0.5 * super().forward(latent)


class OutOfRange(TinyGenerator):
    def __init__(self):
        super().__init__()
        self.stages.append(TensorStage(_Shift(1.5), IMAGE, IMAGE))


class _Shift(nn.Module):
    def __init__(self, offset: float):
        super().__init__()
        self.offset = offset

    def forward(self, x):
        return x + self.offset


class UnseededSampling(TinyGenerator):
    def sample_latent(self, batch, rng=None):
        return {"z": torch.randn(batch, 8)}


class TensorState(TinyGenerator):
    """``G1`` hands on a bare tensor instead of a dict of named tensors."""

    def split(self, k):
        first, second = super().split(k)
        return nn.Sequential(first, _Only(FEATURES if k else "z")), second


class _Only(nn.Module):
    def __init__(self, key: str):
        super().__init__()
        self.key = key

    def forward(self, state):
        return state[self.key]


class UnnamedSampling(TinyGenerator):
    def sample_latent(self, batch, rng=None):
        return super().sample_latent(batch, rng)["z"]


class WrongLatentShape(TinyGenerator):
    def sample_latent(self, batch, rng=None):
        return {"z": torch.randn(batch, 3, generator=rng)}


class UndeclaredDiscriminator(TinyGenerator):
    discriminator_output = None


class CapableGenerator(TinyMappedGenerator):
    """The mapped toy with every optional capability of :mod:`invprob.generator`, provided right."""

    lcm_info = SimpleNamespace(manifold={"channels": [4, 8], "seed": 0}, bound=0.1)

    @property
    def state_latents(self) -> tuple[str, ...]:
        return ("w", "noise")  # w is in the state at k = 0 only, the noise map until the last stage

    def gaussian_fit(self, samples: int = 1000, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            x = F.leaky_relu(self.sample_w(samples, torch.Generator().manual_seed(seed)), 5.0)
        return x.mean(0), torch.cov(x.T)


class UncarriedStateLatent(CapableGenerator):
    state_latents = ("noise", "style")


class ListedStateLatents(CapableGenerator):
    state_latents = ["noise"]


class FlatCovariance(CapableGenerator):
    def gaussian_fit(self, samples=1000, *, seed=0):
        mean, covariance = super().gaussian_fit(samples, seed=seed)
        return mean, covariance.diagonal()


class UnseededFit(CapableGenerator):
    def gaussian_fit(self, samples=1000, *, seed=0):
        return super().gaussian_fit(samples, seed=int(torch.randint(0, 2**31, (1,))))


class NarrowFit(CapableGenerator):
    def gaussian_fit(self, samples=1000, *, seed=0):
        mean, covariance = super().gaussian_fit(samples, seed=seed)
        return mean[:4], covariance[:4, :4]


class NegativeBound(CapableGenerator):
    lcm_info = SimpleNamespace(manifold=None, bound=-1.0)


class OpaqueManifold(CapableGenerator):
    lcm_info = SimpleNamespace(manifold={"net": object()}, bound=0.1)


class BoundlessInfo(CapableGenerator):
    lcm_info = SimpleNamespace(manifold={"channels": [4]})


def test_the_capabilities_are_told_apart_by_isinstance():
    plain, capable = TinyMappedGenerator(), CapableGenerator()
    for capability in (HasStateLatents, HasGaussianFit, HasLCMInfo):
        assert isinstance(capable, capability)
        assert not isinstance(plain, capability)
    check_state_latents(capable)
    check_gaussian_fit(capable)
    check_lcm_info(capable)


@pytest.mark.parametrize(
    ("check", "generator", "message"),
    [
        (check_split_invariant, ShrunkForward(), "split at k=0"),
        (check_split_invariant, TensorState(), r"G1\(latents\) when split at k=0 must be a dict \{name: tensor\}, got Tensor"),
        (check_output_shape_and_range, OutOfRange(), r"must return images in \[-1, 1\]"),
        (check_sampling_is_seeded, UnseededSampling(), "global RNG"),
        (check_sampling_is_seeded, UnnamedSampling(), r"sample_latent\(batch, rng\) must be a dict"),
        (check_sampling_is_seeded, WrongLatentShape(), r"the latent spaces declare \{'z': \(2, 8\)\}"),
        (check_discriminator, UndeclaredDiscriminator(), "declare one of"),
        (check_state_latents, TinyMappedGenerator(), r"has no state_latents \(invprob.generator.HasStateLatents\)"),
        (check_state_latents, UncarriedStateLatent(), r"names \['style'\], which no split state carries"),
        (check_state_latents, ListedStateLatents(), "must be a tuple of names"),
        (check_gaussian_fit, TinyMappedGenerator(), r"has no gaussian_fit \(invprob.generator.HasGaussianFit\)"),
        (check_gaussian_fit, FlatCovariance(), r"covariance \(8,\); expected \[D\] and \[D, D\]"),
        (check_gaussian_fit, UnseededFit(), "for the same samples and seed"),
        (check_gaussian_fit, NarrowFit(), "is over 4 entries, its 'w' latent has 8"),
        (check_lcm_info, TinyMappedGenerator(), r"has no lcm_info \(invprob.generator.HasLCMInfo\)"),
        (check_lcm_info, NegativeBound(), "bound must be None or a positive finite number, got -1.0"),
        (check_lcm_info, OpaqueManifold(), "manifold must be JSON-able"),
        (check_lcm_info, BoundlessInfo(), "must have 'manifold' and 'bound'"),
    ],
    ids=[
        "split", "tensor-state", "range", "sampling", "unnamed-latents", "latent-shape", "undeclared-discriminator",
        "no-state-latents", "uncarried-state-latent", "state-latents-list", "no-gaussian-fit", "flat-covariance",
        "unseeded-fit", "narrow-fit", "no-lcm-info", "negative-bound", "opaque-manifold", "boundless-info",
    ],
)
def test_generator_checks_fail_on_a_wrong_generator(check, generator, message):
    with pytest.raises(AssertionError, match=message):
        check(generator)


class SummedPenalty(GaussianNormPenalty):
    def forward(self, context):
        return super().forward(context).sum()


class Halving(Constraint):
    def project(self, value):
        return 0.5 * value


class Replacing(BoxConstraint):
    @torch.no_grad()
    def project_(self, variables):
        variables[self.variable] = self.project(variables[self.variable])


def test_prior_checks_fail_on_wrong_priors():
    generator = TinyGenerator()
    with pytest.raises(AssertionError, match="one value per image"):
        check_penalty(SummedPenalty(1.0), generator)
    with pytest.raises(AssertionError, match=r"project\(project\(v\)\)"):
        check_constraint(Halving(), generator)
    with pytest.raises(AssertionError, match="replaced the tensor"):
        check_constraint(Replacing(1.0), generator)


class ClampsEverything(BoxConstraint):
    @torch.no_grad()
    def project_(self, variables):
        for value in variables.values():
            value.clamp_(-self.bound, self.bound)


class NormOf(Penalty):
    def __init__(self, variable: str):
        super().__init__()
        self.variable = variable

    def forward(self, context):
        value = context.variables[self.variable]
        return value.reshape(value.shape[0], -1).square().sum(dim=1)


class BoxOn(Constraint):
    def project(self, value):
        return value.clamp(-1, 1)


def test_prior_checks_take_named_latents_with_several_entries():
    generator = TinyMappedGenerator().requires_grad_(False)
    for name in ("w", "noise"):
        check_penalty(NormOf(name), generator)
        check_constraint(BoxOn(name), generator)
    with pytest.raises(AssertionError, match=r"set on 'z', which is not a latent of TinyMappedGenerator \(\['noise', 'w'\]\)"):
        check_constraint(BoxOn("z"), generator)
    with pytest.raises(AssertionError, match="constraint on 'z' changed the latent 'noise'"):
        check_constraint(ClampsEverything(0.5), _TwoLatents())


class _TwoLatents(TinyGenerator):
    def __init__(self):
        super().__init__()
        self.latent_spaces = {**self.latent_spaces, "noise": LatentSpace("noise", (4,))}


class BatchMean(Loss):
    def forward(self, prediction, observation, operator):
        return ((prediction - observation) ** 2).mean()


class BatchNormalised(Loss):
    def forward(self, prediction, observation, operator):
        values = per_sample_mean((prediction - observation) ** 2)
        return values / values.sum()


def test_loss_checks_fail_on_wrong_losses():
    with pytest.raises(AssertionError, match="one value per sample"):
        check_loss_is_per_sample(BatchMean(), SHAPE)
    with pytest.raises(AssertionError, match="batch element"):
        check_loss_batch_consistency(BatchNormalised(), SHAPE)


class DoesNothing(GradientDescentSolver):
    """Returns its initial latent and misreports its loss."""

    def __init__(self):
        super().__init__(steps=0, lr=0.0)

    def solve(self, problem, *, rng=None, monitor=None):
        result = super().solve(problem, rng=rng, monitor=monitor)
        result.best_loss = result.best_loss * 0.5
        return result


class IgnoresStop(GradientDescentSolver):
    def solve(self, problem, *, rng=None, monitor=None):
        monitor = monitor or Monitor(show_progress=False)
        monitor.stop_requested = False
        return super().solve(problem, rng=rng, monitor=monitor)


def test_solver_checks_fail_on_wrong_solvers():
    problem = make_toy_problem()
    result, _ = run_solver(DoesNothing(), problem)
    with pytest.raises(AssertionError, match="is not the measurement loss of best_image"):
        check_best_loss_is_measurement_loss(result, problem)
    result.best_loss = problem.measurement_loss(result.best_image)
    with pytest.raises(AssertionError, match="does not improve on the initial random latent"):
        check_loss_decreases(result, problem)
    with pytest.raises(AssertionError, match="not marked interrupted"):
        check_stops_when_asked(IgnoresStop(steps=5, lr=0.1), problem, full_run_steps=5)
    result.best_latents = {"z": torch.zeros(2 * problem.batch_size, 8)}  # every restart, not the best
    with pytest.raises(AssertionError, match="one entry per image"):
        check_result_shapes(result, problem)


def test_toy_problem_is_in_range_and_seeded():
    problem, again = make_toy_problem(batch=3, seed=4), make_toy_problem(batch=3, seed=4)
    assert torch.equal(problem.observation, again.observation)
    assert problem.observation.shape == (3, *problem.image_shape)
    assert float(problem.measurement_loss(problem.ground_truth).max()) == 0.0
    assert not torch.equal(problem.observation, make_toy_problem(batch=3, seed=5).observation)
