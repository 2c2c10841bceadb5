"""ILO meets the core's solver contract on the in-range toy inpainting problem."""

from invprob.testing import SolverConformance


class TestILOConformance(SolverConformance):
    distribution = "invprob-plugin-ilo"
