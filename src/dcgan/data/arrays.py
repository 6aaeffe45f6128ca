"""``.npz`` source: uint8 NHWC arrays with optional labels.

Layout: images under ``x_<split>`` (or ``x``), labels under ``y_<split>`` (or ``y``) with value names
in ``class_names``, and further label factors under ``y_<split>_<factor>`` with names in
``<factor>_names``.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass
class NpzImages:
    """The images of one split of an .npz file, checked from the array's header and read a range of rows at a time.

    ``rows(a, b)`` streams rows from the archive member (stored or deflated), so a pack of a large .npz never
    holds more than a chunk of it; the labels (one integer per image) are read whole.
    """

    path: Path
    key: str
    shape: tuple[int, int, int, int]  # (N, H, W, C) after ``limit``; grey (N, H, W) arrays get C = 1
    labels: dict[str, np.ndarray]
    label_names: dict[str, list[str]]
    _stream: Any = field(default=None, repr=False)  # the open member, positioned anywhere (seek finds a row)
    _data_start: int = 0  # offset of the first pixel in the member, after the .npy header

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, a: int, b: int) -> np.ndarray:
        """Return (b - a, H, W, C) uint8 rows a..b of the images."""
        row = int(np.prod(self.shape[1:]))
        out = np.empty((b - a, *self.shape[1:]), dtype=np.uint8)
        try:
            self._stream.seek(self._data_start + a * row)  # forward: skips; backward: re-reads the member from its start
            got = self._stream.readinto(memoryview(out).cast("B"))
        except READ_ERRORS as exc:
            raise UserError(f"cannot read {self.key} from {self.path}: {_first_line(exc)}") from None
        if got != out.nbytes:
            raise UserError(f"cannot read {self.key} from {self.path}: the file ends before image {a + got // row} (truncated?)")
        return out

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()


def open_npz(path: Path, split: str, limit: int | None = None) -> NpzImages:
    """Open the images and labels of ``split`` in an .npz file, checking everything but the pixels themselves.

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
        stream, data_start, shape, dtype = _open_member(path, x_key)
        try:
            shape = _image_shape(path, x_key, shape, dtype, limit)
            labels, label_names = _labels(npz, x_key, shape[0], path, limit)
        except UserError:
            stream.close()
            raise
    return NpzImages(path, x_key, shape, labels, label_names, stream, data_start)


def _open_member(path: Path, key: str) -> tuple[Any, int, tuple[int, ...], np.dtype]:
    """Return (the open archive member of ``key``, where its pixels start, shape, dtype), read from the .npy header alone."""
    fmt = np.lib.format
    try:
        with zipfile.ZipFile(path) as archive:  # its own handle: the member stays open after npz and archive close
            stream = archive.open(f"{key}.npy")
        version = fmt.read_magic(stream)
        read_header = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}.get(version)
        if read_header is None:
            raise ValueError(f".npy format version {version} is not supported; save it with numpy.savez")
        shape, fortran_order, dtype = read_header(stream)
    except READ_ERRORS as exc:
        raise UserError(f"cannot read {key} from {path}: {_first_line(exc)}") from None
    if fortran_order and len(shape) > 1:  # rows are not contiguous on disk: rewrite it as a C-ordered array
        stream.close()
        raise UserError(f"{path}:{key} is stored in Fortran order; save it C-ordered (numpy.savez(path, x=numpy.ascontiguousarray(x)))")
    return stream, stream.tell(), tuple(shape), dtype


def _image_shape(path: Path, key: str, shape: tuple[int, ...], dtype: np.dtype, limit: int | None) -> tuple[int, int, int, int]:
    """Return the (N, H, W, C) images an array of ``shape`` and ``dtype`` holds (its first ``limit``), or say what is wrong."""
    if dtype.hasobject:
        raise UserError(f"cannot read {key} from {path}: it holds Python objects, which are not loaded (pickle is refused)")
    if dtype != np.uint8:
        raise UserError(f"{path}:{key} is {dtype}; expected uint8 pixels in 0..255 (N, H, W, C)")
    if len(shape) == 3:
        shape = (*shape, 1)
    if len(shape) != 4 or shape[-1] not in (1, 3) or 0 in shape[1:3]:
        raise UserError(f"{path}:{key} has shape {shape}; expected (N, H, W) or (N, H, W, 1|3) uint8")
    n = min(shape[0], limit) if limit is not None else shape[0]
    if n == 0:
        raise UserError(f"{path}:{key} holds no images")
    return (n, *shape[1:])  # type: ignore[return-value]


def _labels(npz: np.lib.npyio.NpzFile, x_key: str, n: int, path: Path,
            limit: int | None) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Return (int64 labels per factor, value names per factor) of the images under ``x_key``."""
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
        if values.shape != (n,) or not np.issubdtype(values.dtype, np.integer):
            raise UserError(f"{path}:{key} must hold one integer label per image ({n}), got {values.dtype} of shape {values.shape}")
        names = _names(npz, names_key, path)
        if values.min() < 0 or (names is not None and values.max() >= len(names)):
            allowed = f"0..{len(names) - 1} (one per name in {names_key})" if names is not None else "0 or more"
            raise UserError(f"{path}:{key} holds labels from {values.min()} to {values.max()}; expected {allowed}")
        labels[factor] = values.astype(np.int64)
        label_names[factor] = names or [str(v) for v in range(int(values.max()) + 1)]
    return labels, label_names


def to_nchw(rows: np.ndarray, size: int, channels: int | None) -> torch.Tensor:
    """Return uint8 (B, C, size, size) of (B, H, W, C) rows, fitted as every source is (centre crop, resize, channels)."""
    return fit_images(torch.from_numpy(np.ascontiguousarray(rows.transpose(0, 3, 1, 2))), size, channels)


def load_npz(path: Path, split: str, size: int, channels: int | None, limit: int | None = None) -> ImageData:
    """Read images and labels of ``split`` from an .npz file and fit them to ``size`` and ``channels`` (see :func:`open_npz`)."""
    npz = open_npz(path, split, limit)
    try:
        images = to_nchw(npz.rows(0, len(npz)), size, channels)
    finally:
        npz.close()
    labels = {k: torch.from_numpy(v) for k, v in npz.labels.items()}
    return ImageData(images, labels, npz.label_names, f"{path.name}:{split} ({len(images)} images)")
