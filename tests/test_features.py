"""The one feature path: the extractor interface, D's two variants as one builder, and the on-disk cache
(hits without recomputing, keys that change with images and extractor, atomic and self-repairing entries)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dcgan.config import ModelConfig
from dcgan.errors import UserError
from dcgan.features import (
    GRID,
    Extractor,
    build_extractor,
    cache_path,
    cached_features,
    discriminator_extractor,
    feature_split,
    pixels_extractor,
)
from dcgan.models import build_models


def images(n: int, size: int = 16, channels: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


class Counting:
    """An extractor whose batch function counts the images it was given (mean of each row, times a scale)."""

    def __init__(self, cache_id: str = "count:1", protocol: dict | None = None, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail
        self.extractor = Extractor("count", "count", 2, cache_id, protocol or {"v": 1}, self.batch, batch_size=7)

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        if self.fail:
            raise RuntimeError("extraction failed")
        self.calls += len(x)
        flat = x.float().flatten(1)
        return torch.stack([flat.mean(1), flat.max(1).values], 1)


def test_a_second_call_reads_the_cache_without_recomputing(tmp_path: Path) -> None:
    x = images(20)
    c = Counting()
    first = cached_features(c.extractor, x, {"data": "test"}, root=tmp_path)
    assert not first.hit and c.calls == 20 and first.path is not None and first.path.is_file()
    assert first.features.shape == (20, 2) and first.features.dtype == np.float32
    np.testing.assert_array_equal(first.features[:, 0], x.float().flatten(1).mean(1).numpy())  # what batch() computes
    again = cached_features(c.extractor, x.clone(), root=tmp_path)  # the same pixels through another tensor
    assert again.hit and c.calls == 20 and again.path == first.path
    np.testing.assert_array_equal(again.features, first.features)
    mapped = cached_features(c.extractor, x, root=tmp_path, mmap=True)
    assert mapped.hit and c.calls == 20 and isinstance(mapped.features, np.memmap)
    assert torch.equal(mapped.tensor(), first.tensor())
    off = cached_features(c.extractor, x, root=tmp_path, use_cache=False)
    assert not off.hit and off.path is None and c.calls == 40


def test_changed_images_or_extractor_give_another_key() -> None:
    x = images(12)
    base = cache_path(Counting().extractor, x)
    assert cache_path(Counting().extractor, x.clone()) == base  # keyed by content, not by object
    changed = x.clone()
    changed[5, 0, 3, 3] ^= 1  # one bit of one pixel
    assert cache_path(Counting().extractor, changed) != base
    assert cache_path(Counting().extractor, x[:11]) != base  # another subset
    assert cache_path(Counting().extractor, x.view(12, 1, 8, 32)) != base  # same bytes, other shape
    assert cache_path(Counting("count:2").extractor, x) != base  # other weights
    assert cache_path(Counting(protocol={"v": 2}).extractor, x) != base  # other input protocol
    # D's two variants share the cache id (the weights) but not the key
    d = build_models(ModelConfig(image_size=16, channels=1, ndf=8), seed=0)[1]
    grid, cells = discriminator_extractor(d, identity="w"), discriminator_extractor(d, identity="w", average_cells=True)
    assert grid.cache_id == cells.cache_id and cache_path(grid, x) != cache_path(cells, x)


def test_channel_averaged_d_features_are_the_mean_of_the_16_cells() -> None:
    d = build_models(ModelConfig(image_size=32, channels=3, ndf=8), seed=3)[1].eval()
    x = images(6, 32, 3)
    grid = discriminator_extractor(d).features(x)
    cells = discriminator_extractor(d, average_cells=True).features(x)
    widths = [8, 16, 32]
    assert feature_split(d) == [16 * c for c in widths] and feature_split(d, average_cells=True) == widths
    assert grid.shape == (6, 16 * sum(widths)) and cells.shape == (6, sum(widths))
    # exactly the mean of each channel's 16 cells of the full variant (channel-major layout)
    means = torch.cat([part.view(6, -1, GRID * GRID).mean(-1) for part in grid.split(feature_split(d), 1)], 1)
    assert torch.equal(cells, means)
    # and, computed independently from D's blocks: spatial mean of each 4x4 max-pooled activation
    h, by_hand = x.float() / 127.5 - 1, []
    with torch.no_grad():
        for block in d.blocks:
            h = block(h)
            by_hand.append(F.max_pool2d(h, h.shape[-1] // GRID).mean((2, 3)))
    torch.testing.assert_close(cells, torch.cat(by_hand, 1), rtol=1e-5, atol=1e-6)


def test_a_corrupt_cache_entry_is_recomputed(tmp_path: Path) -> None:
    x = images(9)
    c = Counting()
    first = cached_features(c.extractor, x, root=tmp_path)
    path = first.path
    assert path is not None
    path.write_bytes(path.read_bytes()[:60])  # truncated array file, metadata intact
    second = cached_features(c.extractor, x, root=tmp_path)
    assert not second.hit and c.calls == 18
    np.testing.assert_array_equal(second.features, first.features)
    assert cached_features(c.extractor, x, root=tmp_path).hit and c.calls == 18  # the entry was repaired
    path.with_suffix(".json").write_text("{not json")  # broken metadata
    assert not cached_features(c.extractor, x, root=tmp_path).hit and c.calls == 27
    path.write_bytes(b"garbage, not an .npy file at all")
    assert not cached_features(c.extractor, x, root=tmp_path, mmap=True).hit and c.calls == 36


def test_a_failed_extraction_leaves_no_entry(tmp_path: Path) -> None:
    x = images(5)
    failing = Counting(fail=True)
    with pytest.raises(RuntimeError, match="extraction failed"):
        cached_features(failing.extractor, x, root=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no temporary file, no half entry
    c = Counting()
    assert not cached_features(c.extractor, x, root=tmp_path).hit and c.calls == 5


def test_registry_builders_share_the_interface(tmp_path: Path) -> None:
    x = images(4, 16, 1)
    pixels = build_extractor("pixels", channels=1, image_size=16)
    assert pixels.dim == 256 and torch.equal(pixels.features(x), x.flatten(1).float())
    got = cached_features(pixels, x, root=tmp_path)
    assert got.path is None and not got.hit and list(tmp_path.iterdir()) == []  # pixels are never worth a disk copy
    random = build_extractor("random", channels=1, image_size=16)
    assert random.kind == "random" and random.dim == 64 + 128 and random.split == [64, 128]
    assert random.features(x).shape == (4, random.dim)
    with pytest.raises(UserError, match="16x16x1"):
        pixels_extractor(1, 16).features(images(2, 16, 3))
    with pytest.raises(UserError, match="takes no argument"):
        build_extractor("pixels:3", channels=1, image_size=16)
