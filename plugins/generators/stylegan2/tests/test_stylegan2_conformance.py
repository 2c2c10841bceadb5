"""The core's generator conformance suite over every stylegan2 example (tiny random models)."""

from invprob.testing import GeneratorConformance


class TestStyleGAN2Generators(GeneratorConformance):
    distribution = "invprob-plugin-stylegan2"
