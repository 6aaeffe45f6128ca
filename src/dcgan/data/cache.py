"""On-disk cache of decoded uint8 arrays, so that image folders are decoded once, not every run or epoch."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def cache_dir() -> Path:
    """Return the cache folder: $DCGAN_CACHE_DIR, else $XDG_CACHE_HOME/dcgan, else ~/.cache/dcgan."""
    if os.environ.get("DCGAN_CACHE_DIR"):
        return Path(os.environ["DCGAN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dcgan"


def cache_key(*parts: Any) -> str:
    """Return a short stable hash of JSON-serialisable ``parts``."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def cached_array_path(kind: str, key: str) -> Path:
    """Return where the array for (kind, key) lives; its metadata sits beside it as .json."""
    return cache_dir() / kind / f"{key}.npy"


def read_meta(array_path: Path) -> dict[str, Any] | None:
    """Return the metadata of a complete cache entry, or None when it is missing or unfinished."""
    meta_path = array_path.with_suffix(".json")
    if not (array_path.is_file() and meta_path.is_file()):
        return None
    try:
        return json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def open_array(array_path: Path) -> np.ndarray:
    """Memory-map a cached array copy-on-write: the file is never modified, and torch gets a writable view."""
    return np.load(array_path, mmap_mode="c")


def new_array(array_path: Path, shape: tuple[int, ...], dtype: Any = np.uint8) -> tuple[np.ndarray, Path]:
    """Create a writable memory-mapped array in a temporary file; publish it with ``publish``."""
    array_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = array_path.with_name(f".{array_path.stem}.tmp-{os.getpid()}.npy")
    return np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape), tmp


def publish(array: np.ndarray, tmp: Path, array_path: Path, meta: dict[str, Any]) -> None:
    """Flush the array, rename it into place, then write the metadata that marks the entry complete."""
    array.flush()
    os.replace(tmp, array_path)
    meta_tmp = array_path.with_name(f".{array_path.stem}.meta-{os.getpid()}")
    meta_tmp.write_text(json.dumps(meta))
    os.replace(meta_tmp, array_path.with_suffix(".json"))
