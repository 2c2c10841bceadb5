"""The core's generator conformance suite over every generator this distribution registers."""

from invprob.testing import GeneratorConformance


class TestDcganGenerators(GeneratorConformance):
    distribution = "invprob-plugin-dcgan"
    skip = {
        "dcgan32-celeba": "its weights live in ../shared, outside the package; "
        "test_dcgan_celeba32.py runs the same checks on them when present",
    }
