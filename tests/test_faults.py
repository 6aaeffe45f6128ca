"""Fault injection (issue 21): kill -9 during training and inside saves, a full disk, NaN losses.

Every test here is marked ``faults`` and ``make test`` runs them; the kill test starts real training
processes and is the slow one (about 2 minutes on 2 busy cores: 11 process starts).
"""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dcgan.checkpoint import is_temp_file, list_checkpoints, load_checkpoint, save_checkpoint
from dcgan.cli import main
from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from dcgan.errors import UserError

pytestmark = pytest.mark.faults

TINY_FLAGS = ["--data", "rooms", "--image-size", "32", "--num-images", "64", "--z-dim", "8", "--ngf", "8", "--ndf", "8",
              "--batch-size", "32", "--log-every", "2"]


def tiny_cfg(out: Path, epochs: int = 3) -> RunConfig:
    return RunConfig(data=DataConfig(spec="rooms", image_size=32, num_images=64),
                     model=ModelConfig(image_size=32, z_dim=8, ngf=8, ndf=8),
                     train=TrainConfig(batch_size=32, epochs=epochs, out=str(out), name="f", num_fixed_samples=4, log_every=2))


def finite(payload: dict) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in payload["generator"].values() if t.is_floating_point())


@pytest.mark.slow
def test_kill_9_at_random_moments_never_breaks_latest_and_resume_continues(tmp_path: Path) -> None:
    """Ten kill -9s, about half of them while a save sleeps between writing its temp file and renaming it."""
    rng = random.Random(21)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "DCGAN_TEST_PAUSE_IN_SAVE": "0.4"}
    cmd = [sys.executable, "-m", "dcgan.cli", "train", *TINY_FLAGS, "--epochs", "400", "--out", str(tmp_path), "--name", "k"]
    steps, kills_in_save = [], 0
    for attempt in range(10):
        run = next(iter(tmp_path.glob("*-k")), None)
        argv = cmd if run is None else [sys.executable, "-m", "dcgan.cli", "train", "--resume", str(run)]
        started = time.time()  # a latest.pt newer than this was saved by this process
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ckpts = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:  # wait until this process saved once
            run = next(iter(tmp_path.glob("*-k")), None)
            ckpts = run / "checkpoints" if run else None
            if ckpts and (ckpts / "latest.pt").exists() and (ckpts / "latest.pt").stat().st_mtime > started:
                break
            time.sleep(0.05)
        if attempt % 2:  # kill inside a save: wait for a temp file to appear, then kill while it sleeps
            while proc.poll() is None and not any(is_temp_file(p) for p in ckpts.iterdir()):
                time.sleep(0.01)
            kills_in_save += any(is_temp_file(p) for p in ckpts.iterdir())
        else:
            time.sleep(rng.uniform(0.0, 1.5))
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        payload = load_checkpoint(ckpts / "latest.pt")  # raises if the kill damaged it
        assert finite(payload)
        steps.append(payload["step"])
        assert all(not is_temp_file(p) for p in list_checkpoints(ckpts))
    assert kills_in_save >= 3
    assert steps == sorted(steps) and steps[-1] > steps[0], steps  # each resume continued from the last save
    # One more resume: its first save removes the temp files the killed writers left.
    proc = subprocess.Popen([sys.executable, "-m", "dcgan.cli", "train", "--resume", str(run)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and load_checkpoint(ckpts / "latest.pt")["step"] <= steps[-1]:
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    stale = [p for p in ckpts.iterdir() if is_temp_file(p) and f"-{proc.pid}-" not in p.name]
    assert stale == []
    assert load_checkpoint(ckpts / "latest.pt")["step"] > steps[-1]


def test_stale_temp_file_removed_by_next_save_and_never_a_checkpoint(tmp_path: Path, trained) -> None:
    payload = load_checkpoint(trained.latest)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs
    stale = tmp_path / f".latest.pt.tmp-{dead.pid}-abcd1234"
    stale.write_bytes(b"half a checkpoint")
    assert list_checkpoints(tmp_path) == []
    with pytest.raises(UserError, match="temporary file of an interrupted save"):
        load_checkpoint(stale)
    save_checkpoint(tmp_path / "latest.pt", payload)
    assert not stale.exists()
    assert list_checkpoints(tmp_path) == [tmp_path / "latest.pt"]


def test_full_disk_mid_training_stops_with_one_line_naming_last_good(tmp_path: Path, monkeypatch) -> None:
    """An injected ENOSPC on the second checkpoint write: one-line UserError, latest.pt of epoch 1 survives."""
    import dcgan.checkpoint as checkpoint
    from dcgan.train import train

    real, calls = checkpoint.atomic_write_bytes, []

    def filling(path: Path, data: bytes) -> None:
        if path.suffix == ".pt":
            calls.append(path)
            if len(calls) > 2:  # epoch 1 writes epoch-0001.pt and latest.pt; the disk is full from epoch 2 on
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data)

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", filling)
    with pytest.raises(UserError) as info:
        train(tiny_cfg(tmp_path))
    message = str(info.value)
    assert "\n" not in message
    assert "No space left on device" in message and "last good checkpoint" in message and "step 2" in message, message
    latest = next(tmp_path.glob("*-f")) / "checkpoints" / "latest.pt"
    assert load_checkpoint(latest)["step"] == 2


def test_full_disk_on_sample_out_is_one_line_exit_2(tmp_path: Path, trained, monkeypatch, capsys) -> None:
    from PIL import Image

    def full(self, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(fp))

    monkeypatch.setattr(Image.Image, "save", full)
    rc = main(["sample", str(trained.latest), "--seeds", "0-3", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "No space left on device" in err[0], err


def test_nan_losses_stop_the_run_keep_latest_and_resume_works(tmp_path: Path, monkeypatch) -> None:
    from dcgan.train import Trainer, resume, train

    advance = Trainer.advance

    def poisoned(self):  # after epoch 1 (step 2), one G weight becomes NaN, as a blown-up update would make it
        out = advance(self)
        if self.step == 3:
            with torch.no_grad():
                next(self.g.parameters()).fill_(float("nan"))
        return out

    monkeypatch.setattr(Trainer, "advance", poisoned)
    with pytest.raises(UserError, match="diverged") as info:
        train(tiny_cfg(tmp_path))
    assert "last good checkpoint" in str(info.value) and "\n" not in str(info.value)
    run = next(tmp_path.glob("*-f"))
    payload = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert payload["step"] == 2 and finite(payload)
    monkeypatch.setattr(Trainer, "advance", advance)
    resume(run)
    payload = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert payload["step"] == 6 and finite(payload)  # 3 epochs of 2 steps
