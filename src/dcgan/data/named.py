"""Named datasets (mnist, fashion-mnist, cifar10, svhn, celeba, lsun:<category>) read from a data root.

Looked up in this order, so that offline copies win: ``<root>/<name>.npz``; an image-folder tree
``<root>/<name>/<split>/``; an archive ``<root>/<name>*.tar*`` holding such a tree (extracted once into
the cache); then torchvision's own file layout under ``<root>``, downloading only with ``--download``.

MNIST and Fashion-MNIST are also read straight from the ``*-idx?-ubyte.gz`` files their sites ship, in
torchvision's layout (``<root>/MNIST/raw/train-images-idx3-ubyte.gz``; ``FashionMNIST`` for Fashion-MNIST):
torchvision reads only the uncompressed files and extracts the archives only inside ``download=True``,
which checks the archives' checksums and goes to the network when they differ.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import torch

from dcgan.data import cache
from dcgan.data.arrays import load_npz
from dcgan.data.base import ImageData, fit_images
from dcgan.data.folder import fit_pil, load_folder
from dcgan.errors import UserError

ALIASES = {"fashion-mnist": ("fashion-mnist", "fashion_mnist", "fashionmnist")}
NAMES = ("mnist", "fashion-mnist", "cifar10", "svhn", "celeba", "lsun")


def default_data_root() -> Path:
    """Return $DCGAN_DATA_ROOT, else ./data."""
    return Path(os.environ.get("DCGAN_DATA_ROOT", "data"))


def is_named(spec: str) -> bool:
    """Return True when ``spec`` names a dataset rather than a path."""
    return spec.split(":")[0].lower() in NAMES


def load_named(spec: str, split: str, root: Path, size: int, channels: int | None, download: bool, limit: int | None) -> ImageData:
    """Load a named dataset from ``root`` (see the module docstring for the lookup order)."""
    name, _, category = spec.partition(":")
    name = name.lower()
    for alias in ALIASES.get(name, (name,)):
        if (root / f"{alias}.npz").is_file():
            return load_npz(root / f"{alias}.npz", split, size, channels, limit)
        if (root / alias / split).is_dir():
            return load_folder(root / alias / split, size, channels, limit)
        for archive in sorted(root.glob(f"{alias}*.tar*")):
            return load_folder(_extracted(archive) / split, size, channels, limit)
    loader = {"mnist": _mnist, "fashion-mnist": _mnist, "cifar10": _cifar10, "svhn": _svhn, "celeba": _celeba, "lsun": _lsun}[name]
    try:
        images, labels, names = loader(name, category, split, root, download, size, channels)
    except UserError:
        raise
    except (RuntimeError, OSError, ValueError) as exc:
        hint = "the download failed (is there a network?)" if download else "pass --download to fetch it (needs a network)"
        raise UserError(
            f"{name} not found under {root} ({str(exc).splitlines()[0]}): put {name}.npz or the torchvision files there "
            f"(or set --data-root / $DCGAN_DATA_ROOT), or {hint}"
        ) from None
    if limit is not None:
        images = images[:limit]
        labels = {k: v[:limit] for k, v in labels.items()}
    images = fit_images(images, size, channels)
    return ImageData(images, labels, names, f"{spec}:{split} from {root} ({len(images)} images)")


def _extracted(archive: Path) -> Path:
    """Extract ``archive`` once into the cache and return the folder."""
    st = archive.stat()
    dest = cache.cache_dir() / "extracted" / cache.cache_key(str(archive.resolve()), st.st_size, st.st_mtime_ns)
    if not (dest / ".complete").is_file():
        tmp = dest.with_name(dest.name + f".tmp-{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        print(f"extracting {archive} into {dest} (once)")
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise UserError(f"cannot extract {archive}: {exc}") from None
        (tmp / ".complete").touch()
        if dest.exists():  # a concurrent extraction finished first
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    return dest


Loaded = tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, list[str]]]


def _tv():
    import torchvision.datasets as tvd

    return tvd


IDX_UBYTE = 0x08  # the idx format's type code of unsigned bytes


def read_idx_gz(path: Path, ndim: int) -> np.ndarray:
    """Return the uint8 array of a gzip-compressed idx file (big-endian header: 0, 0, type, ndim, then the dims)."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise UserError(f"cannot read {path}: {exc}; fetch the file again") from None
    if len(raw) < 4 or raw[0] or raw[1] or raw[2] != IDX_UBYTE or raw[3] != ndim:
        raise UserError(f"{path} is not an idx file of {ndim}-dimensional unsigned bytes (header {raw[:4].hex()})")
    shape = tuple(int(n) for n in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise UserError(f"{path} holds {data.size} bytes of data where its header {shape} says {int(np.prod(shape))}: truncated?")
    return data.reshape(shape)


def _mnist(name: str, _category: str, split: str, root: Path, download: bool, size: int, channels: int | None) -> Loaded:
    cls = _tv().MNIST if name == "mnist" else _tv().FashionMNIST
    train = split == "train"
    prefix = "train" if train else "t10k"
    archives = [root / cls.__name__ / "raw" / f"{prefix}-{kind}-ubyte.gz" for kind in ("images-idx3", "labels-idx1")]
    try:
        ds = cls(str(root), train=train)  # torchvision's uncompressed raw files (or its legacy processed ones)
    except RuntimeError:
        if all(p.is_file() for p in archives):
            images, labels = read_idx_gz(archives[0], 3), read_idx_gz(archives[1], 1)
            if len(images) != len(labels):
                raise UserError(f"{archives[0]} holds {len(images)} images but {archives[1]} {len(labels)} labels") from None
            return torch.from_numpy(images.copy()).unsqueeze(1), {"label": torch.from_numpy(labels.astype(np.int64))}, {"label": list(cls.classes)}
        if not download:
            raise
        ds = cls(str(root), train=train, download=True)
    return ds.data.unsqueeze(1), {"label": ds.targets.long()}, {"label": list(ds.classes)}


def _cifar10(_name: str, _category: str, split: str, root: Path, download: bool, size: int, channels: int | None) -> Loaded:
    ds = _tv().CIFAR10(str(root), train=split == "train", download=download)
    images = torch.from_numpy(np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)))
    return images, {"label": torch.tensor(ds.targets)}, {"label": list(ds.classes)}


