"""Image-folder source: recursive, decoded in parallel once into a memory-mapped uint8 cache."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm import tqdm

from dcgan.data import cache
from dcgan.data.base import ImageData
from dcgan.errors import UserError

EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
CHANNEL_PROBE = 64  # files whose mode decides grey vs RGB when --channels is not given
CACHE_VERSION = 1


def list_images(root: Path) -> list[Path]:
    """Return every image file below ``root`` (recursive, sorted, hidden files skipped)."""
    files = [
        p
        for p in root.rglob("*")
        if p.suffix.lower() in EXTENSIONS and not any(part.startswith(".") for part in p.relative_to(root).parts) and p.is_file()
    ]
    return sorted(files)


def infer_channels(files: list[Path]) -> int:
    """Return 1 when the first images are all greyscale, else 3."""
    for path in files[:CHANNEL_PROBE]:
        try:
            with Image.open(path) as img:
                if img.mode not in GREY_MODES:
                    return 3
        except (OSError, UnidentifiedImageError):
            continue
    return 1


def fit_pil(img: Image.Image, size: int, channels: int) -> np.ndarray:
    """Return (C, size, size) uint8 from a PIL image: centre-cropped to square, resized with bicubic filtering."""
    img = ImageOps.exif_transpose(img).convert("L" if channels == 1 else "RGB")
    arr = np.asarray(ImageOps.fit(img, (size, size), method=Image.Resampling.BICUBIC), dtype=np.uint8)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def decode_image(path: Path, size: int, channels: int) -> np.ndarray | None:
    """Return the fitted image at ``path`` (see ``fit_pil``), or None if it cannot be read."""
    try:
        with Image.open(path) as img:
            return fit_pil(img, size, channels)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def class_labels(root: Path, files: list[Path]) -> tuple[np.ndarray, list[str]] | None:
    """Return (labels, class names) when every image sits in a first-level subfolder (ImageFolder layout)."""
    top = [f.relative_to(root).parts for f in files]
    if not top or any(len(parts) < 2 for parts in top):
        return None
    names = sorted({parts[0] for parts in top})
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[parts[0]] for parts in top], dtype=np.int64), names


def load_folder(root: Path, size: int, channels: int | None, limit: int | None = None, workers: int | None = None) -> ImageData:
    """Decode (or reuse the cache of) every image below ``root``; unreadable files are skipped and counted."""
    if not root.is_dir():
        raise UserError(f"image folder not found: {root}")
    files = list_images(root)
    if limit is not None:
        files = files[:limit]
    if not files:
        raise UserError(f"no images in {root}: expected {', '.join(sorted(EXTENSIONS))} files (searched recursively)")
    channels = channels or infer_channels(files)
    listing = [(str(f.relative_to(root)), st.st_size, st.st_mtime_ns) for f in files for st in [f.stat()]]
    key = cache.cache_key("folder", CACHE_VERSION, str(root.resolve()), listing, size, channels)
    array_path = cache.cached_array_path("folders", key)
    meta = cache.read_meta(array_path)
    fresh = meta is None
    if fresh:
        meta = _decode_into_cache(root, files, size, channels, array_path, workers)
    array = cache.open_array(array_path)
    labels, label_names = {}, {}
    found = class_labels(root, files)
    if found is not None:
        kept = np.asarray(meta["kept"], dtype=np.int64)
        labels["label"] = torch.from_numpy(found[0][kept])
        label_names["label"] = found[1]
    skipped = len(files) - len(array)
    return ImageData(
        torch.from_numpy(array),  # memory map: pages load on demand
        labels,
        label_names,
        f"folder {root} ({len(array)} images, {channels} channel{'s' if channels > 1 else ''}; "
        + (f"decoded in {meta['decode_seconds']:.1f} s, {meta['images_per_second']:.0f} images/s, into the cache)" if fresh else "decoded earlier, read from the cache)"),
        skipped,
    )


def _decode_into_cache(root: Path, files: list[Path], size: int, channels: int, array_path: Path, workers: int | None) -> dict:
    """Decode ``files`` with a thread pool (PIL releases the GIL while decoding) into a new cache entry."""
    workers = workers or min(32, (os.cpu_count() or 1) + 2)
    staging, staging_path = cache.new_array(array_path.with_suffix(".staging.npy"), (len(files), channels, size, size))
    ok = np.zeros(len(files), dtype=bool)
    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(workers) as pool, tqdm(total=len(files), desc=f"decoding {root.name}", unit="img", leave=False) as bar:
            def work(i: int) -> None:
                arr = decode_image(files[i], size, channels)
                if arr is not None:
                    staging[i] = arr
                    ok[i] = True

            for _ in pool.map(work, range(len(files)), chunksize=64):
                bar.update()
        kept = np.flatnonzero(ok)
        if len(kept) == 0:
            raise UserError(f"none of the {len(files)} images in {root} could be read (corrupt or not images)")
        final, final_tmp = cache.new_array(array_path, (len(kept), channels, size, size))
        for s in range(0, len(kept), 4096):  # compact the readable images, a chunk at a time
            final[s : s + 4096] = staging[kept[s : s + 4096]]
        seconds = time.perf_counter() - start
        meta = {"kept": kept.tolist(), "count": int(len(kept)), "skipped": int(len(files) - len(kept)),
                "decode_seconds": seconds, "images_per_second": len(files) / max(seconds, 1e-9)}
        cache.publish(final, final_tmp, array_path, meta)
    finally:
        staging_path.unlink(missing_ok=True)
    return meta
