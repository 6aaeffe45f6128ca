"""Choosing the device and the numeric precision of training."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from dcgan import distributed
from dcgan.errors import UserError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """Return the torch device for 'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N' (a device passes through)."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"--device {name} asked for, but no CUDA GPU is available: use --device cpu or auto")
        if name == "cuda":
            return torch.device("cuda", distributed.local_rank())
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown --device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):  # torch knows more names (mps, xla, ...), which dcgan neither uses nor tests
        raise UserError(f"--device {name} is not supported: use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserError(f"--device {name} asked for, but this machine has {torch.cuda.device_count()} CUDA GPU(s): use cuda:0 .. "
                        f"cuda:{torch.cuda.device_count() - 1}")
    return device


def fast_gpu_math(device: torch.device) -> None:
    """On a GPU, let fp32 matrix products and convolutions use TF32 and let cuDNN pick the fastest algorithms.

    TF32 keeps fp32's range with a 10-bit mantissa, which GAN training does not notice; the speed-up of
    fp32 runs on Ampere and later GPUs is several-fold. Benchmarking picks algorithms once per shape.
    """
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Return True when the CPU computes bf16 natively (AVX512-BF16 or AMX), where bf16 autocast pays off."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(name: str, device: torch.device) -> str:
    """Return 'fp32', 'bf16' or 'fp16' for the requested precision on ``device``."""
    if name == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_has_native_bf16() else "fp32"
    if name == "fp16" and device.type != "cuda":
        raise UserError("--precision fp16 needs a CUDA GPU; on the CPU use bf16 or fp32")
    return name


@contextmanager
def cpu_threads(n: int | None, blas: bool = False) -> Iterator[None]:
    """Run the block with ``n`` CPU threads in torch (and with ``blas``, in the BLAS/OpenMP pools scikit-learn
    uses), then restore them.

    ``None`` or 0 leaves the counts alone. One thread is often fastest for small ops or on a machine shared
    with other jobs, where every multi-threaded op waits for its slowest thread. ``blas`` is opt-in because
    threadpoolctl scans the loaded libraries on every entry (about a millisecond), too slow for hot paths
    such as rendering a batch of rooms.
    """
    if not n:
        yield
        return
    from contextlib import nullcontext

    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(n) if blas else nullcontext():
            yield
    finally:
        torch.set_num_threads(old)
