"""Packs: any data SPEC decoded once into a folder the trainer memory-maps (``dcgan data pack SRC OUT``).

A pack folder holds

- ``images.npy``: (N, C, S, S) uint8, read copy-on-write through :func:`dcgan.data.cache.open_array`, so
  ``--data OUT`` trains with no decoding and only the pages a batch touches are ever loaded;
- ``labels.npz``: one int64 array of N labels per factor (absent when the source has no labels);
- ``dataset.json``: what the images are (count, size, channels), the label factors and their value names,
  and provenance: the source, one name per image (file names for folders and LSUN, indices otherwise) and
  every skipped file with the reason. It is written last, so a folder without it is not a pack.

Packing decodes in chunks straight into a preallocated memory map under ``OUT/.pack-partial/``; a chunk is
marked done (``status.npy``) only after its pixels and labels are flushed, so an interrupted pack resumes
where it stopped (run the same command again) and memory never grows with the data set. Image files (a
folder, an LSUN lmdb) are decoded by a pool of processes: decoding small images is mostly Python work,
which threads would serialise on the GIL. Each worker writes its rows into the shared map itself.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from dcgan.data import cache
from dcgan.errors import UserError

FORMAT, VERSION = "dcgan-pack", 1
IMAGES, LABELS, META, PARTIAL = "images.npy", "labels.npz", "dataset.json", ".pack-partial"
PENDING, OK, SKIPPED = 0, 1, 2  # status.npy values, one per source item
DEFAULT_CHUNK = 512  # items per unit of work: the granularity of resume and of the progress bar
COPY_CHUNK = 4096  # images copied at a time when compacting or packing an in-memory source


def is_pack(path: str | Path) -> bool:
    """Return True when ``path`` is a finished pack folder (it has dataset.json and images.npy)."""
    p = Path(path)
    return (p / META).is_file() and (p / IMAGES).is_file()


def read_meta(path: str | Path) -> dict[str, Any]:
    """Return the dataset.json of the pack at ``path``, or raise a UserError saying what is wrong with it."""
    p = Path(path) / META
    try:
        meta = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read {p}: {exc}; pack the data again (dcgan data pack SRC {path} --force)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UserError(f"{p} is not a dcgan pack description (no \"format\": \"{FORMAT}\")")
    if meta.get("version", 0) > VERSION:
        raise UserError(f"{p} was written by a newer dcgan (pack version {meta['version']}); upgrade dcgan to read it")
    return meta


def open_pack(path: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    """Return (the memory-mapped (N, C, S, S) uint8 images, labels per factor, dataset.json) of a pack."""
    p = Path(path)
    meta = read_meta(p)
    try:
        images = cache.open_array(p / IMAGES)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {p / IMAGES}: {exc}; pack the data again with --force") from None
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) != meta.get("count"):
        raise UserError(f"{p / IMAGES} holds {images.dtype} {images.shape}, not the {meta.get('count')} uint8 images {META} "
                        "describes: the pack is damaged; pack the data again with --force")
    labels: dict[str, np.ndarray] = {}
    if meta.get("labels"):
        try:
            with np.load(p / LABELS, allow_pickle=False) as npz:
                labels = {k: npz[k] for k in meta["labels"]}
        except (OSError, ValueError, KeyError) as exc:
            raise UserError(f"cannot read the labels {p / LABELS}: {exc}; pack the data again with --force") from None
    return images, labels, meta


def load_pack(path: str | Path, size: int | None = None, channels: int | None = None, limit: int | None = None):
    """Return the pack at ``path`` as ImageData: a memory map (no decoding, no copy) when ``size``/``channels`` match.

    Another size or channel count is fitted from the packed pixels (one pass, in memory).
    """
    import torch

    from dcgan.data.base import ImageData, fit_images

    images, labels, meta = open_pack(path)
    if limit is not None:
        images = images[:limit]
    tensor = torch.from_numpy(images)
    same = (size is None or size == images.shape[-1]) and (channels is None or channels == images.shape[1])
    if not same:
        tensor = fit_images(tensor, size or images.shape[-1], channels)
    label_tensors = {k: torch.from_numpy(v[: len(tensor)].astype(np.int64)) for k, v in labels.items()}
    how = "memory-mapped, no decoding" if same else f"fitted from {images.shape[-1]}x{images.shape[-1]}x{images.shape[1]}"
    return ImageData(tensor, label_tensors, {k: list(v) for k, v in meta.get("labels", {}).items()},
                     f"pack {path} ({len(tensor)} images, {how})", len(meta.get("skipped", [])))


# ----------------------------------------------------------------------------------------------- sources


@dataclass
class Source:
    """What a pack reads: ``count`` items, a name per item, and a way to put items [a, b) into the partial map."""

    kind: str
    spec: str
    description: str
    count: int
    channels: int
    key: str  # fingerprint of the items and the output shape: a partial pack resumes only for the same key
    names: list[str]
    label_names: dict[str, list[str]] = field(default_factory=dict)
    labels: dict[str, np.ndarray] | None = None  # known before decoding (folders); None: written per chunk
    # (a, b, images memmap) -> (labels of rows a..b or {}, {row: reason} of skipped rows), in this process
    fill: Callable[[int, int, np.ndarray], tuple[dict[str, np.ndarray], dict[int, str]]] | None = None
    # (a, b) -> picklable work for a pool process: (function, args) writing rows a..b itself
    job: Callable[[int, int], tuple[Callable[..., dict[int, str]], tuple]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # more provenance for dataset.json


def decode_file_bytes(data: bytes | Path, size: int, channels: int) -> np.ndarray:
    """Return (C, size, size) uint8 from encoded image bytes or a file: centre crop, bicubic resize (as folders)."""
    import io

    from PIL import Image

    from dcgan.data.folder import fit_pil

    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as img:
        img.load()
        return fit_pil(img, size, channels)


def _decode_into(array_path: str, start: int, items: list, size: int, channels: int) -> dict[int, str]:
    """Decode ``items`` (paths or bytes) into rows start.. of the partial map; return {row: reason} of failures."""
    out = np.load(array_path, mmap_mode="r+")
    failed: dict[int, str] = {}
    for k, item in enumerate(items):
        try:
            out[start + k] = decode_file_bytes(item, size, channels)
        except Exception as exc:  # noqa: BLE001 - any undecodable file is skipped with its reason, never fatal
            failed[start + k] = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"[:300]
    out.flush()
    del out
    return failed


def folder_source(spec: str, root: Path, size: int, channels: int | None, limit: int | None) -> Source:
    """Every image file below ``root`` (recursive; first-level subfolders are class labels)."""
    from dcgan.data.folder import EXTENSIONS, class_labels, infer_channels, list_images

    if not root.is_dir():
        raise UserError(f"image folder not found: {root}")
    files = list_images(root)[:limit]
    if not files:
        raise UserError(f"no images in {root}: expected {', '.join(sorted(EXTENSIONS))} files (searched recursively)")
    channels = channels or infer_channels(files)
    names = [str(f.relative_to(root)) for f in files]
    listing = [(n, st.st_size, st.st_mtime_ns) for n, f in zip(names, files, strict=True) for st in [f.stat()]]
    found = class_labels(root, files)
    labels, label_names = ({"label": found[0]}, {"label": found[1]}) if found else ({}, {})
    paths = [str(f) for f in files]

    def job(a: int, b: int, array_path: str = "") -> tuple[Callable[..., dict[int, str]], tuple]:
        return _decode_into, (array_path, a, [Path(p) for p in paths[a:b]], size, channels)

    return Source("folder", spec, f"folder {root}", len(files), channels, _key("folder", str(root.resolve()), listing, size, channels),
                  names, label_names, labels, job=job, extra={"root": str(root.resolve())})


def lmdb_source(spec: str, path: Path, size: int, channels: int | None, limit: int | None) -> Source:
    """The encoded images of an LSUN-style lmdb database (key -> JPEG/WebP bytes), in key order."""
    try:
        import lmdb
    except ImportError:
        raise UserError("reading an LSUN lmdb needs the optional lmdb package: pip install 'dcgan[lsun]' (or pip install lmdb)") from None
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False, max_readers=64)
    except lmdb.Error as exc:
        raise UserError(f"cannot open the lmdb database {path}: {exc}") from None
    with env.begin() as txn:
        keys = [bytes(k) for k in txn.cursor().iternext(keys=True, values=False)]
    keys = keys[:limit]
    if not keys:
        raise UserError(f"the lmdb database {path} holds no images")
    channels = channels or 3

    def job(a: int, b: int, array_path: str = "") -> tuple[Callable[..., dict[int, str]], tuple]:
        with env.begin() as txn:  # the main process reads the bytes; the pool decodes them
            values = [txn.get(k) or b"" for k in keys[a:b]]
        return _decode_into, (array_path, a, values, size, channels)

    names = [k.decode("utf-8", "backslashreplace") for k in keys]
    return Source("lmdb", spec, f"lmdb {path}", len(keys), channels,
                  _key("lmdb", str(path.resolve()), len(keys), names[0], names[-1], (path / "data.mdb").stat().st_size, size, channels),
                  names, {}, {}, job=job, extra={"root": str(path.resolve())})


def rooms_source(spec: str, size: int, channels: int | None, limit: int | None) -> Source:
    """Procedural rooms, rendered chunk by chunk (any number, never all in memory), with their factor labels."""
    from dcgan.data import split_spec
    from dcgan.data.base import convert_channels
    from dcgan.data.rooms import FACTORS, default_count, parse_rooms_spec, render_rooms, split_indices

    source, split = split_spec(spec)
    opts = parse_rooms_spec(source)
    count = limit or default_count(size)
    first = int(split_indices(split, opts["start"], 1)[0])
    channels = channels or 3

    def fill(a: int, b: int, out: np.ndarray) -> tuple[dict[str, np.ndarray], dict[int, str]]:
        batch = render_rooms(range(first + a, first + b), size, opts["seed"])
        out[a:b] = convert_channels(batch.images, channels).numpy()
        return {k: v.numpy() for k, v in batch.labels.items()}, {}

    return Source("rooms", spec, f"rooms (seed {opts['seed']}, {split}, from index {first})", count, channels,
                  _key("rooms", opts["seed"], first, count, size, channels), [f"rooms:{opts['seed']}:{first + i}" for i in range(count)],
                  {k: list(v) for k, v in FACTORS.items()}, None, fill=fill, extra={"seed": opts["seed"], "first_index": first})


def npz_source(spec: str, path: Path, split: str, size: int, channels: int | None, limit: int | None) -> Source:
    """The images of an .npz file, streamed from the archive a chunk at a time (never the whole array in memory)."""
    from dcgan.data.arrays import open_npz, to_nchw

    npz = open_npz(path, split, limit)
    channels = channels or npz.shape[-1]

    def fill(a: int, b: int, out: np.ndarray) -> tuple[dict[str, np.ndarray], dict[int, str]]:
        out[a:b] = to_nchw(npz.rows(a, b), size, channels).numpy()
        return {}, {}

    stat = path.stat()
    return Source("npz", spec, f"{path.name}:{split} ({len(npz)} images)", len(npz), channels,
                  _key("npz", str(path.resolve()), split, stat.st_size, stat.st_mtime_ns, len(npz), size, channels),
                  [f"{spec}#{i}" for i in range(len(npz))], npz.label_names, npz.labels, fill=fill,
                  extra={"file": str(path.resolve())})


def loaded_source(spec: str, data: Any, names: list[str] | None = None, kind: str = "loaded", extra: dict[str, Any] | None = None,
                  index: np.ndarray | None = None) -> Source:
    """An already-open ImageData (an .npz file, a torchvision set, a pack, fake), copied chunk by chunk.

    ``index`` packs only those images, in that order (dedup's one per group), gathered a chunk at a time.
    """
    import torch

    images = data.images
    rows = np.arange(len(data)) if index is None else np.asarray(index, dtype=np.int64)

    def fill(a: int, b: int, out: np.ndarray) -> tuple[dict[str, np.ndarray], dict[int, str]]:
        sel = slice(a, b) if index is None else torch.from_numpy(rows[a:b])
        out[a:b] = images[sel].numpy()
        return {k: v[sel].numpy() for k, v in data.labels.items()}, {}

    n = len(rows)
    digest = hashlib.sha256(rows.tobytes()).hexdigest()[:16]
    return Source(kind, spec, data.description, n, data.channels, _key(kind, spec, n, tuple(images.shape[1:]), digest),
                  names or [f"{spec}#{i}" for i in rows.tolist()], dict(data.label_names), None, fill=fill, extra=extra or {})


def open_source(spec: str, size: int, channels: int | None, data_root: str | None = None, limit: int | None = None) -> Source:
    """Return the Source a SPEC names (see ``dcgan.data``): folders and lmdb decode in parallel, rooms render and .npz
    files stream in chunks; torchvision sets and packs (small, or already memory-mapped) are opened whole."""
    from dcgan.config import DataConfig
    from dcgan.data import load_data, split_spec
    from dcgan.data.named import ALIASES, _extracted, default_data_root, is_named

    base, split = split_spec(spec)
    path = Path(base).expanduser()
    if path.is_dir() and (path / "data.mdb").is_file():
        return lmdb_source(spec, path, size, channels, limit)
    if path.is_dir() and not (path / META).is_file():
        return folder_source(spec, path, size, channels, limit)
    if path.is_file() and path.suffix.lower() == ".npz":
        return npz_source(spec, path, split, size, channels, limit)
    if base == "rooms" or base.startswith("rooms:"):
        return rooms_source(spec, size, channels, limit)
    if is_named(base) and not path.exists():
        root = Path(data_root).expanduser() if data_root else default_data_root()
        name, _, category = base.partition(":")
        name = name.lower()
        if name == "lsun" and category:
            db = root / f"{category}_{'val' if split == 'val' else split}_lmdb"
            if db.is_dir():
                return lmdb_source(spec, db, size, channels, limit)
        for alias in ALIASES.get(name, (name,)):  # image-folder trees (or their archives) keep their file names
            if (root / f"{alias}.npz").is_file():
                return npz_source(spec, root / f"{alias}.npz", split, size, channels, limit)
            if (root / alias / split).is_dir():
                return folder_source(spec, root / alias / split, size, channels, limit)
            for archive in sorted(root.glob(f"{alias}*.tar*")):
                return folder_source(spec, _extracted(archive) / split, size, channels, limit)
    data = load_data(DataConfig(spec=spec, data_root=data_root, image_size=size, channels=channels, num_images=limit))
    names = None
    if is_pack(path):
        names = read_meta(path).get("files")
        names = names[: len(data)] if names else None
    return loaded_source(spec, data, names, "pack" if is_pack(path) else "loaded")


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


# ----------------------------------------------------------------------------------------------- packing


@dataclass
class PackResult:
    """What :func:`pack` wrote: the pack folder, its size and provenance, and how long decoding took."""

    out: Path
    count: int
    image_size: int
    channels: int
    skipped: list[dict[str, str]]
    seconds: float
    resumed_items: int  # items already done by an interrupted earlier run
    decoded_items: int  # items decoded by this run
    description: str

    @property
    def images_per_second(self) -> float:
        return self.decoded_items / max(self.seconds, 1e-9)

    def lines(self) -> list[str]:
        """Return what the command prints."""
        lines = [f"packed: {self.count} images {self.image_size}x{self.image_size}x{self.channels} from {self.description} "
                 f"in {self.seconds:.1f} s ({self.images_per_second:.0f} images/s)"]
        if self.resumed_items:
            lines.append(f"resumed: {self.resumed_items} images were already packed by an interrupted run")
        if self.skipped:
            first = self.skipped[0]
            lines.append(f"skipped: {len(self.skipped)} unreadable (first: {first['file']}: {first['reason']}); all listed in {META}")
        return lines


def refuse_existing(out: Path) -> None:
    """Raise a UserError when writing a pack to ``out`` without --force would overwrite something."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder: choose another OUT")
    if (out / META).exists():
        raise UserError(f"{out} already holds a pack: pass --force to overwrite it, or choose another OUT")
    if out.is_dir() and not (out / PARTIAL).is_dir() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not empty: choose a new folder for the pack (or pass --force to write the pack files into it)")


