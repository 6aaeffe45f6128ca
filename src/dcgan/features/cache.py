"""The one on-disk feature cache: features of exact images under an exact extractor, extracted once.

Key: (cache version, ``Extractor.cache_id``, ``Extractor.protocol``, ``dim``, a SHA-256 of the uint8
images). The extractor identity changes with its weights and the protocol with how images become
features; hashing the pixels themselves means any change of data, split, image size, channel conversion
or subset gives a new entry, while the same images reached through another path reuse the old one.
Caller metadata (which data, which subset) is stored beside the array for people reading the cache,
never used as a key.

Writes are atomic (a temporary memory-mapped file renamed into place, then the metadata that marks the
entry complete), so a crash or a concurrent run never leaves a half-written entry that looks valid; an
entry that is unreadable or of the wrong shape is recomputed. Reads are memory-mapped copy-on-write
(``mmap=True``, for the probe's 50,000 x 7,168 arrays) or loaded into memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dcgan.data import cache as disk
from dcgan.features.base import Extractor

CACHE_KIND = "features"
CACHE_VERSION = 1
DIGEST_CHUNK = 4096  # images hashed at once: bounds the temporary copy made of memory-mapped data


def images_digest(images: torch.Tensor) -> str:
    """Return a SHA-256 of the shape, dtype and bytes of uint8 images (in chunks, so memory-mapped data stays on disk)."""
    arr = torch.as_tensor(images).numpy()
    h = hashlib.sha256(f"{arr.shape}|{arr.dtype}|".encode())
    for start in range(0, len(arr), DIGEST_CHUNK):
        h.update(np.ascontiguousarray(arr[start : start + DIGEST_CHUNK]).data)
    return h.hexdigest()


def cache_path(extractor: Extractor, images: torch.Tensor, root: Path | None = None) -> Path:
    """Return where the features of ``images`` under ``extractor`` are (or would be) cached."""
    key = disk.cache_key(CACHE_VERSION, extractor.cache_id, extractor.protocol, extractor.dim, images_digest(images))
    return (Path(root) / f"{key}.npy") if root is not None else disk.cached_array_path(CACHE_KIND, key)


@dataclass
class Cached:
    """Features of one image set, and where they came from."""

    features: np.ndarray  # (N, dim) float32; memory-mapped copy-on-write when read with mmap=True
    hit: bool  # read from the cache, not extracted
    path: Path | None  # the cache file (None when caching was off or not worth it)

    def tensor(self) -> torch.Tensor:
        """Return the features as a torch tensor sharing their memory."""
        return torch.from_numpy(self.features)


def _read(path: Path, shape: tuple[int, int], mmap: bool) -> np.ndarray | None:
    """Return a complete entry of ``shape``, or None when it is missing, unfinished, corrupt or stale."""
    meta = disk.read_meta(path)
    if meta is None or meta.get("shape") != list(shape):
        return None
    try:
        array = disk.open_array(path)
    except (OSError, ValueError, EOFError):  # truncated or overwritten file
        return None
    if array.shape != shape or array.dtype != np.float32:
        return None
    return array if mmap else np.array(array)


def cached_features(extractor: Extractor, images: torch.Tensor, meta: dict[str, Any] | None = None, desc: str | None = None,
                    *, use_cache: bool = True, mmap: bool = False, root: Path | None = None) -> Cached:
    """Return the features of uint8 ``images`` under ``extractor``: from the cache, or extracted and stored.

    ``use_cache=False`` (or an extractor not worth caching) extracts into memory and stores nothing.
    """
    shape = (len(images), extractor.dim)
    if not (use_cache and extractor.worth_caching):
        return Cached(extractor.fill(images, np.empty(shape, np.float32), desc), False, None)
    path = cache_path(extractor, images, root)
    found = _read(path, shape, mmap)
    if found is not None:
        return Cached(found, True, path)
    array, tmp = disk.new_array(path, shape, np.float32)
    try:
        extractor.fill(images, array, desc)
        disk.publish(array, tmp, path, {"extractor": extractor.cache_id, "spec": extractor.spec, "protocol": extractor.protocol,
                                        "shape": list(shape), **(meta or {})})
    finally:
        tmp.unlink(missing_ok=True)
    return Cached(disk.open_array(path) if mmap else np.array(array), False, path)
