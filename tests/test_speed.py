"""The fast path: every precision trains, the allocator fix is in effect, resume works across precisions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dcgan.checkpoint import load_checkpoint
from dcgan.config import TrainConfig
from dcgan.device import cpu_threads, resolve_precision
from dcgan.errors import UserError
from dcgan.models import build_models
from dcgan.train import GanStep, resume, train
from tests.test_train import tiny_run

MMAPPED_BYTES = """
import ctypes, torch
import dcgan.cli
try:
    dcgan.cli.main(["--version"])  # the command line applies the allocator setting (plain 'import dcgan' does not)
except SystemExit:
    pass
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split())]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
before = libc.mallinfo2().hblkhd
big = torch.empty(64 * 1024 * 1024, dtype=torch.uint8)
big.fill_(1)
print(libc.mallinfo2().hblkhd - before)
"""


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_each_precision_takes_steps_with_finite_losses(precision: str, tiny) -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if precision == "fp16" and device.type != "cuda":
        with pytest.raises(UserError, match="fp16 needs a CUDA GPU"):
            resolve_precision("fp16", device)
        return
    g, d = build_models(tiny, seed=0)
    step = GanStep(g.to(device), d.to(device), TrainConfig(), device, precision)
    for _ in range(3):
        step(torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8), torch.randn(8, tiny.z_dim, device=device))
    stats = step.read_stats()
    assert all(torch.isfinite(torch.tensor(v)) for v in stats.values()), stats
    assert all(p.dtype == torch.float32 for p in g.parameters())  # master weights stay fp32 under autocast


def test_bf16_autocast_runs_the_convolutions_in_bf16(tiny) -> None:
    g, d = build_models(tiny, seed=0)
    dtypes = []
    d.blocks[1][0].register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
    step = GanStep(g, d, TrainConfig(), torch.device("cpu"), "bf16")
    step(torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8), torch.randn(8, tiny.z_dim))
    assert dtypes and all(t == torch.bfloat16 for t in dtypes)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_allocator_fix_is_in_effect_in_the_command_line_process() -> None:
    def mmapped(env_extra: dict) -> int:
        """Return the bytes glibc mapped with mmap for one 64 MiB tensor."""
        import os

        env = {k: v for k, v in os.environ.items() if k != "DCGAN_NO_MALLOPT"} | env_extra
        out = subprocess.run([sys.executable, "-c", MMAPPED_BYTES], capture_output=True, text=True, env=env, check=True)
        return int(out.stdout.strip().splitlines()[-1])  # after the version line

    assert mmapped({}) == 0  # the 64 MiB tensor came from the heap, not from mmap
    assert mmapped({"DCGAN_NO_MALLOPT": "1"}) >= 64 * 1024 * 1024  # glibc's default maps it


def test_training_log_reports_the_fast_path(tmp_path: Path) -> None:
    run_dir = train(tiny_run(tmp_path, max_steps=2, precision="bf16"))
    log = (run_dir / "log.txt").read_text()
    assert "precision bf16" in log and "channels-last True" in log and "allocator fix True" in log


def test_resume_across_precisions(tmp_path: Path) -> None:
    run_dir = train(tiny_run(tmp_path, max_steps=3, precision="fp32"))
    resume(run_dir, {"max_steps": 6, "precision": "bf16"})
    payload = load_checkpoint(run_dir)
    assert payload["step"] == 6 and payload["precision"] == "bf16"
    assert all(torch.isfinite(t).all() for t in payload["generator"].values() if t.is_floating_point())
    resume(run_dir, {"max_steps": 8, "precision": "fp32"})
    assert load_checkpoint(run_dir)["step"] == 8


def test_cpu_threads_sets_torch_and_blas_pools_and_restores_them() -> None:
    from threadpoolctl import threadpool_info

    before = torch.get_num_threads()
    with cpu_threads(None):
        assert torch.get_num_threads() == before
    with cpu_threads(1, blas=True):
        assert torch.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), cpu_threads(1):
        raise RuntimeError("restored even on errors")
    assert torch.get_num_threads() == before
