"""Reference (real) images: a fixed, seeded subset of a dataset, the same for every tool.

Their features are cached by ``dcgan.features.cached_features`` (keyed by the exact pixels), so choosing
the subset from a seed that depends on nothing else means every evaluation of a run hits the same entry.
Statistics (mean and covariance) are recomputed from the cached features each time: that takes a
second, and KID and precision/recall need the features themselves anyway.
"""

from __future__ import annotations

import torch

SUBSET_SEED = 0  # the reference subset depends on nothing else, so every tool picks the same images


def select_reference(images: torch.Tensor, count: int | None, seed: int = SUBSET_SEED) -> tuple[torch.Tensor, str]:
    """Return (the reference images, how they were chosen): all of them, or a seeded random subset of ``count``."""
    n = len(images)
    if count is None or count >= n:
        return torch.as_tensor(images[:]), f"all {n} images"
    index = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:count].sort().values
    return torch.as_tensor(images[index]), f"{count} of {n} images (random subset, seed {seed})"
