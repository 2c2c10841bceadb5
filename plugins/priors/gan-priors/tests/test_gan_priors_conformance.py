"""Every prior this distribution registers meets the core's prior contract."""

from invprob.testing import PriorConformance


class TestGanPriorsConformance(PriorConformance):
    distribution = "invprob-plugin-gan-priors"
