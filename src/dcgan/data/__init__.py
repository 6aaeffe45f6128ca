"""Data sources -> ``ImageData`` (uint8 images + labels), chosen by a SPEC string.

SPEC is a folder of images, an ``.npz`` file, a torchvision dataset name (``mnist``, ``fashion-mnist``,
``cifar10``, ``svhn``, ``celeba``, ``lsun:<category>``), ``rooms`` (procedural scenes), ``fake``, or a pack folder (``dcgan data pack``; memory-mapped, no decoding).
Append ``:test`` (or ``:train``, ``:val``, ``:extra``) to pick a split; the default is ``train``.
"""

from __future__ import annotations

from pathlib import Path

from dcgan.config import DataConfig
from dcgan.data.arrays import load_npz
from dcgan.data.base import ImageData, fit_images, to_uint8, to_unit_range
from dcgan.data.batches import BatchSampler
from dcgan.data.fake import load_fake
from dcgan.data.folder import load_folder
from dcgan.data.named import default_data_root, is_named, load_named
from dcgan.errors import UserError

SPLITS = ("train", "test", "val", "valid", "extra")

__all__ = ["BatchSampler", "ImageData", "fit_images", "load_data", "split_spec", "to_uint8", "to_unit_range"]


def split_spec(spec: str) -> tuple[str, str]:
    """Return (source, split) from 'SOURCE[:SPLIT]'."""
    base, sep, last = spec.rpartition(":")
    if sep and last in SPLITS and base:
        return base, last
    return spec, "train"


def load_data(cfg: DataConfig, seed: int = 0) -> ImageData:
    """Load the images ``cfg`` describes, decoded once to uint8 at ``cfg.image_size``."""
    source, split = split_spec(cfg.spec)
    size, channels, limit = cfg.image_size, cfg.channels, cfg.num_images
    if source == "fake":
        return load_fake(size, channels, limit, seed)
    if source == "rooms" or source.startswith("rooms:"):
        from dcgan.data.rooms import load_rooms

        return load_rooms(source, split, size, channels, limit)
    path = Path(source).expanduser()
    if path.suffix.lower() == ".npz":
        return load_npz(path, split, size, channels, limit)
    if path.is_dir() and (path / "dataset.json").is_file():  # a pack (dcgan data pack): memory-mapped, no decoding
        from dcgan.data.pack import load_pack

        return load_pack(path, size, channels, limit)
    if path.is_dir():
        return load_folder(path, size, channels, limit)
    if is_named(source) and not path.exists():
        root = Path(cfg.data_root).expanduser() if cfg.data_root else default_data_root()
        return load_named(source, split, root, size, channels, cfg.download, limit)
    if path.exists():
        raise UserError(f"cannot use {path} as data: give a folder of images or an .npz file")
    raise UserError(
        f"no data at {source!r}: give an image folder, an .npz file, rooms, fake, or one of "
        "mnist, fashion-mnist, cifar10, svhn, celeba, lsun:<category>"
    )
