"""Reference (real-image) features: a fixed, seeded subset of a dataset, extracted once and cached on disk.

The cache key is (extractor identity, a SHA-256 of the exact uint8 reference images, cache version):
the extractor identity changes with its weights and input protocol (``Extractor.cache_id``), and hashing
the pixels themselves means any change of data, split, image size, channel conversion or subset gives a
new entry, while the same images reached through another path reuse the old one. Statistics (mean and
covariance) are recomputed from the cached features each time: that takes a second, and KID and
precision/recall need the features themselves anyway.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch

from dcgan.data import cache
from dcgan.metrics.extractors import Extractor

CACHE_KIND = "reference-features"
CACHE_VERSION = 1
SUBSET_SEED = 0  # the reference subset depends on nothing else, so every tool picks the same images


def select_reference(images: torch.Tensor, count: int | None, seed: int = SUBSET_SEED) -> tuple[torch.Tensor, str]:
    """Return (the reference images, how they were chosen): all of them, or a seeded random subset of ``count``."""
    n = len(images)
    if count is None or count >= n:
        return torch.as_tensor(images[:]), f"all {n} images"
    index = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:count].sort().values
    return torch.as_tensor(images[index]), f"{count} of {n} images (random subset, seed {seed})"


def images_digest(images: torch.Tensor) -> str:
    """Return a SHA-256 of the shape and bytes of uint8 images."""
    h = hashlib.sha256(str(tuple(images.shape)).encode())
    h.update(images.contiguous().numpy().tobytes())
    return h.hexdigest()


def cached_features(extractor: Extractor, images: torch.Tensor, meta: dict[str, Any] | None = None, desc: str | None = None) -> tuple[torch.Tensor, bool]:
    """Return (features of ``images``, whether they came from the cache); compute and store them on a miss."""
    key = cache.cache_key(CACHE_KIND, CACHE_VERSION, extractor.cache_id, images_digest(images))
    path = cache.cached_array_path(CACHE_KIND, key)
    if cache.read_meta(path) is not None:
        features = torch.from_numpy(np.array(cache.open_array(path)))
        if features.shape[0] == len(images):
            return features, True
    features = extractor.features(images, desc=desc)
    out, tmp = cache.new_array(path, tuple(features.shape), np.float32)
    out[:] = features.numpy()
    cache.publish(out, tmp, path, {"extractor": extractor.cache_id, "count": len(images), **(meta or {})})
    return features, False
