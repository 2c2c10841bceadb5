"""A small but complete plugin used by the core's tests: generator, operator, prior, solver.

It is installed for tests as a real distribution (a ``.dist-info`` written to a temporary
folder on ``sys.path``) so that discovery goes through real entry points.
"""

from __future__ import annotations

import time

from pydantic import Field

from invprob import hookimpl
from invprob.params import Params


class ToyGeneratorParams(Params):
    """A tiny random-weight convolutional generator (16x16 images)."""

    latent_dim: int = Field(default=8, gt=0)
    channels: int = 3


class ToyMaskParams(Params):
    """Centre-square inpainting with optional Gaussian noise."""

    sigma: float = Field(default=0.0, ge=0)


class ToyNormParams(Params):
    """w * ||z||^2."""

    weight: float = 0.01


class ToyDescentParams(Params):
    """Adam on the latent, restarts batched, best iterate kept."""

    steps: int = Field(default=30, gt=0)
    lr: float = Field(default=0.05, gt=0)
    restarts: int = Field(default=1, gt=0)
    sleep_per_step: float = Field(default=0.0, ge=0)
    produce_nan: bool = False
    diverge_at: int | None = None
    """From this step on the latent is NaN (a learning rate too high, in miniature)."""
    raise_error: bool = False
    signal_in_solve: int | None = None
    """In the solve call with this number (1, 2, ...), send this process ``signals`` SIGINTs at step 2."""
    signals: int = Field(default=3, ge=1)


_SOLVES = [0]  # solve calls in this process, for signal_in_solve


def _generator(params: ToyGeneratorParams, context):
    from invprob.testing.toys import TinyGenerator

    return TinyGenerator(latent_dim=params.latent_dim, channels=params.channels)


def _mask(params: ToyMaskParams, context):
    from invprob.testing.toys import MaskOperator

    return MaskOperator(context.image_shape, sigma=params.sigma)


def _norm(params: ToyNormParams, context):
    from invprob.prior import Penalty

    class Norm(Penalty):
        def forward(self, ctx):
            z = ctx.variables["z"]
            return params.weight * z.reshape(z.shape[0], -1).pow(2).sum(dim=1)

    return Norm()


def _descent(params: ToyDescentParams, context):
    return ToyDescent(params)


class ToyDescent:
    """Plain Adam on z for a fixed number of steps (a stand-in for CSGM in core tests)."""

    def __init__(self, params: ToyDescentParams):
        self.params = params

    def solve(self, problem, *, rng=None, monitor=None):
        import torch

        from invprob.progress import Monitor
        from invprob.solver import BestIterate, SolverResult

        monitor = monitor or Monitor(show_progress=False)
        batch = problem.batch_size * self.params.restarts
        z = problem.generator.sample_latent(batch, rng)["z"].requires_grad_(True)
        optimiser = torch.optim.Adam([z], lr=self.params.lr)
        best = BestIterate(problem.batch_size)
        monitor.start(self.params.steps, "toy-descent")
        started = time.perf_counter()
        interrupted = False
        image = problem.generator(z)
        if self.params.raise_error:
            raise RuntimeError("the toy solver fails on purpose")
        _SOLVES[0] += 1
        for step in range(self.params.steps):
            if step == 2 and _SOLVES[0] == self.params.signal_in_solve:
                import os
                import signal

                for _ in range(self.params.signals):
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(0.05)
            if step == self.params.diverge_at:
                with torch.no_grad():
                    z.mul_(float("nan"))
            if monitor.stop_requested:
                interrupted = True
                break
            image = problem.generator(z)
            measurement = problem.measurement_loss(image)
            loss = measurement + problem.penalty({"z": z}, image)
            best.update(measurement, image, {"z": z})
            optimiser.zero_grad()
            loss.sum().backward()
            optimiser.step()
            problem.project_({"z": z})
            monitor.step(image=image[: problem.batch_size], loss=loss, measurement_loss=measurement)
            if self.params.sleep_per_step:
                time.sleep(self.params.sleep_per_step)
        with torch.no_grad():
            image = problem.generator(z)
            if self.params.produce_nan:
                image = image * float("nan")
            best.update(problem.measurement_loss(image), image, {"z": z})
        return SolverResult(
            best_image=image[: problem.batch_size] if self.params.produce_nan else best.image,
            best_latents=best.variables,
            best_loss=best.loss,
            last_image=image.detach()[: problem.batch_size],
            last_latents={"z": z.detach()[: problem.batch_size]},
            history=monitor.history,
            timings={"solve": time.perf_counter() - started},
            interrupted=interrupted,
        )


@hookimpl
def invprob_register_generators(registry):
    registry.add("toy-generator", _generator, params_model=ToyGeneratorParams, examples=[{}])


@hookimpl
def invprob_register_operators(registry):
    registry.add("toy-mask", _mask, params_model=ToyMaskParams, examples=[{}, {"sigma": 0.1}])


@hookimpl
def invprob_register_priors(registry):
    registry.add("toy-norm", _norm, params_model=ToyNormParams, examples=[{}])


@hookimpl
def invprob_register_solvers(registry):
    registry.add("toy-descent", _descent, params_model=ToyDescentParams, examples=[{"steps": 20}])
