"""The paper's GAN losses as pure functions of D's logits.

D minimises -log D(x) - log(1 - D(G(z))); G uses the non-saturating form -log D(G(z)) (Goodfellow
et al. 2014, used by the official DCGAN code). Logits plus BCE-with-logits is the stable way to
write a sigmoid output followed by log-loss; losses are computed in fp32 under mixed precision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def loss_real(logits: torch.Tensor, target: float = 1.0) -> torch.Tensor:
    """Return -log sigmoid(logits), averaged: the loss for images D should call real.

    ``target`` below 1 is one-sided label smoothing (Salimans et al. 2016): D aims at ``target`` for real
    images, which keeps it from growing overconfident; G's loss always aims at 1.
    """
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def loss_fake(logits: torch.Tensor) -> torch.Tensor:
    """Return -log(1 - sigmoid(logits)), averaged: the loss for images D should call generated."""
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Return D's loss: real images labelled 1, generated images labelled 0."""
    return loss_real(real_logits) + loss_fake(fake_logits)


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Return G's non-saturating loss -log D(G(z))."""
    return loss_real(fake_logits)
