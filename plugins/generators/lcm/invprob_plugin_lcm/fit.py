"""Fitting per-image latents to given images with a frozen generator.

What the trainer does for its latents, without updating theta: the held-out reconstruction
numbers of a model card, and the two ends of ``invprob lcm interpolate`` (appendix G: fit phi
for LCM, z for GLO, then interpolate them). Restoration from degraded images is the ``lcm``
solver's job, not this module's.
"""

from __future__ import annotations

import torch

from .lap_l1 import lap_l1
from .latents import sgd_step_


def reconstruction_loss(image: torch.Tensor, target: torch.Tensor, mse_weight: float = 1.0) -> torch.Tensor:
    """The training objective per image ``[B]``: Lap-L1 + ``mse_weight`` * MSE."""
    mse = (image - target).square().flatten(1).mean(1)
    return lap_l1(image, target) + mse_weight * mse


def fit_latents(
    generator: torch.nn.Module,
    latents,
    images: torch.Tensor,
    *,
    steps: int,
    lr: float,
    mse_weight: float = 1.0,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Fit per-image parameters (``latents.initial``) to ``images [B, C, H, W]`` in [-1, 1] with
    the generator frozen in eval mode; returns the parameters and the reconstructions."""
    generator.eval()
    device = images.device
    params = {k: v.to(device).requires_grad_(True) for k, v in latents.initial(len(images)).items()}
    for _ in range(steps):
        loss = reconstruction_loss(generator(latents.latent(params)), images, mse_weight).mean()
        grads = torch.autograd.grad(loss, list(params.values()))
        for value, grad in zip(params.values(), grads):
            value.grad = grad
        sgd_step_(params, lr, len(images))
        latents.constrain_(params)
    with torch.no_grad():
        reconstructions = generator(latents.latent(params))
    return {k: v.detach() for k, v in params.items()}, reconstructions
