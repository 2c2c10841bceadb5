"""PULSE meets the core's solver contract on the in-range toy inpainting problem."""

import pytest

from invprob.testing import SolverConformance


@pytest.mark.filterwarnings("ignore:PULSE did not reach the target loss")
class TestPULSEConformance(SolverConformance):
    distribution = "invprob-plugin-pulse"
