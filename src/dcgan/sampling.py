"""Turning codes into images with a trained generator, in batches, without gradients."""

from __future__ import annotations

import torch
from torch import nn

from dcgan.data.base import to_uint8


@torch.inference_mode()
def generate(generator: nn.Module, z: torch.Tensor, batch_size: int = 256, device: torch.device | str | None = None) -> torch.Tensor:
    """Return uint8 (N, C, S, S) images G(z); G must be in eval mode so each image is independent of its batch."""
    device = device or next(generator.parameters()).device
    out = []
    for start in range(0, len(z), batch_size):
        out.append(to_uint8(generator(z[start : start + batch_size].to(device))).cpu())
    return torch.cat(out)
