"""TV inpainting takes one gradient per step and writes magnitudes out: the same iterates and
objective as the former loop."""

from __future__ import annotations

import math

import torch

from invprob.progress import Monitor
from invprob_plugin_classical.tv_inpaint import divergence, gradient, tv_inpaint


def tv_inpaint_two_gradients_per_step(observation, mask, *, iterations: int, weight: float, monitor=None):
    """The loop before: ``∇x̄`` for the dual step and ``∇x'`` again for the objective, every step,
    magnitudes by ``Tensor.norm``."""
    mask = mask.to(observation)
    observed = mask * observation
    fill = observed.sum(dim=(-2, -1), keepdim=True) / mask.sum(dim=(-2, -1), keepdim=True).clamp_min(1)
    x = observed + (1 - mask) * fill
    x_bar = x.clone()
    p = torch.zeros_like(gradient(x))
    tau = sigma = 0.99 / math.sqrt(8.0)
    for _ in range(iterations):
        p = p + sigma * gradient(x_bar)
        p = p / p.norm(dim=-3, keepdim=True).clamp_min(1.0)
        x_new = (x + tau * divergence(p) + tau * weight * observed) / (1 + tau * weight * mask)
        x_bar = 2 * x_new - x
        x = x_new
        if monitor is not None:
            objective = gradient(x).norm(dim=-3).sum(dim=(1, 2, 3)) + 0.5 * weight * (mask * (x - observation)).pow(2).sum(dim=(1, 2, 3))
            monitor.step(image=x, objective=objective)
    return x, False


def _problem(shape=(2, 3, 24, 20)):
    rng = torch.Generator().manual_seed(0)
    truth = torch.rand(*shape, generator=rng, dtype=torch.float64) * 2 - 1
    mask = (torch.rand(1, 1, *shape[-2:], generator=rng) > 0.6).to(torch.float64).expand(shape)
    return mask * truth, mask


def test_iterates_and_recorded_objective_are_those_of_the_former_loop():
    observation, mask = _problem()
    old_monitor, new_monitor = Monitor(show_progress=False), Monitor(show_progress=False)
    old, _ = tv_inpaint_two_gradients_per_step(observation, mask, iterations=200, weight=100.0, monitor=old_monitor)
    new, stopped = tv_inpaint(observation, mask, iterations=200, weight=100.0, monitor=new_monitor)
    assert not stopped
    torch.testing.assert_close(new, old, atol=1e-10, rtol=0)
    old_objective, new_objective = old_monitor.history["objective"], new_monitor.history["objective"]
    assert len(new_objective) == 200
    torch.testing.assert_close(torch.tensor(new_objective), torch.tensor(old_objective), rtol=1e-6, atol=0)
    assert new_objective[-1] < new_objective[0]  # the objective decreases


def test_without_a_monitor_the_result_is_the_same():
    observation, mask = _problem()
    with_monitor, _ = tv_inpaint(observation, mask, iterations=50, weight=100.0, monitor=Monitor(show_progress=False))
    without, _ = tv_inpaint(observation, mask, iterations=50, weight=100.0)
    assert torch.equal(with_monitor, without)
