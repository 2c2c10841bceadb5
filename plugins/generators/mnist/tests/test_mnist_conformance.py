"""The core's generator conformance suite over the MNIST plugin (random weights from the seed)."""

from invprob.testing import GeneratorConformance


class TestMnistGenerators(GeneratorConformance):
    distribution = "invprob-plugin-mnist"
