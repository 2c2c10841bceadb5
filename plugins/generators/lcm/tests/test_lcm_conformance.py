"""The core's generator and loss conformance suites over what this distribution registers."""

from invprob.testing import GeneratorConformance, LossConformance


class TestLcmGenerators(GeneratorConformance):
    distribution = "invprob-plugin-lcm"


class TestLcmLosses(LossConformance):
    distribution = "invprob-plugin-lcm"
