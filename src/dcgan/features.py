"""The paper's discriminator features (section 5.1): every conv layer of D max-pooled to a 4x4 grid,
flattened and concatenated. Shared by the linear probe, the D-feature metric extractor and the
memorisation check.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dcgan.data.base import to_unit_range
from dcgan.models import Discriminator

GRID = 4


def feature_split(d: Discriminator) -> list[int]:
    """Return the feature count each conv layer contributes (16 x its channels)."""
    return [GRID * GRID * block[0].out_channels for block in d.blocks]


@torch.inference_mode()
def d_features(d: Discriminator, images_uint8: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Return (N, sum(feature_split(d))) float32 features of uint8 images, D in whatever mode it is in.

    Callers choose the BatchNorm mode; the tools use eval mode (running statistics from training), so
    an image's features never depend on the rest of its batch.
    """
    device = next(d.parameters()).device
    out = []
    for start in range(0, len(images_uint8), batch_size):
        # channels-last: the same values up to float rounding, measured faster on CPU for strided convolutions
        x = to_unit_range(images_uint8[start : start + batch_size].to(device)).contiguous(memory_format=torch.channels_last)
        pooled = [F.adaptive_max_pool2d(f.float(), GRID).flatten(1) for f in d.features(x)]
        out.append(torch.cat(pooled, dim=1).cpu())
    return torch.cat(out)