def prepare_out(out: Path, key: str, force: bool) -> bool:
    """Make ``out`` ready for a pack of ``key``; return True when a matching interrupted pack is there to resume.

    Without ``force`` it refuses (writing nothing) a finished pack, a folder holding other files and an
    interrupted pack of another source: a pack never silently overwrites anything.
    """
    if force:
        if out.exists() and not out.is_dir():
            raise UserError(f"{out} exists and is not a folder: choose another OUT")
        for name in (META, IMAGES, LABELS):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / PARTIAL, ignore_errors=True)
        return False
    refuse_existing(out)
    plan = out / PARTIAL / "plan.json"
    if not plan.is_file():
        return False
    try:
        same = json.loads(plan.read_text()).get("key") == key
    except (OSError, json.JSONDecodeError):
        same = False
    if not same:
        raise UserError(f"{out} holds an interrupted pack of another source or size: pass --force to start over, or choose another OUT")
    return True


def pack(settings: Any = None, **options: Any) -> PackResult:
    """Pack a SPEC into a folder the trainer memory-maps; return what was written (see the module docstring)."""
    from dcgan.settings.data import PackSettings

    s = PackSettings.build(settings, **options)
    source = open_source(s.src, s.image_size, s.channels, s.data_root, s.num_images)
    return write_pack(source, Path(s.out), s.image_size, force=s.force, workers=s.workers, chunk=s.chunk)


