"""Self-describing, atomic, safely loaded checkpoints.

A checkpoint holds the run config (so every tool rebuilds the nets from it alone), both nets, both
optimiser states, step and epoch, every RNG state and the fixed noise. It is written to a temporary
file and renamed, so a crash mid-save never leaves a broken file. Loading uses
``torch.load(weights_only=True)``, which refuses pickled code, and a SHA-256 digest of the contents
catches files edited or damaged after saving.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from dcgan.config import ModelConfig, RunConfig
from dcgan.errors import UserError
from dcgan.models import Discriminator, Generator

FORMAT = "dcgan-checkpoint"
VERSION = 1
LATEST = "latest.pt"


def _update_digest(h: Any, obj: Any, path: str = "") -> None:
    """Feed ``obj`` into hash ``h`` in a canonical order (dict keys sorted, tensors as raw bytes)."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"{path}|T|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(f"{path}|D{len(obj)}|".encode())
        for key in sorted(obj, key=repr):
            _update_digest(h, obj[key], f"{path}/{key!r}")
    elif isinstance(obj, list | tuple):
        h.update(f"{path}|L{len(obj)}|".encode())
        for i, item in enumerate(obj):
            _update_digest(h, item, f"{path}/{i}")
    else:
        h.update(f"{path}|{type(obj).__name__}|{obj!r}|".encode())


def digest(payload: dict[str, Any]) -> str:
    """Return the SHA-256 of everything in ``payload`` except its own digest field."""
    h = hashlib.sha256()
    _update_digest(h, {k: v for k, v in payload.items() if k != "digest"})
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Atomically save ``payload`` (plain data and tensors only) with format tag and digest."""
    payload = {"format": FORMAT, "version": VERSION, **payload}
    payload["digest"] = digest(payload)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def resolve_checkpoint(path: str | Path) -> Path:
    """Accept a checkpoint file, a run folder or its checkpoints/ folder; return the checkpoint file."""
    p = Path(path)
    if p.is_dir():
        for candidate in (p / "checkpoints" / LATEST, p / LATEST):
            if candidate.is_file():
                return candidate
        raise UserError(f"no checkpoint in {p}: expected {p / 'checkpoints' / LATEST}")
    if not p.exists():
        raise UserError(f"checkpoint not found: {p}")
    return p


def run_dir_of(checkpoint_path: str | Path) -> Path:
    """Return the run folder a checkpoint belongs to (where analysis outputs go)."""
    p = Path(checkpoint_path).resolve()
    return p.parent.parent if p.parent.name == "checkpoints" else p.parent


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and verify a checkpoint; every way it can be wrong becomes a UserError saying what to do."""
    p = resolve_checkpoint(path)
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UserError(
            f"refusing to load {p}: it contains objects other than tensors and plain data "
            f"(tampered, or not a dcgan checkpoint): {str(exc).splitlines()[0]}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UserError(f"cannot read checkpoint {p}: the file is truncated or corrupt ({str(exc).splitlines()[0].split('. ')[0]}); use another checkpoint of the run") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{p} is not a dcgan checkpoint (no '{FORMAT}' tag); train with 'dcgan train' or pass a file from runs/*/checkpoints/")
    if payload.get("version", 0) > VERSION:
        raise UserError(f"{p} was written by a newer dcgan (format {payload['version']} > {VERSION}); upgrade dcgan")
    if payload.get("digest") != digest(payload):
        raise UserError(f"{p} does not match its checksum: it was modified or damaged after saving; use another checkpoint")
    return payload


def run_config(payload: dict[str, Any]) -> RunConfig:
    """Return the RunConfig stored in a checkpoint."""
    return RunConfig.from_dict(payload["config"])


def open_checkpoint(checkpoint: str | Path) -> tuple[Path, dict[str, Any], RunConfig]:
    """Resolve a checkpoint file or run folder, load it safely; return (path, payload, its RunConfig)."""
    path = resolve_checkpoint(checkpoint)
    payload = load_checkpoint(path)
    return path, payload, run_config(payload)


def _load_state(module: torch.nn.Module, state: dict[str, Any], what: str) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise UserError(f"checkpoint {what} weights do not fit the model its config describes: {str(exc).splitlines()[0]}") from None


def generator_from_checkpoint(payload: dict[str, Any], device: torch.device | str = "cpu", averaged: bool = True) -> Generator:
    """Return G in eval mode (BatchNorm uses running statistics, so a seed's image never depends on its batch).

    A run trained with --ema gives its weight average (what its sample grids show) unless ``averaged`` is False.
    """
    g = Generator(run_config(payload).model)
    ema = payload.get("generator_ema") if averaged else None
    _load_state(g, ema["generator"] if ema else payload["generator"], "generator")
    return g.to(device).eval()


def discriminator_from_checkpoint(payload: dict[str, Any], device: torch.device | str = "cpu") -> Discriminator:
    """Return D in eval mode."""
    d = Discriminator(run_config(payload).model)
    _load_state(d, payload["discriminator"], "discriminator")
    return d.to(device).eval()


def load_generator(path: str | Path, device: torch.device | str = "cpu") -> tuple[Generator, ModelConfig]:
    """Load G and its model config from a checkpoint file or run folder."""
    payload = load_checkpoint(path)
    return generator_from_checkpoint(payload, device), run_config(payload).model
