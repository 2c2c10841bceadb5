"""The StyleGAN2 training objective (Karras et al. 2020, as rosinality's ``train.py``).

- discriminator, logistic loss: ``softplus(D(G(z))) + softplus(-D(x))``, batch mean;
- generator, non-saturating loss: ``softplus(-D(G(z)))``, batch mean;
- R1: ``gamma / 2 * E[ ||grad_x D(x)||^2 ]`` on real images, applied lazily every
  ``d_reg_every`` steps and multiplied by ``d_reg_every`` to keep its weight.

Path-length regularisation of the generator is left out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_logistic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``mean(softplus(fake)) + mean(softplus(-real))``."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """``mean(softplus(-fake))``: the generator's non-saturating loss."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """``E_b ||d D(x_b) / d x_b||^2`` (``real_images`` must require grad; keeps the graph for backward)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.pow(2).reshape(grad.shape[0], -1).sum(1).mean()
