"""Shared fixtures: tiny model settings, the real-data root, and an isolated cache folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from dcgan.config import ModelConfig

REPO = Path(__file__).resolve().parents[1]
# The one setting through which tests find real data (the Makefile sets it); ./data when unset.
DATA_ROOT = Path(os.environ.get("DCGAN_TEST_DATA", REPO / "data"))

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


class Trained:
    """The shared tiny rooms model and judge: a run folder (epoch-1 and epoch-2 checkpoints) and a judge file."""

    def __init__(self, run_dir: Path, judge: Path) -> None:
        self.run_dir = run_dir
        self.latest = run_dir / "checkpoints" / "latest.pt"
        self.epoch1 = run_dir / "checkpoints" / "epoch-0001.pt"
        self.judge = judge


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """One tiny 32x32 rooms run (8 channels, 2 epochs of 4 steps) and one tiny rooms judge with a localiser, for every test module.

    A few steps leave G drawing nearly one image for every z; scaling its conv weights up and its BatchNorm
    variances down makes the images vary with z (different judged values), which the measurements need.
    """
    from dcgan.checkpoint import load_checkpoint, save_checkpoint
    from dcgan.config import DataConfig, RunConfig, TrainConfig
    from dcgan.data import load_data
    from dcgan.judges import TrainSettings, save_judge, train_judge, train_localiser
    from dcgan.train import train

    root = tmp_path_factory.mktemp("trained")
    cfg = RunConfig(data=DataConfig(spec="rooms", image_size=32, num_images=128),
                    model=ModelConfig(image_size=32, z_dim=8, ngf=8, ndf=8),
                    train=TrainConfig(batch_size=32, epochs=2, out=str(root / "runs"), name="tiny", num_fixed_samples=4, log_every=4))
    run_dir = train(cfg)
    for name in ("latest.pt", "epoch-0002.pt"):
        payload = load_checkpoint(run_dir / "checkpoints" / name)
        for key, value in payload["generator"].items():
            if key.endswith("weight") and value.ndim == 4:
                payload["generator"][key] = value * 5
            elif key.endswith("running_var"):
                payload["generator"][key] = torch.full_like(value, 0.01)
        save_checkpoint(run_dir / "checkpoints" / name, payload)
    data = load_data(DataConfig(spec="rooms", image_size=32, num_images=1536))
    val = load_data(DataConfig(spec="rooms:test", image_size=32, num_images=256))
    settings = TrainSettings(epochs=2, batch_size=64, width=8, feature_dim=32, localiser_steps=15, localiser_batch=16,
                             localiser_val=32, log=lambda _msg: None, threads=1)
    judge, _ = train_judge(data, val, list(data.labels), settings)
    judge.localiser = train_localiser(32, 3, settings)
    return Trained(run_dir, save_judge(root / "rooms-32.pt", judge))
