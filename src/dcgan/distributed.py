"""Multi-process helpers (torchrun) that do nothing in a single process.

Logging, sample grids and checkpoints go through ``is_main()`` so that the training loop reads the
same with one process or many.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def launched_by_torchrun() -> bool:
    """Return True when this process was started by torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: torch.device) -> None:
    """Join the process group torchrun describes (NCCL on CUDA, Gloo on CPU); no-op in one process."""
    if launched_by_torchrun() and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def cleanup() -> None:
    """Leave the process group, if any."""
    if dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    """Return this process's rank (0 in a single process)."""
    return dist.get_rank() if dist.is_initialized() else 0


def local_rank() -> int:
    """Return this process's rank on its machine (0 in a single process)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def world_size() -> int:
    """Return the number of processes (1 in a single process)."""
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """Return True on the process that logs and writes files."""
    return rank() == 0


def barrier() -> None:
    """Wait for every process; no-op in a single process."""
    if dist.is_initialized():
        dist.barrier()


def broadcast_object(obj: Any) -> Any:
    """Return rank 0's ``obj`` on every process."""
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    """Return the mean of ``t`` over processes (``t`` itself in a single process)."""
    if not dist.is_initialized():
        return t
    t = t.clone()
    dist.all_reduce(t)
    return t / world_size()
