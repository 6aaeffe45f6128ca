"""``.npz`` source: uint8 NHWC arrays with optional labels.

Layout: images under ``x_<split>`` (or ``x``), labels under ``y_<split>`` (or ``y``) with value names
in ``class_names``, and further label factors under ``y_<split>_<factor>`` with names in
``<factor>_names``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from dcgan.data.base import ImageData, fit_images
from dcgan.errors import UserError

READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError)  # what a damaged or foreign .npz raises


def _names(npz: np.lib.npyio.NpzFile, key: str, path: Path) -> list[str] | None:
    if key not in npz.files:
        return None
    names = _read(npz, key, path)
    if names.ndim != 1:
        raise UserError(f"{path}:{key} must list one name per label value, got shape {names.shape}")
    return [str(n) for n in names]


def _read(npz: np.lib.npyio.NpzFile, key: str, path: Path, limit: int | None = None) -> np.ndarray:
    """Return the array ``key`` (its first ``limit`` entries); an unreadable one is a UserError naming it."""
    try:
        value = npz[key]
    except READ_ERRORS as exc:
        reason = "it holds Python objects, which are not loaded (pickle is refused)" if "allow_pickle" in str(exc) else _first_line(exc)
        raise UserError(f"cannot read {key} from {path}: {reason}") from None
    return value[:limit] if value.ndim else value


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def load_npz(path: Path, split: str, size: int, channels: int | None, limit: int | None = None) -> ImageData:
    """Read images and labels of ``split`` from an .npz file and fit them to ``size`` and ``channels``.

    Every way the file can be wrong (missing, empty, truncated, pickled objects, wrong dtype, shape or
    labels) is a one-line UserError naming the file, the key and what was expected.
    """
    if path.is_dir():
        raise UserError(f"{path} is a folder, not an .npz file")
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    try:
        empty = path.stat().st_size == 0
        npz = np.load(path, allow_pickle=False)
    except READ_ERRORS as exc:
        if isinstance(exc, OSError) and exc.strerror:
            raise UserError(f"cannot read {path}: {exc.strerror}") from None
        raise UserError(f"cannot read {path}: not a valid .npz file ({'empty: 0 bytes' if empty else _first_line(exc)})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise UserError(f"{path} holds a single array, not an .npz archive of named arrays (write it with numpy.savez(path, x=images))")
    with npz:
        x_key = f"x_{split}" if f"x_{split}" in npz.files else ("x" if split == "train" and "x" in npz.files else None)
        if x_key is None:
            have = ", ".join(k for k in npz.files if k.startswith("x")) or "none"
            raise UserError(f"{path} has no images for split {split!r}: expected key x_{split} (or x), found {have}")
        x = _read(npz, x_key, path, limit)
        if x.dtype != np.uint8:
            raise UserError(f"{path}:{x_key} is {x.dtype}; expected uint8 pixels in 0..255 (N, H, W, C)")
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[-1] not in (1, 3) or 0 in x.shape[1:3]:
            raise UserError(f"{path}:{x_key} has shape {x.shape}; expected (N, H, W) or (N, H, W, 1|3) uint8")
        if len(x) == 0:
            raise UserError(f"{path}:{x_key} holds no images")
        labels, label_names = {}, {}
        prefix = x_key.replace("x", "y", 1)
        for key in npz.files:
            if key == prefix:
                factor, names_key = "label", "class_names"
            elif key.startswith(prefix + "_"):
                factor = key[len(prefix) + 1 :]
                names_key = f"{factor}_names"
            else:
                continue
            values = _read(npz, key, path, limit)
            if values.shape != (len(x),) or not np.issubdtype(values.dtype, np.integer):
                raise UserError(f"{path}:{key} must hold one integer label per image ({len(x)}), got {values.dtype} of shape {values.shape}")
            names = _names(npz, names_key, path)
            if values.min() < 0 or (names is not None and values.max() >= len(names)):
                allowed = f"0..{len(names) - 1} (one per name in {names_key})" if names is not None else "0 or more"
                raise UserError(f"{path}:{key} holds labels from {values.min()} to {values.max()}; expected {allowed}")
            labels[factor] = torch.from_numpy(values.astype(np.int64))
            label_names[factor] = names or [str(v) for v in range(int(values.max()) + 1)]
    images = fit_images(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), size, channels)
    return ImageData(images, labels, label_names, f"{path.name}:{split} ({len(images)} images)")
