"""The Yeh solver and its context loss meet the core's contracts on the toy problems."""

from invprob.testing import LossConformance, SolverConformance


class TestYehConformance(SolverConformance):
    distribution = "invprob-plugin-yeh"


class TestContextLossConformance(LossConformance):
    distribution = "invprob-plugin-yeh"
