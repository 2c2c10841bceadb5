"""The core's operator conformance suite over every operator and example of this plugin."""

from invprob.testing import OperatorConformance


class TestImagingOperators(OperatorConformance):
    distribution = "invprob-plugin-imaging"
