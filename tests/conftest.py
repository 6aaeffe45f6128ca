"""Shared fixtures: tiny model settings, the real-data root, and an isolated cache folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from dcgan.config import ModelConfig

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("DCGAN_TEST_DATA", REPO.parent / "shared" / "data"))

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep decoded-data caches of the tests out of the user's ~/.cache."""
    os.environ["DCGAN_CACHE_DIR"] = str(tmp_path_factory.mktemp("dcgan-cache"))


@pytest.fixture
def tiny() -> ModelConfig:
    """A model small enough that a training step takes milliseconds."""
    return ModelConfig(image_size=16, channels=3, z_dim=8, ngf=8, ndf=8)


def data_file(name: str) -> Path:
    """Return a file under the shared data root, or skip the test when it is absent."""
    path = DATA_ROOT / name
    if not path.exists():
        pytest.skip(f"real data {path} is absent (set DCGAN_TEST_DATA to the folder holding it)")
    return path


@pytest.fixture
def mnist_npz() -> Path:
    return data_file("mnist.npz")
