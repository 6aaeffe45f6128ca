"""Multi-process training with torchrun (Gloo on the CPU) and the single-process no-op helpers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dcgan import distributed


def test_helpers_are_no_ops_in_one_process() -> None:
    assert distributed.rank() == 0 and distributed.world_size() == 1 and distributed.is_main()
    t = torch.tensor([1.0, 3.0])
    assert distributed.all_reduce_mean(t) is t
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}
    distributed.barrier()


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    result = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "dcgan.cli", "train", "--data", "fake", "--num-images", "64",
         "--image-size", "16", "--ngf", "8", "--ndf", "8", "--z-dim", "8", "--batch-size", "8", "--max-steps", "6",
         "--g-steps", "2", "--log-every", "2", "--out", str(tmp_path), "--device", "cpu"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    runs = list(tmp_path.iterdir())
    assert len(runs) == 1  # only rank 0 creates the run folder
    log = (runs[0] / "log.txt").read_text()
    assert "batch 8 x 2 process(es)" in log and "4 per epoch" in log  # 64 images / (8 x 2)
    assert "2 G updates per D update" in log  # each rank runs G (under DDP) twice per step
    from dcgan.checkpoint import load_checkpoint

    assert load_checkpoint(runs[0])["step"] == 6
