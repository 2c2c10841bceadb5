"""CSGM meets the core's solver contract on the in-range toy inpainting problem."""

from invprob.testing import SolverConformance


class TestCSGMConformance(SolverConformance):
    distribution = "invprob-plugin-csgm"