def write_pack(source: Source, out: Path, size: int, force: bool = False, workers: int | None = None, chunk: int = DEFAULT_CHUNK,
               keep: np.ndarray | None = None, extra: dict[str, Any] | None = None, progress: bool = True) -> PackResult:
    """Decode ``source`` into the pack folder ``out`` (resuming a matching interrupted pack); ``keep`` drops items."""
    from dcgan.report import make_folder

    resume = prepare_out(out, source.key, force)
    partial = make_folder(out / PARTIAL)
    n, c = source.count, source.channels
    images_path, status_path = partial / IMAGES, partial / "status.npy"
    if resume:
        status = np.load(status_path, mmap_mode="r+")
    else:
        np.lib.format.open_memmap(images_path, mode="w+", dtype=np.uint8, shape=(n, c, size, size)).flush()
        status = np.lib.format.open_memmap(status_path, mode="w+", dtype=np.uint8, shape=(n,))
        label_maps = {f: np.lib.format.open_memmap(partial / f"labels-{f}.npy", mode="w+", dtype=np.int64, shape=(n,))
                      for f in source.label_names}
        del label_maps
        (partial / "plan.json").write_text(json.dumps({"key": source.key, "count": n, "shape": [n, c, size, size],
                                                       "spec": source.spec}))
    labels = {f: np.load(partial / f"labels-{f}.npy", mmap_mode="r+") for f in source.label_names}
    reasons_path = partial / "skipped.jsonl"
    already = int(np.count_nonzero(status))
    todo = [(a, min(a + chunk, n)) for a in range(0, n, chunk) if not status[a : min(a + chunk, n)].all()]
    start = time.perf_counter()

    def commit(a: int, b: int, chunk_labels: dict[str, np.ndarray], failed: dict[int, str]) -> None:
        # order matters for resume: pixels and labels reach the disk before the chunk is marked done
        for f, values in (source.labels or chunk_labels).items():
            if f in labels:
                labels[f][a:b] = values[a:b] if source.labels is not None else values
                labels[f].flush()
        if failed:
            with reasons_path.open("a") as fh:
                for row, reason in failed.items():
                    fh.write(json.dumps({"row": row, "reason": reason}) + "\n")
        done = np.full(b - a, OK, dtype=np.uint8)
        for row in failed:
            done[row - a] = SKIPPED
        status[a:b] = done
        status.flush()

    from tqdm import tqdm

    bar = tqdm(total=n, initial=already, desc=f"packing {Path(source.spec).name or source.spec}", unit="img",
               disable=not progress, leave=False)
    try:
        if source.job is None:
            for a, b in todo:
                # a fresh mapping per chunk, dropped after it: pages written stay out of this process's memory
                images = np.load(images_path, mmap_mode="r+")
                chunk_labels, failed = source.fill(a, b, images)
                images.flush()
                del images
                commit(a, b, chunk_labels, failed)
                bar.update(b - a)
        else:
            _run_pool(source, todo, str(images_path), workers, commit, bar)
    except KeyboardInterrupt:
        bar.close()
        print(f"pack interrupted: {int(np.count_nonzero(status))} of {n} images are safe in {partial}; run the same command again to resume")
        raise
    bar.close()
    seconds = time.perf_counter() - start
    return _finish(source, out, partial, status, labels, keep, extra, seconds, already)


