"""invprob's operator conformance suite, run over every example registered in plugin.py."""

from invprob.testing import OperatorConformance


class TestExampleBlurOperators(OperatorConformance):
    distribution = "invprob-plugin-example-blur"
