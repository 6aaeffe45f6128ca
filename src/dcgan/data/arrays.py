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


def _names(npz: np.lib.npyio.NpzFile, key: str) -> list[str] | None:
    return [str(n) for n in npz[key]] if key in npz.files else None


def load_npz(path: Path, split: str, size: int, channels: int | None, limit: int | None = None) -> ImageData:
    """Read images and labels of ``split`` from an .npz file and fit them to ``size`` and ``channels``."""
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise UserError(f"cannot read {path}: not a valid .npz file ({exc})") from None
    with npz:
        x_key = f"x_{split}" if f"x_{split}" in npz.files else ("x" if split == "train" and "x" in npz.files else None)
        if x_key is None:
            have = ", ".join(k for k in npz.files if k.startswith("x")) or "none"
            raise UserError(f"{path} has no images for split {split!r}: expected key x_{split} (or x), found {have}")
        try:
            x = npz[x_key][:limit]
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise UserError(f"cannot read {x_key} from {path}: {exc}") from None
        if x.dtype != np.uint8:
            raise UserError(f"{path}:{x_key} is {x.dtype}; expected uint8 pixels in 0..255 (N, H, W, C)")
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise UserError(f"{path}:{x_key} has shape {x.shape}; expected (N, H, W) or (N, H, W, 1|3) uint8")
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
            values = npz[key][:limit]
            if values.shape != (len(x),) or not np.issubdtype(values.dtype, np.integer):
                raise UserError(f"{path}:{key} must hold one integer label per image, got shape {values.shape}")
            labels[factor] = torch.from_numpy(values.astype(np.int64))
            names = _names(npz, names_key)
            label_names[factor] = names or [str(v) for v in range(int(values.max()) + 1)]
    images = fit_images(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), size, channels)
    return ImageData(images, labels, label_names, f"{path.name}:{split} ({len(images)} images)")