def _run_pool(source: Source, todo: list[tuple[int, int]], array_path: str, workers: int | None,
              commit: Callable[..., None], bar: Any) -> None:
    """Decode the chunks in ``todo`` in a process pool (at most 2 chunks queued per worker), committing each as it ends."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    if workers == 1:  # no pool to start: decode here
        for a, b in todo:
            fn, args = source.job(a, b, array_path)
            commit(a, b, {}, fn(*args))
            bar.update(b - a)
        return
    # fork on Linux: a worker starts in milliseconds, where a spawned one re-imports torch (seconds each). The
    # workers run only PIL and numpy, never torch, so the thread pools a forked child inherits stay unused.
    context = get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: dict[Future, tuple[int, int]] = {}
        queue: Iterator[tuple[int, int]] = iter(todo)
        try:
            for a, b in queue:
                fn, args = source.job(a, b, array_path)
                pending[pool.submit(fn, *args)] = (a, b)
                if len(pending) >= 2 * workers:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        a2, b2 = pending.pop(fut)
                        commit(a2, b2, {}, fut.result())
                        bar.update(b2 - a2)
            for fut in list(pending):
                a2, b2 = pending.pop(fut)
                commit(a2, b2, {}, fut.result())
                bar.update(b2 - a2)
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


def _finish(source: Source, out: Path, partial: Path, status: np.ndarray, labels: dict[str, np.ndarray],
            keep: np.ndarray | None, extra: dict[str, Any] | None, seconds: float, already: int) -> PackResult:
    """Compact the decoded items into images.npy and labels.npz, write dataset.json (last), remove the partial folder."""
    reasons: dict[int, str] = {}
    reasons_path = partial / "skipped.jsonl"
    if reasons_path.is_file():
        for line in reasons_path.read_text().splitlines():
            rec = json.loads(line)
            reasons[int(rec["row"])] = rec["reason"]
    ok = status[:] == OK
    if keep is not None:
        ok &= keep
    kept = np.flatnonzero(ok)
    if len(kept) == 0:
        shutil.rmtree(partial, ignore_errors=True)
        if not any(out.iterdir()):
            out.rmdir()  # nothing usable: leave nothing behind
        raise UserError(f"none of the {source.count} items of {source.description} could be read: nothing to pack "
                        f"(first reason: {next(iter(reasons.values()), 'none')})")
    final = out / IMAGES
    if len(kept) == source.count:  # nothing to drop: the partial map becomes the pack (renaming a mapped file is safe)
        if (partial / IMAGES).exists() or not final.exists():  # else an interrupted finish already moved it
            os.replace(partial / IMAGES, final)
    else:
        shape = np.load(partial / IMAGES, mmap_mode="r").shape
        np.lib.format.open_memmap(partial / "compact.npy", mode="w+", dtype=np.uint8, shape=(len(kept), *shape[1:])).flush()
        for s in range(0, len(kept), COPY_CHUNK):  # fresh mappings per chunk, as while decoding
            images, target = np.load(partial / IMAGES, mmap_mode="r"), np.load(partial / "compact.npy", mmap_mode="r+")
            target[s : s + COPY_CHUNK] = images[kept[s : s + COPY_CHUNK]]
            target.flush()
            del images, target
        os.replace(partial / "compact.npy", final)
    if labels:
        np.savez(out / LABELS, **{f: np.asarray(v[kept]) for f, v in labels.items()})
    counts = {f: np.bincount(np.asarray(labels[f][kept]), minlength=len(names)).tolist() for f, names in source.label_names.items()}
    skipped = [{"file": source.names[row], "reason": reasons.get(row, "unreadable")} for row in np.flatnonzero(status[:] == SKIPPED)]
    from dcgan import __version__

    shape = list(np.load(final, mmap_mode="r").shape)
    meta = {"format": FORMAT, "version": VERSION, "count": len(kept), "image_size": shape[-1], "channels": shape[1], "shape": shape,
            "images": IMAGES, "labels_file": LABELS if labels else None, "labels": source.label_names, "label_counts": counts,
            "source": {"spec": source.spec, "kind": source.kind, "description": source.description, "items": source.count, **source.extra},
            "skipped": skipped, **(extra or {}), "files": [source.names[i] for i in kept],
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "dcgan_version": __version__,
            "decode_seconds": round(seconds, 3)}
    tmp = out / f".{META}.tmp"
    # one line per key: readable at a glance, and a million file names stay one (long) line
    tmp.write_text("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in meta.items()) + "\n}\n")
    os.replace(tmp, out / META)
    shutil.rmtree(partial, ignore_errors=True)
    return PackResult(out, len(kept), shape[-1], shape[1], skipped, seconds, already, source.count - already, source.description)
