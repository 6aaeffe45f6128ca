"""dcgan data dedup: the semantic hash finds known duplicates; bucketing is exact and linear (no all-pairs step)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dcgan.cli import main
from dcgan.data.base import ImageData
from dcgan.data.dedup import dedup, group_pairs, near_pairs
from dcgan.data.pack import open_pack, pack
from dcgan.errors import UserError


def random_codes(n: int, bits: int, seed: int) -> np.ndarray:
    return np.packbits(np.random.default_rng(seed).integers(0, 2, (n, bits), dtype=np.uint8), axis=1)


def flip(code: np.ndarray, bits: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``code`` with k distinct random bits flipped."""
    unpacked = np.unpackbits(code, count=bits)
    unpacked[rng.choice(bits, k, replace=False)] ^= 1
    return np.packbits(unpacked)


@pytest.mark.parametrize("threshold", [0, 2, 5])
def test_near_pairs_equal_brute_force_all_pairs(threshold: int) -> None:
    bits, rng = 128, np.random.default_rng(threshold)
    codes = random_codes(400, bits, threshold)
    for i in range(0, 120, 2):  # planted pairs at distances 0 .. threshold + 2
        codes[i + 1] = flip(codes[i], bits, int(rng.integers(0, threshold + 3)), rng)
    pairs, dist, work = near_pairs(codes, bits, threshold)
    unpacked = np.unpackbits(codes, axis=1, count=bits).astype(np.int64)
    all_d = (unpacked[:, None, :] != unpacked[None, :, :]).sum(-1)
    iu, ju = np.triu_indices(len(codes), 1)
    want = {(int(i), int(j)) for i, j in zip(iu, ju, strict=True) if all_d[i, j] <= threshold}
    assert {tuple(p) for p in pairs.tolist()} == want  # the banding misses no pair and adds none
    assert dist.tolist() == [int(all_d[i, j]) for i, j in pairs]
    assert work["bands"] == threshold + 1 and work["comparisons"] < len(iu) / 20


def test_bucketing_work_grows_linearly_not_quadratically() -> None:
    """Clusters of 4 near codes: twice the images gives twice the comparisons (all pairs would give four times)."""
    bits, rng = 128, np.random.default_rng(0)

    def clustered(clusters: int) -> np.ndarray:
        centres = random_codes(clusters, bits, clusters)
        return np.concatenate([np.stack([flip(c, bits, 1, rng) for _ in range(4)]) for c in centres])

    small, large = clustered(2000), clustered(4000)
    work_small = near_pairs(small, bits, 2)[2]["comparisons"]
    work_large = near_pairs(large, bits, 2)[2]["comparisons"]
    assert 6 * 2000 <= work_small <= 6 * 2000 * 1.05  # the 6 pairs inside each cluster, and almost nothing else
    assert 1.9 <= work_large / work_small <= 2.1


def test_groups_are_connected_components() -> None:
    pairs = np.array([[0, 3], [3, 7], [5, 6]])
    assert [g.tolist() for g in group_pairs(10, pairs)] == [[0, 3, 7], [5, 6]]
    assert group_pairs(10, np.zeros((0, 2), dtype=np.int64)) == []


def toy_set(n: int = 300, copies: int = 20, seed: int = 0) -> tuple[ImageData, list[list[int]]]:
    """Smooth random images (each its own 4x4 colour field, upsampled) and noisy copies of the first ``copies``: known groups."""
    gen = torch.Generator().manual_seed(seed)
    base = F.interpolate(torch.rand(n, 3, 4, 4, generator=gen) * 255, size=(32, 32), mode="bilinear", align_corners=False)
    noise = torch.randint(-3, 4, (copies, 3, 32, 32), generator=gen)
    dup = (base[:copies] + noise).clamp(0, 255)
    images = torch.cat([base, dup]).round().to(torch.uint8)
    return ImageData(images, {"label": torch.arange(n + copies) % 2}, {"label": ["a", "b"]}, "toy"), [[i, n + i] for i in range(copies)]


def test_dedup_finds_the_injected_copies_and_nothing_else() -> None:
    data, truth = toy_set()
    result = dedup(data=data, spec="toy", threshold=4, epochs=30, batch_size=64, threads=1, progress=False)
    assert sorted(g["members"] for g in result.groups) == truth
    assert result.duplicates == 20 and result.count == 320
    for g in result.groups:
        assert g["hamming"][0] == 0 and g["hamming"][1] <= 4 and 0 < g["pixel_rmse"][1] < 3
    assert result.autoencoder["bits_used"] > 100  # median thresholds: most of the 128 bits carry information
    assert result.work["comparisons"] < 320 * 5  # hash buckets, not the 51,040 pairs


def test_dedup_command_writes_groups_grid_results_and_a_clean_pack(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data, truth = toy_set(seed=1)
    np.savez(tmp_path / "toy.npz", x_train=data.images.permute(0, 2, 3, 1).numpy(), y_train=data.labels["label"].numpy())
    pack(src=str(tmp_path / "toy.npz"), out=str(tmp_path / "toy"), image_size=32)
    args = ["data", "dedup", str(tmp_path / "toy"), "--threshold", "4", "--epochs", "30", "--batch-size", "64", "--threads", "1",
            "--out", str(tmp_path / "d"), "--write-clean", str(tmp_path / "clean")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "20 images to drop" in out and "figure:" in out
    dup = json.loads((tmp_path / "d" / "duplicates.json").read_text())
    assert sorted(g["members"] for g in dup["groups"]) == truth
    assert dup["groups"][0]["names"][0].endswith("#" + str(dup["groups"][0]["members"][0]))
    assert (tmp_path / "d" / "groups.png").is_file()
    results = json.loads((tmp_path / "d" / "results.json").read_text())
    assert results["duplicates"] == 20 and results["settings"]["threshold"] == 4 and results["work"]["comparisons_per_image"] < 5
    images, labels, meta = open_pack(tmp_path / "clean")
    assert len(images) == 300 and meta["dedup"]["groups"] == 20 and len(meta["dedup"]["removed"]) == 20
    assert np.array_equal(images, data.images[:300].numpy()) and labels["label"].tolist() == (np.arange(300) % 2).tolist()
    # the clean pack exists now: a second run refuses before any work, in one line
    assert main(args) == 2
    assert "already holds a pack" in capsys.readouterr().err


def test_dedup_refuses_bad_settings_and_tiny_data() -> None:
    with pytest.raises(UserError, match="--threshold"):
        dedup(spec="rooms", threshold=128)
    with pytest.raises(UserError, match="at least 2"):
        dedup(data=ImageData(torch.zeros(1, 3, 32, 32, dtype=torch.uint8)), progress=False)


def test_dedup_help_lists_every_setting(capsys: pytest.CaptureFixture) -> None:
    from dataclasses import fields

    from dcgan.settings import flag_name
    from dcgan.settings.data import DedupSettings

    with pytest.raises(SystemExit):
        main(["data", "dedup", "--help"])
    text = capsys.readouterr().out
    for f in fields(DedupSettings):
        if f.name != "spec":
            assert flag_name(f.name) in text
    assert "--out" in text and "--no-normalize" in text
