"""The LPIPS metric: built through the registry, unavailable (with the file and folder) without
its backbone, and a conforming metric on a random backbone."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from invprob.context import BuildContext
from invprob.metrics import MetricUnavailable, build_metrics
from invprob.registry import new_registry
from invprob.testing import check_metric_batch_consistency, check_metric_direction, check_metric_is_per_image
from invprob_plugin_lpips.loss import BACKBONE_FILES, LPIPSLoss, build_lpips
from invprob_plugin_lpips.metric import LPIPSMetric

pytestmark = pytest.mark.skipif(importlib.util.find_spec("lpips") is None, reason="pip package lpips not installed")


@pytest.fixture
def registry():
    return new_registry(strict=True, only={"invprob", "invprob-plugin-lpips"})


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub folder: no backbone weights anywhere."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


def _context(registry, size: int = 32) -> BuildContext:
    return BuildContext(registry=registry, image_shape=(3, size, size))


def test_missing_backbone_makes_the_metric_unavailable_naming_the_file_and_folder(registry, hub):
    with pytest.raises(MetricUnavailable) as error:
        registry.build("metrics", "lpips", {}, _context(registry))
    message = str(error.value)
    assert f"{BACKBONE_FILES['alex']}, looked for in {hub / 'checkpoints'}:" in message
    assert "\n" not in message


def test_build_metrics_records_lpips_as_unavailable_and_builds_the_others(registry, hub):
    built, unavailable = build_metrics(["psnr", "lpips"], registry, _context(registry))
    assert list(built) == ["psnr"]
    assert BACKBONE_FILES["alex"] in unavailable["lpips"]


def test_images_too_small_for_the_backbone_make_the_metric_unavailable(registry):
    with pytest.raises(MetricUnavailable, match="at least 31x31, these are 16x16"):
        registry.build("metrics", "lpips", {}, _context(registry, size=16))


def test_metric_is_built_from_a_backbone_in_the_hub_folder(registry, hub):
    """The real code path, with a random backbone saved in torchvision's layout."""
    reference = LPIPSLoss("alex")
    (hub / "checkpoints").mkdir(parents=True)
    state = {f"features.{k}": v.clone() for k, v in reference.features.state_dict().items()}
    torch.save(state, hub / "checkpoints" / BACKBONE_FILES["alex"])
    built, unavailable = build_metrics(["lpips"], registry, _context(registry))
    assert unavailable == {}
    metric = built["lpips"]
    assert isinstance(metric, LPIPSMetric) and metric.higher_is_better is False
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    y = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    expected = build_lpips("alex", backbone_weights=hub / "checkpoints" / BACKBONE_FILES["alex"]).distance(x, y)
    torch.testing.assert_close(metric(x, y), expected.double())


@pytest.mark.parametrize("net, size", [("alex", 32), ("vgg", 16)])
def test_metric_on_a_random_backbone_conforms(net, size):
    metric = LPIPSMetric(build_lpips(net, random_backbone=True))
    shape = (3, size, size)
    check_metric_is_per_image(metric, shape)
    check_metric_direction(metric, shape)
    check_metric_batch_consistency(metric, shape, tol=1e-5)
    x = torch.rand(2, *shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert torch.all(metric(x, x).abs() < 1e-6)
