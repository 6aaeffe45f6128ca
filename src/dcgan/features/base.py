"""The one extractor interface: a frozen network that turns uint8 images into (N, dim) float32 features.

Every feature consumer (probe, eval, memorisation, evaluation during training) holds an ``Extractor``
and nothing else, so the on-disk cache can key any of them by ``cache_id`` + ``protocol``, and a new
feature space needs a builder, not a new code path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Return the hex digest of a file's bytes, read in blocks (weights files are large)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Extractor:
    """A frozen feature network with what identifies it (for the cache) and how it reads images (for reports)."""

    spec: str  # as the user wrote it, e.g. 'judge:judges/mnist.pt'
    kind: str  # registry name: inception, judge, dfeat, random, pixels (or a tool's own, e.g. 'probe')
    dim: int  # features per image: the cache allocates the array before extraction
    cache_id: str  # changes whenever the weights change
    protocol: dict[str, Any]  # how images become features; part of the cache key and written into results.json
    batch_fn: Callable[[torch.Tensor], torch.Tensor]  # one batch of uint8 images -> (B, dim) features
    batch_size: int = 256
    check: Callable[[int, int], None] = field(default=lambda channels, size: None)  # raises UserError on misfit
    split: list[int] = field(default_factory=list)  # per-layer feature counts, for layered networks (D)
    worth_caching: bool = True  # False where recomputing is cheaper than reading a float copy from disk (pixels)

    @property
    def fd_name(self) -> str:
        """Return how the Fréchet distance on these features is reported ('FID' only for Inception)."""
        return "FID" if self.kind == "inception" else f"FD-{self.kind}"

    @property
    def kd_name(self) -> str:
        """Return how the kernel distance on these features is reported ('KID' only for Inception)."""
        return "KID" if self.kind == "inception" else f"KD-{self.kind}"

    def fill(self, images_uint8: torch.Tensor, out: np.ndarray, desc: str | None = None) -> np.ndarray:
        """Write the features of (N, C, S, S) uint8 images into ``out`` (N, dim) batch by batch; return ``out``.

        Writing into a caller's array lets the cache extract straight into a memory-mapped file, so
        50,000 x 7,168 features never have to fit in memory twice.
        """
        if images_uint8.dtype != torch.uint8 or images_uint8.ndim != 4:
            raise ValueError(f"expected (N, C, S, S) uint8 images, got {tuple(images_uint8.shape)} {images_uint8.dtype}")
        self.check(images_uint8.shape[1], images_uint8.shape[-1])
        if out.shape != (len(images_uint8), self.dim):
            raise ValueError(f"output array {out.shape} does not fit {len(images_uint8)} x {self.dim} features")
        with tqdm(total=len(images_uint8), desc=desc, unit="img", disable=desc is None, leave=False, dynamic_ncols=True) as bar:
            for start in range(0, len(images_uint8), self.batch_size):
                batch = torch.as_tensor(images_uint8[start : start + self.batch_size])
                out[start : start + len(batch)] = self.batch_fn(batch).float().cpu().numpy()
                bar.update(len(batch))
        return out

    def features(self, images_uint8: torch.Tensor, desc: str | None = None) -> torch.Tensor:
        """Return (N, dim) float32 features of uint8 images, uncached (a progress bar with ``desc``)."""
        out = np.empty((len(images_uint8), self.dim), np.float32)
        return torch.from_numpy(self.fill(images_uint8, out, desc))
