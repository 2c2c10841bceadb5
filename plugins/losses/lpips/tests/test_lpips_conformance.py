"""The core's loss and metric suites over this plugin's components.

The metric needs torchvision's ImageNet backbone, which cannot be downloaded here: its suite
skips (with the reason) where the file is absent; tests/test_lpips_metric.py runs the same
checks on a random backbone.
"""

import importlib.util

import pytest

from invprob.testing import LossConformance, MetricConformance

pytestmark = pytest.mark.skipif(importlib.util.find_spec("lpips") is None, reason="pip package lpips not installed")


class TestLPIPSLoss(LossConformance):
    distribution = "invprob-plugin-lpips"


class TestLPIPSMetric(MetricConformance):
    distribution = "invprob-plugin-lpips"
    image_shapes = [(3, 32, 32)]