def _svhn(_name: str, _category: str, split: str, root: Path, download: bool, size: int, channels: int | None) -> Loaded:
    ds = _tv().SVHN(str(root), split=split, download=download)
    return torch.from_numpy(ds.data), {"label": torch.from_numpy(ds.labels.astype(np.int64))}, {"label": [str(i) for i in range(10)]}


def _decode_all(ds, what: str, size: int, channels: int | None) -> torch.Tensor:
    """Decode a PIL-returning torchvision dataset once into a cached, fitted uint8 memory map."""
    from tqdm import tqdm

    channels = channels or 3
    array_path = cache.cached_array_path("named", cache.cache_key(what, str(getattr(ds, "root", "")), len(ds), size, channels))
    if cache.read_meta(array_path) is None:
        out, tmp = cache.new_array(array_path, (len(ds), channels, size, size))
        for i in tqdm(range(len(ds)), desc=f"decoding {what}", unit="img"):
            out[i] = fit_pil(ds[i][0], size, channels)
        cache.publish(out, tmp, array_path, {"count": len(ds)})
    return torch.from_numpy(cache.open_array(array_path))


def _celeba(_name: str, _category: str, split: str, root: Path, download: bool, size: int, channels: int | None) -> Loaded:
    ds = _tv().CelebA(str(root), split={"val": "valid"}.get(split, split), target_type="attr", download=download)
    attrs = {name: ds.attr[:, i].long() for i, name in enumerate(ds.attr_names) if name}
    return _decode_all(ds, f"celeba-{split}", size, channels), attrs, {name: ["no", "yes"] for name in attrs}


def _lsun(_name: str, category: str, split: str, root: Path, download: bool, size: int, channels: int | None) -> Loaded:
    if not category:
        raise UserError("name an LSUN category, e.g. --data lsun:bedroom")
    if download:
        raise UserError("torchvision cannot download LSUN; fetch it with the LSUN tools into --data-root")
    try:
        import lmdb  # noqa: F401
    except ImportError:
        raise UserError("LSUN needs the lmdb package: pip install lmdb") from None
    split = {"train": "train", "val": "val", "test": "test"}.get(split, split)
    ds = _tv().LSUN(str(root), classes=[f"{category}_{split}"])
    return _decode_all(ds, f"lsun-{category}-{split}", size, channels), {}, {}
