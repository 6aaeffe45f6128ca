"""``fake``: random images for smoke runs (no files needed)."""

from __future__ import annotations

import torch

from dcgan.data.base import ImageData

DEFAULT_COUNT = 1024


def load_fake(size: int, channels: int | None, count: int | None = None, seed: int = 0) -> ImageData:
    """Return ``count`` random uint8 images with random 10-class labels."""
    gen = torch.Generator().manual_seed(seed)
    n = count or DEFAULT_COUNT
    images = torch.randint(0, 256, (n, channels or 3, size, size), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (n,), generator=gen)
    return ImageData(images, {"label": labels}, {"label": [str(i) for i in range(10)]}, f"fake ({n} random images)")
