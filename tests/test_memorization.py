"""The memorisation check through the Python API: planted copies are found exactly, in pixels and in features."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import dcgan
from dcgan.analysis.memorization import memorization
from dcgan.errors import UserError
from dcgan.report import save
from dcgan.settings.memorization import MemorizationSettings


def test_planted_copies_of_samples_are_found_as_near_copies(trained, tmp_path: Path) -> None:
    model = dcgan.load(trained.run_dir, device="cpu")
    samples = model.sample(range(12))  # what memorization() generates: seeds 0..11
    others = model.sample(range(100, 160))  # a training set of other images ...
    planted = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    train = torch.cat([others, samples[planted]])  # ... with every sample copied into it, shuffled
    heldout = model.sample(range(500, 520))
    before = set(trained.run_dir.rglob("*"))
    result = memorization(model, samples=12, pairs=4, train_data=train, heldout_data=heldout)
    assert set(trained.run_dir.rglob("*")) == before  # writes nothing into the run
    where = torch.empty(12, dtype=torch.long)
    where[planted] = torch.arange(60, 72)  # sample i sits at 60 + its position in the shuffle
    for key in ("pixel", "features"):
        space = result.spaces[key]
        assert torch.equal(space.nearest, where), key
        assert space.stats["near_copies"] == 12 and space.stats["below_heldout_min"] == 12, key
        assert space.stats["expected_by_chance"] == pytest.approx(0.12)
        assert torch.equal(space.neighbours, samples)
    assert torch.equal(result.spaces["pixel"].sample_distances, torch.zeros(12))  # exact recomputation: a copy is 0
    assert result.spaces["features"].sample_distances.max() < 1e-4
    record = json.loads(save(result, tmp_path / "out").results.read_text())
    assert record["tool"] == "memorization" and record["train"]["images"] == 72 and record["heldout"]["images"] == 12  # as many held-out images as samples
    assert record["pixel"]["closest"][0]["distance"] == 0.0 and "D features" in record["features"]["space"]
    assert record["figures"] == ["pairs-pixel.png", "pairs-features.png", "distances.png"]
    assert all((tmp_path / "out" / f).is_file() for f in record["figures"])


def test_judge_space_and_the_run_s_own_data(trained) -> None:
    model = dcgan.load(trained.run_dir, device="cpu")
    judge = dcgan.load_judge(trained.judge, model)
    result = memorization(model, samples=10, train_images=50, judge=judge)
    assert result.data["train"]["images"] == 50 and "test" in result.data["heldout"]["data"]  # rooms' test split
    assert "judge" in result.spaces["features"].description
    assert result.spaces["pixel"].stats["samples"]["median"] > 0  # samples are no copies of these rooms
    assert len(result.lines()) == 3


def test_settings_are_checked() -> None:
    with pytest.raises(UserError, match="--quantile in"):
        MemorizationSettings(quantile=2)
    with pytest.raises(UserError, match="--train-images must be positive"):
        MemorizationSettings(train_images=0)
