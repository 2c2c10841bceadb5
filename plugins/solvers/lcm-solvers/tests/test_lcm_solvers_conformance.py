"""Both solvers meet the core's solver contract on the in-range toy inpainting problem.

``lcm`` there has no manifold prior, so it optimises z (the GLO path); ``dip`` ignores the
toy's generator and fits its own network (small examples: 16 x 16 images, two scales).
"""

from invprob.testing import SolverConformance
from invprob.testing.suite import ComponentCase


class TestLCMSolversConformance(SolverConformance):
    distribution = "invprob-plugin-lcm-solvers"

    def test_loss_decreases_on_in_range_target(self, case: ComponentCase) -> None:
        if case.component is None or case.component.name != "dip":
            return super().test_loss_decreases_on_in_range_target(case)
        # DIP does not start from the generator's G(z0), which the suite's check compares with,
        # but from its own network's first output: it must end well below that.
        problem, result, _ = self.solved(case)
        start = result.history["measurement_loss"][0]
        assert float(result.best_loss.mean()) < 0.5 * start, (start, result.best_loss.tolist())
