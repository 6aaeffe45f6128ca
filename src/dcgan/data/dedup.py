"""Near-duplicate images found the paper's way: a semantic hash from a denoising autoencoder, then hash buckets.

The paper (section 3, LSUN bedrooms) removed about 275,000 near-duplicates with "a 3072-128-3072
de-noising dropout regularized RELU autoencoder on 32x32 downsampled center-crops of training examples",
binarising the code layer by thresholding the ReLU activations, so that hash buckets give linear-time
de-duplication. Here:

1. every image becomes its 32x32 centre crop (grey is repeated to RGB): 3072 inputs in [0, 1], each
   crop standardised to zero mean and unit contrast (``--normalize``, our addition: it makes the hash
   blind to brightness changes and measured better on both test sets), minus the mean of the training subset;
2. the autoencoder 3072-BITS-3072 (ReLU code, linear decoder) trains on a seeded subset of at most
   ``--train-images`` images of the data itself: inputs corrupted by Gaussian noise (``--noise``) and
   optionally moved by a few pixels (``--shift``), dropout on the code (``--dropout``), mean squared
   error against the clean input, Adam;
3. bit k of an image's hash is 1 when ReLU unit k is above its threshold: its median over the training
   subset (``--binarize median``: balanced bits keep buckets small) or 0 (``--binarize zero``: active);
4. near-duplicates are hashes at most ``--threshold`` bits apart. The bits are cut into threshold + 1
   bands; two hashes that close agree exactly on at least one band (pigeonhole), so only images sharing
   a band's bucket are ever compared: no all-pairs step, and the comparisons grow with the number of
   images, not its square (``comparisons`` in results.json says how many were made);
5. groups are the connected components of the near pairs; the first image of a group (in source order)
   is the one ``--write-clean`` keeps.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dcgan.data.base import ImageData, fit_images
from dcgan.errors import UserError
from dcgan.report import Result

HASH_SIZE = 32  # the paper's 32x32 centre crops: 3 x 32 x 32 = 3072 inputs
ENCODE_CHUNK = 4096  # images hashed at a time (bounds memory on any data set size)
PAIR_CHUNK = 1 << 20  # candidate pairs whose distances are computed at a time
KEY_CHUNK = 1 << 16  # hashes unpacked at a time to make a band's bucket keys
POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


class SemanticHashNet(nn.Module):
    """The autoencoder 3072-bits-3072: a ReLU code layer and a linear decoder, dropout on the code while training."""

    def __init__(self, inputs: int, bits: int, dropout: float) -> None:
        super().__init__()
        self.encoder = nn.Linear(inputs, bits)
        self.decoder = nn.Linear(bits, inputs)
        self.dropout = nn.Dropout(dropout)

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """Return the (B, bits) ReLU code of (B, 3072) inputs."""
        return torch.relu(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.dropout(self.code(x)))


@dataclass
class SemanticHash:
    """A trained hash: the net, the mean image subtracted from inputs, and each unit's binarising threshold."""

    net: SemanticHashNet
    mean: torch.Tensor  # (3072,)
    thresholds: torch.Tensor  # (bits,)
    info: dict[str, Any]
    normalize: bool = False

    @property
    def bits(self) -> int:
        return len(self.thresholds)

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """Return (B, 3072) float inputs of (B, C, H, W) uint8 images: 32x32 centre crops in [0, 1] minus the mean."""
        return prepare(hash_pixels(images).flatten(1).to(self.mean.device), self.normalize) - self.mean

    @torch.no_grad()
    def encode(self, images: torch.Tensor, progress: bool = True) -> np.ndarray:
        """Return (N, ceil(bits / 8)) uint8 packed hashes of (N, C, H, W) uint8 images, a chunk at a time."""
        from tqdm import tqdm

        self.net.eval()
        out = np.empty((len(images), (self.bits + 7) // 8), dtype=np.uint8)
        for s in tqdm(range(0, len(images), ENCODE_CHUNK), desc="hashing", unit="chunk", disable=not progress, leave=False):
            code = self.net.code(self.inputs(images[s : s + ENCODE_CHUNK]))
            out[s : s + ENCODE_CHUNK] = np.packbits((code > self.thresholds).cpu().numpy(), axis=1)
        return out


def hash_pixels(images: torch.Tensor) -> torch.Tensor:
    """Return (B, 3, 32, 32) uint8: the centre crop the hash sees (grey repeated to RGB)."""
    return fit_images(images, HASH_SIZE, 3)


def prepare(pixels: torch.Tensor, normalize: bool) -> torch.Tensor:
    """Return (B, 3072) floats of (B, 3072) uint8 crops: in [0, 1], or with ``normalize`` each image's own zero mean, unit std.

    Per-image normalisation makes the hash blind to brightness and contrast changes by construction.
    """
    x = pixels.float().div_(255)
    if normalize:
        x = (x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 0.02)  # +0.02: flat images stay flat, not noise
    return x


def shifted(batch: torch.Tensor, limit: int, gen: torch.Generator) -> torch.Tensor:
    """Return (B, 3, 32, 32) uint8 crops moved by one random offset of up to ``limit`` pixels (edges replicated)."""
    if limit <= 0:
        return batch
    dx, dy = (int(v) for v in torch.randint(-limit, limit + 1, (2,), generator=gen))
    pad = torch.nn.functional.pad(batch.float(), (limit,) * 4, mode="replicate")
    return pad[..., limit + dy : limit + dy + HASH_SIZE, limit + dx : limit + dx + HASH_SIZE].to(torch.uint8)


def train_hash(images: torch.Tensor, settings: Any, device: torch.device | None = None, progress: bool = True) -> SemanticHash:
    """Train the denoising autoencoder on a seeded subset of ``images``; return the hash (thresholds included)."""
    from tqdm import tqdm

    s = settings
    device = device or torch.device("cpu")
    gen = torch.Generator().manual_seed(s.seed)
    n = len(images)
    pick = torch.randperm(n, generator=gen)[: min(n, s.train_images)].sort().values
    # the subset is held as 32x32 uint8 (3 KB per image), never as floats
    subset = torch.cat([hash_pixels(images[pick[i : i + ENCODE_CHUNK]]) for i in range(0, len(pick), ENCODE_CHUNK)])
    subset = subset.to(device)
    flat = subset.flatten(1)
    mean = torch.cat([prepare(flat[i : i + ENCODE_CHUNK], s.normalize) for i in range(0, len(flat), ENCODE_CHUNK)]).mean(0)
    torch.manual_seed(s.seed)
    net = SemanticHashNet(flat.shape[1], s.bits, s.dropout).to(device)
    opt = torch.optim.Adam(net.parameters(), s.lr)
    noise_gen = torch.Generator(device=device).manual_seed(s.seed + 1)
    losses = []
    start = time.perf_counter()
    for _epoch in tqdm(range(s.epochs), desc="training the hash", unit="epoch", disable=not progress, leave=False):
        net.train()
        order = torch.randperm(len(subset), generator=gen).to(device)
        total, seen = 0.0, 0
        for b in range(0, len(subset), s.batch_size):
            batch = subset[order[b : b + s.batch_size]]
            x = prepare(batch.flatten(1), s.normalize) - mean
            # denoising: reconstruct x from a corrupted x (moved by a few pixels, plus Gaussian noise)
            moved = prepare(shifted(batch, s.shift, gen).flatten(1), s.normalize) - mean
            noisy = moved + s.noise * torch.randn(x.shape, generator=noise_gen, device=device)
            loss = torch.mean((net(noisy) - x) ** 2)
            net.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(x)
            seen += len(x)
        losses.append(total / max(seen, 1))
    net.eval()
    with torch.no_grad():
        codes = torch.cat([net.code(prepare(flat[i : i + ENCODE_CHUNK], s.normalize) - mean) for i in range(0, len(flat), ENCODE_CHUNK)])
    thresholds = codes.median(0).values if s.binarize == "median" else torch.zeros(s.bits, device=device)
    bits = codes > thresholds
    share = bits.float().mean(0)
    info = {"train_images": len(subset), "epochs": s.epochs, "train_seconds": round(time.perf_counter() - start, 3),
            "loss_per_epoch": [round(v, 6) for v in losses], "mean_pixel_variance": round(float(flat.float().div(255).var(0).mean()), 6),
            "bits_used": int(((share > 0) & (share < 1)).sum()), "dead_units": int((codes.max(0).values <= 0).sum()),
            "mean_bit_share": round(float(share.mean()), 4)}
    return SemanticHash(net, mean, thresholds, info, s.normalize)


def hamming(packed: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Return the Hamming distances between the packed hashes of rows ``i`` and ``j`` (elementwise)."""
    return POPCOUNT[packed[i] ^ packed[j]].sum(1, dtype=np.int64) if len(i) else np.zeros(0, dtype=np.int64)


def bands(bits: int, threshold: int) -> list[np.ndarray]:
    """Return threshold + 1 contiguous bit ranges: hashes within ``threshold`` bits agree on at least one of them."""
    return [b for b in np.array_split(np.arange(bits), threshold + 1) if len(b)]


def _band_keys(packed: np.ndarray, bits: int, band: np.ndarray) -> np.ndarray:
    """Return one int64 bucket key per image for the bits ``band`` (exact up to 64 bits, else a hash of them).

    The hashes are unpacked a chunk of images at a time: one byte per bit for all of them would be 128 MB per
    million images.
    """
    keys = np.empty(len(packed), dtype=np.int64)
    for s in range(0, len(packed), KEY_CHUNK):
        raw = np.packbits(np.unpackbits(packed[s : s + KEY_CHUNK], axis=1, count=bits)[:, band], axis=1)
        pad = (-raw.shape[1]) % 8
        words = np.ascontiguousarray(np.pad(raw, ((0, 0), (0, pad)))).view(np.uint64)
        key = words[:, 0].copy()
        for w in range(1, words.shape[1]):  # longer bands: mix the words (a collision only adds a candidate, never loses one)
            key = key * np.uint64(0x9E3779B97F4A7C15) ^ words[:, w]
        keys[s : s + KEY_CHUNK] = key.view(np.int64)
    return keys


def _bucket_pairs(keys: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """Yield (i, j, largest bucket) chunks of the pairs of images with equal keys: one sort, then the pairs inside each bucket."""
    n = len(keys)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, n])
    largest = int(sizes.max()) if len(sizes) else 1
    for size in np.unique(sizes[sizes >= 2]):
        first = starts[sizes == size]
        iu, ju = np.triu_indices(int(size), 1)
        step = max(1, PAIR_CHUNK // len(iu))  # bound the memory of big buckets
        for c in range(0, len(first), step):
            members = order[first[c : c + step, None] + np.arange(size)]
            yield members[:, iu].ravel(), members[:, ju].ravel(), largest


def near_pairs(packed: np.ndarray, bits: int, threshold: int) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Return ((P, 2) pairs i < j within ``threshold`` bits, sorted, their distances, counts of the work done).

    Band by band, the pairs sharing a bucket (and no bucket of an earlier band, where they were compared
    already) are compared a chunk at a time and only the near ones kept: work is one sort per band plus the
    pairs inside each bucket, never all pairs, and memory grows with the near pairs, not the candidates.
    """
    band_list = bands(bits, threshold)
    keys = np.empty((len(band_list), len(packed)), dtype=np.int64)  # 8 bytes per image and band
    found, distances = [], []
    comparisons = raw = 0
    largest = 1
    for k, band in enumerate(band_list):
        keys[k] = _band_keys(packed, bits, band)
        for a, b, largest_here in _bucket_pairs(keys[k]):
            largest = max(largest, largest_here)
            raw += len(a)
            fresh = np.all(keys[:k, a] != keys[:k, b], axis=0)  # True for every pair when k == 0
            a, b = a[fresh], b[fresh]
            comparisons += len(a)
            dist = hamming(packed, a, b)
            near = dist <= threshold
            found.append(np.stack([np.minimum(a, b), np.maximum(a, b)], 1)[near])
            distances.append(dist[near])
    if not found:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64), {"comparisons": 0, "bucket_pairs": 0, "largest_bucket": largest,
                                                                             "bands": len(band_list)}
    pairs, dist = np.concatenate(found).astype(np.int64), np.concatenate(distances)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order], dist[order], {"comparisons": comparisons, "bucket_pairs": raw, "largest_bucket": largest, "bands": len(band_list)}


def group_pairs(n: int, pairs: np.ndarray) -> list[np.ndarray]:
    """Return the groups (sorted member indices, 2 or more) that the pairs connect, the largest first."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(pairs) == 0:
        return []
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    order = np.argsort(label, kind="stable")
    starts = np.flatnonzero(np.r_[True, label[order][1:] != label[order][:-1]])
    groups = [g for g in np.split(order, starts[1:]) if len(g) >= 2]
    return sorted((np.sort(g) for g in groups), key=lambda g: (-len(g), int(g[0])))


@dataclass
class DedupResult(Result):
    """Groups of near-duplicates, with the hash distances and pixel differences of each member to the group's first."""

    tool = "dedup"

    count: int = 0
    groups: list[dict[str, Any]] = field(default_factory=list)
    work: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    autoencoder: dict[str, Any] = field(default_factory=dict)
    codes: np.ndarray | None = field(default=None, repr=False)  # (N, bits / 8) packed hashes
    data: ImageData | None = field(default=None, repr=False)
    clean: Any = None  # the PackResult of --write-clean

    @property
    def duplicates(self) -> int:
        """Images that --write-clean drops: every member of a group but its first."""
        return sum(len(g["members"]) - 1 for g in self.groups)

    def keep_mask(self) -> np.ndarray:
        """Return (N,) bool: True for the images one-per-group keeps."""
        keep = np.ones(self.count, dtype=bool)
        for g in self.groups:
            keep[g["members"][1:]] = False
        return keep

    def summary(self) -> dict[str, Any]:
        sizes = [len(g["members"]) for g in self.groups]
        return {"images": self.count, "groups": len(self.groups), "duplicates": self.duplicates,
                "duplicate_share": round(self.duplicates / max(self.count, 1), 6), "largest_group": max(sizes, default=0),
                "work": {**self.work, "comparisons_per_image": round(self.work.get("comparisons", 0) / max(self.count, 1), 3)},
                "timings_seconds": self.timings, "autoencoder": self.autoencoder,
                "clean_pack": str(self.clean.out) if self.clean is not None else None}

    def lines(self) -> list[str]:
        lines = [f"dedup: {self.count} images, {len(self.groups)} groups of near-duplicates, {self.duplicates} images to drop "
                 f"({100 * self.duplicates / max(self.count, 1):.2f}%)",
                 f"work: {self.work.get('comparisons', 0)} hash comparisons ({self.work.get('comparisons', 0) / max(self.count, 1):.2f} per image), "
                 f"largest bucket {self.work.get('largest_bucket', 0)}; {sum(self.timings.values()):.1f} s"]
        if self.clean is not None:
            lines += self.clean.lines()
        return lines


def image_names(spec: str, data: ImageData) -> list[str]:
    """Return one provenance name per image: a pack's or a folder's file names where known, else 'SPEC#i'."""
    from dcgan.data import split_spec
    from dcgan.data.pack import is_pack, read_meta

    path = Path(split_spec(spec)[0]).expanduser()
    if is_pack(path):
        files = read_meta(path).get("files") or []
        if len(files) >= len(data):
            return list(files[: len(data)])
    elif path.is_dir() and not data.skipped:
        from dcgan.data.folder import list_images

        files = list_images(path)[: len(data)]
        if len(files) == len(data):
            return [str(f.relative_to(path)) for f in files]
    return [f"{spec}#{i}" for i in range(len(data))]


def open_data(settings: Any) -> ImageData:
    """Return the images ``settings.spec`` names: a pack at its own size (memory-mapped) unless --image-size says otherwise."""
    from dcgan.config import DataConfig
    from dcgan.data import load_data, split_spec
    from dcgan.data.pack import is_pack, load_pack

    path = Path(split_spec(settings.spec)[0]).expanduser()
    if is_pack(path):
        return load_pack(path, settings.image_size, None, settings.num_images)
    return load_data(DataConfig(spec=settings.spec, data_root=settings.data_root, image_size=settings.image_size or 64,
                                num_images=settings.num_images))


def dedup(settings: Any = None, *, data: ImageData | None = None, progress: bool = True, **options: Any) -> DedupResult:
    """Find groups of near-duplicates in ``settings.spec`` (or ``data``) with the semantic hash; return them.

    With ``write_clean`` the one-image-per-group pack is written too (``result.clean``).
    """
    from dcgan.device import cpu_threads, resolve_device
    from dcgan.settings.data import DedupSettings

    s = DedupSettings.build(settings, **options)
    if s.write_clean and not s.force:
        from dcgan.data.pack import refuse_existing

        refuse_existing(Path(s.write_clean))  # before any work, not after minutes of it
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    data = data if data is not None else open_data(s)
    if len(data) < 2:
        raise UserError(f"{data.description} holds {len(data)} image: de-duplication needs at least 2")
    timings["load"] = round(time.perf_counter() - t0, 3)
    device = resolve_device(s.device)
    with cpu_threads(s.threads):
        t0 = time.perf_counter()
        hasher = train_hash(data.images, s, device, progress)
        timings["train"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        codes = hasher.encode(data.images, progress)
        timings["hash"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    pairs, _dist, work = near_pairs(codes, hasher.bits, s.threshold)
    groups = group_pairs(len(data), pairs)
    timings["bucket"] = round(time.perf_counter() - t0, 3)
    names = image_names(s.spec, data)
    records = [describe_group(g, codes, data, names) for g in groups]
    source = {"spec": s.spec, "description": data.description, "images": len(data)}
    result = DedupResult(s, source, len(data), records, work, timings, hasher.info, codes, data)
    if s.write_clean:
        result.clean = write_clean(result, Path(s.write_clean), names, progress)
    return result


def describe_group(members: np.ndarray, codes: np.ndarray, data: ImageData, names: list[str]) -> dict[str, Any]:
    """Return a group's record: members, names, hash distance and pixel RMSE (32x32, 0..255) of each to the first."""
    first = np.full(len(members), members[0])
    pix = hash_pixels(data.images[torch.as_tensor(members)]).float().flatten(1)
    rmse = (pix - pix[:1]).pow(2).mean(1).sqrt()
    return {"members": [int(m) for m in members], "names": [names[m] for m in members],
            "hamming": hamming(codes, first, members).tolist(), "pixel_rmse": [round(float(v), 2) for v in rmse]}


def write_clean(result: DedupResult, out: Path, names: list[str], progress: bool = True) -> Any:
    """Write the pack of one image per group (and every image in no group) to ``out``; return its PackResult."""
    from dcgan.data.pack import loaded_source, write_pack

    keep = np.flatnonzero(result.keep_mask())
    s = result.settings
    source = loaded_source(s.spec, result.data, [names[i] for i in keep], "dedup", index=keep, extra={"dedup_of": s.spec})
    removed = [{"file": names[m], "duplicate_of": g["names"][0], "hamming": d}
               for g in result.groups for m, d in zip(g["members"][1:], g["hamming"][1:], strict=True)]
    extra = {"dedup": {"settings": s.to_dict(), "groups": len(result.groups), "removed": removed}}
    return write_pack(source, out, result.data.image_size, force=s.force, extra=extra, progress=progress)
