"""The Yeh solver meets the core's solver contract on the in-range toy inpainting problem."""

from invprob.testing import SolverConformance


class TestYehConformance(SolverConformance):
    distribution = "invprob-plugin-yeh"
    extra_distributions = ["invprob-plugin-gan-priors"]  # the default discriminator prior
