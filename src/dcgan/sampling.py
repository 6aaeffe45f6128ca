"""Turning codes into images with a trained generator, in batches, without gradients."""

from __future__ import annotations

import torch
from torch import nn

from dcgan.data.base import to_uint8
from dcgan.models import eval_mode


@torch.inference_mode()
def generate(generator: nn.Module, z: torch.Tensor, batch_size: int = 256, device: torch.device | str | None = None) -> torch.Tensor:
    """Return uint8 (N, C, S, S) images G(z).

    G runs in eval mode, so each image is independent of its batch; its previous mode is restored after.
    """
    device = device or next(generator.parameters()).device
    with eval_mode(generator):
        out = [to_uint8(generator(z[start : start + batch_size].to(device))).cpu() for start in range(0, len(z), batch_size)]
    return torch.cat(out)
