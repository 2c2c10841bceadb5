"""Metrics are components: the core's PSNR/SSIM/MSE, their values, and build_metrics."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import Field

from invprob import hookimpl
from invprob.context import BuildContext
from invprob.metrics import MSE, PSNR, SSIM, Metric, MetricUnavailable, build_metrics, evaluate
from invprob.params import Params
from invprob.registry import Registry, UnknownComponentError, new_registry
from invprob.testing import MetricConformance


class TestCoreMetrics(MetricConformance):
    distribution = "invprob-core"


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    rng = torch.Generator().manual_seed(7)
    target = torch.rand(2, 3, 20, 24, generator=rng) * 2 - 1
    reconstruction = (target + 0.2 * (torch.rand(2, 3, 20, 24, generator=rng) * 2 - 1)).clamp(-1, 1)
    return reconstruction, target


def test_values_are_those_of_the_functions_they_replaced():
    """Computed before metrics became components (invprob.metrics.psnr/ssim/mse at 349e64b)."""
    reconstruction, target = _pair()
    expected = {
        PSNR: [24.899025474583667, 24.990238040185627],
        SSIM: [0.9816750354101903, 0.9802515986547671],
        MSE: [0.0032366627715396637, 0.0031693937413449355],
    }
    for metric, values in expected.items():
        assert metric()(reconstruction, target).tolist() == pytest.approx(values, rel=1e-12)


def test_ssim_agrees_with_scikit_image():
    structural_similarity = pytest.importorskip("skimage.metrics").structural_similarity
    reconstruction, target = _pair()

    def unit(x: torch.Tensor):
        return ((x.double() + 1) / 2).clamp(0, 1).numpy()

    expected = [
        structural_similarity(
            unit(r), unit(t), gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
            data_range=1.0, channel_axis=0,
        )
        for r, t in zip(reconstruction, target)
    ]
    assert SSIM()(reconstruction, target).tolist() == pytest.approx(expected, rel=1e-9)


def test_psnr_is_computed_on_the_unit_scale():
    target = torch.zeros(1, 1, 4, 4)
    reconstruction = target + 0.2  # 0.1 on the [0, 1] scale
    assert MSE()(reconstruction, target).item() == pytest.approx(0.01)
    assert PSNR()(reconstruction, target).item() == pytest.approx(20.0)


def test_directions_are_declared():
    assert PSNR.higher_is_better and SSIM.higher_is_better
    assert not MSE.higher_is_better


# -- build_metrics -------------------------------------------------------------------------


class NeedsWeights(Params):
    """A metric whose weights are missing here."""


class NeedsAFile(Params):
    """A metric with a required param."""

    path: str = Field(description="required")


class Broken(Params):
    """A factory that returns a plain function instead of a Metric."""


class ToyMetrics:
    @hookimpl
    def invprob_register_metrics(self, registry) -> None:
        registry.add("needs-weights", _unavailable, params_model=NeedsWeights)
        registry.add("needs-a-file", lambda params, context: MSE(), params_model=NeedsAFile)


def _unavailable(params, context):
    raise MetricUnavailable("weights/toy.pth is missing: put it in ~/toy")


@pytest.fixture
def core_registry() -> Registry:
    return new_registry(strict=True, only={"invprob-core"})


@pytest.fixture
def toy_metrics_registry(core_registry: Registry) -> Registry:
    core_registry.register_plugin(ToyMetrics(), distribution="invprob-toy-metrics")
    return core_registry


def _context(registry: Registry) -> BuildContext:
    return BuildContext(registry=registry, image_shape=(3, 16, 16))


def test_the_core_registers_psnr_ssim_and_mse(core_registry):
    assert core_registry.names("metrics") == ["mse", "psnr", "ssim"]
    assert {core_registry.get("metrics", n).distribution for n in ("mse", "psnr", "ssim")} == {"invprob-core"}


def test_the_default_metrics_are_every_metric_that_needs_no_params(toy_metrics_registry):
    from invprob.recipe import default_metric_names

    names = default_metric_names(toy_metrics_registry)
    built, unavailable = build_metrics(names, toy_metrics_registry, _context(toy_metrics_registry))
    assert set(built) == {"psnr", "ssim", "mse"}
    assert all(isinstance(m, Metric) for m in built.values())
    assert unavailable == {"needs-weights": "weights/toy.pth is missing: put it in ~/toy"}


def test_named_metrics_are_built_in_order_and_unavailable_ones_noted(toy_metrics_registry):
    names = ["ssim", "needs-weights", "psnr"]
    built, unavailable = build_metrics(names, toy_metrics_registry, _context(toy_metrics_registry))
    assert list(built) == ["ssim", "psnr"]
    assert list(unavailable) == ["needs-weights"]


def test_built_metrics_are_frozen_modules(core_registry):
    built, _ = build_metrics(["psnr"], core_registry, _context(core_registry))
    metric = built["psnr"]
    assert not metric.training and all(not p.requires_grad for p in metric.parameters())


def test_an_unknown_metric_name_suggests_the_close_one(core_registry):
    with pytest.raises(UnknownComponentError, match="did you mean 'ssim'"):
        build_metrics(["ssmi"], core_registry, _context(core_registry))


def test_a_named_metric_that_needs_params_is_an_error(toy_metrics_registry):
    with pytest.raises(ValueError, match="metric 'needs-a-file' of invprob-toy-metrics needs params"):
        build_metrics(["needs-a-file"], toy_metrics_registry, _context(toy_metrics_registry))


def test_a_factory_that_returns_no_metric_is_an_error(core_registry):
    class NotAMetric:
        @hookimpl
        def invprob_register_metrics(self, registry) -> None:
            registry.add("plain", lambda params, context: (lambda r, t: r), params_model=Broken)

    core_registry.register_plugin(NotAMetric(), distribution="invprob-not-a-metric")
    with pytest.raises(TypeError, match="not an invprob.metrics.Metric"):
        build_metrics(["plain"], core_registry, _context(core_registry))


def test_evaluate_gives_json_ready_values_with_none_for_infinite_psnr():
    reconstruction, target = _pair()
    same = torch.cat([target[:1], reconstruction[1:]])
    values = evaluate({"psnr": PSNR(), "mse": MSE()}, same, target)
    assert values["psnr"][0] is None and isinstance(values["psnr"][1], float)
    assert values["mse"][0] == 0.0
    assert not math.isinf(values["psnr"][1])
