"""De-duplication where the truth is known (issue 19): injected near-duplicates of known identity.

For each base set (procedural rooms at 64x64; CIFAR-10 train at 32x32 when the data root holds it) a share
``--rate`` of the images get one altered copy, chosen evenly among four alterations:

- shift: moved 1-3 pixels in x and y (edges replicated);
- crop: an 85-95% crop at a random place, resized back to full size;
- brightness: pixels times 0.8-0.9 or 1.1-1.2 (clipped);
- jpeg: re-encoded as JPEG at quality 50-90.

The copies are mixed into the set at random places. True pairs are (original, copy). Every method's
found pairs are all pairs inside its groups; precision = true pairs found / pairs found, recall = true
pairs found / true pairs, false-positive rate = 1 - precision (the share of flagged pairs that are not
injected copies; the paper's "under 1 in 100"). Methods, side by side on the same images:

1. semantic hash (``dcgan.data.dedup``, the paper's autoencoder trained on the mixed set) at Hamming
   thresholds 0..--max-threshold bits, with the work done (hash comparisons per image);
2. exact hash: SHA-1 of the 32x32 pixels the hash sees (finds only unaltered copies, i.e. none here);
3. brute-force nearest neighbours in pixel space (all pairs of 32x32 crops, L2) on a random subset of
   --subset images (the expensive reference), at the distance thresholds that give 1%, 0.1% and the
   best F1; the hash is scored on the same subset for comparison.

    nice -n 10 .venv/bin/python benchmarks/dedup_quality.py --rooms 10000 --cifar 10000 --data-root DATA --json dq.json

DATA is the folder holding cifar10-jpg.tar.xz (or cifar10.npz); default $DCGAN_DATA_ROOT. About 6 minutes
on 2 busy CPU cores at the defaults.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from dcgan.config import DataConfig
from dcgan.data import load_data
from dcgan.data.dedup import group_pairs, hash_pixels, near_pairs, train_hash
from dcgan.errors import UserError
from dcgan.settings.data import DedupSettings

ALTERATIONS = ("shift", "crop", "brightness", "jpeg")


def alter(image: torch.Tensor, kind: str, rng: np.random.Generator) -> torch.Tensor:
    """Return an altered copy of one (C, S, S) uint8 image."""
    c, s, _ = image.shape
    x = image.float()[None]
    if kind == "shift":
        dx, dy = (int(rng.integers(1, 4)) * int(rng.choice([-1, 1])) for _ in range(2))
        pad = F.pad(x, (3, 3, 3, 3), mode="replicate")
        x = pad[..., 3 + dy : 3 + dy + s, 3 + dx : 3 + dx + s]
    elif kind == "crop":
        side = int(round(s * rng.uniform(0.85, 0.95)))
        top, left = (int(rng.integers(0, s - side + 1)) for _ in range(2))
        x = F.interpolate(x[..., top : top + side, left : left + side], size=(s, s), mode="bilinear", antialias=True, align_corners=False)
    elif kind == "brightness":
        x = x * (rng.uniform(0.8, 0.9) if rng.random() < 0.5 else rng.uniform(1.1, 1.2))
    elif kind == "jpeg":
        buf = io.BytesIO()
        pil = Image.fromarray(image.permute(1, 2, 0).numpy().squeeze())
        pil.save(buf, format="JPEG", quality=int(rng.integers(50, 91)))
        arr = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert(pil.mode))
        x = torch.from_numpy(arr.copy()).reshape(s, s, c).permute(2, 0, 1).float()[None]
    return x[0].round().clamp(0, 255).to(torch.uint8)


def testbed(images: torch.Tensor, rate: float, seed: int) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Return (mixed images, (P, 2) true pairs as indices into them, alteration index of each pair)."""
    rng = np.random.default_rng(seed)
    n = len(images)
    originals = rng.choice(n, int(round(rate * n)), replace=False)
    kinds = np.arange(len(originals)) % len(ALTERATIONS)
    copies = torch.stack([alter(images[o], ALTERATIONS[k], rng) for o, k in zip(originals, kinds, strict=True)])
    mixed = torch.cat([images, copies])
    perm = rng.permutation(len(mixed))  # position p holds image perm[p]
    where = np.empty_like(perm)
    where[perm] = np.arange(len(perm))
    pairs = np.stack([where[originals], where[n + np.arange(len(originals))]], 1)
    return mixed[torch.from_numpy(perm)], np.sort(pairs, 1), kinds


def pair_set(pairs: np.ndarray, n: int) -> set[int]:
    return set((pairs[:, 0] * n + pairs[:, 1]).tolist())


def group_pair_set(groups: list[np.ndarray], n: int) -> set[int]:
    """Every pair inside every group, as i * n + j with i < j."""
    out: set[int] = set()
    for g in groups:
        iu, ju = np.triu_indices(len(g), 1)
        out |= set((g[iu] * n + g[ju]).tolist())
    return out


def score(found: set[int], truth: set[int], kinds_of: dict[int, int] | None = None) -> dict:
    """Precision, recall, false-positive rate (1 - precision) and per-alteration recall of ``found`` pairs."""
    hit = found & truth
    out = {"pairs_found": len(found), "true_found": len(hit), "true_pairs": len(truth),
           "precision": round(len(hit) / len(found), 4) if found else None, "recall": round(len(hit) / max(len(truth), 1), 4),
           "false_positive_rate": round(1 - len(hit) / len(found), 4) if found else 0.0}
    if kinds_of is not None:
        out["recall_by_alteration"] = {ALTERATIONS[k]: round(sum(1 for p in truth if kinds_of[p] == k and p in hit) /
                                                             max(1, sum(1 for p in truth if kinds_of[p] == k)), 4)
                                       for k in range(len(ALTERATIONS))}
    return out


def brute_force(pix: torch.Tensor, truth_sub: set[int], n: int, index: np.ndarray) -> tuple[dict, np.ndarray, torch.Tensor]:
    """All-pairs L2 distances of the subset's 32x32 crops: scores at the distance thresholds for 1%, 0.1% FPR and best F1."""
    x = pix.float().flatten(1) / 255
    start = time.perf_counter()
    d = torch.cdist(x, x)
    seconds = time.perf_counter() - start
    iu, ju = np.triu_indices(len(x), 1)
    dist = d[iu, ju].numpy()
    keys = index[iu] * n + index[ju]
    is_true = np.isin(keys, np.fromiter(truth_sub, dtype=np.int64, count=len(truth_sub)))
    order = np.argsort(dist, kind="stable")
    tp = np.cumsum(is_true[order])
    found = np.arange(1, len(order) + 1)
    precision, recall = tp / found, tp / max(1, len(truth_sub))
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    out = {"subset": len(x), "pairs_compared": len(dist), "seconds": round(seconds, 3)}
    for name, ok in (("fpr_under_1pct", precision >= 0.99), ("fpr_under_0.1pct", precision >= 0.999)):
        k = int(np.flatnonzero(ok).max()) if ok.any() else -1
        out[name] = {"distance": float(dist[order[k]]) if k >= 0 else None, "recall": round(float(recall[k]), 4) if k >= 0 else 0.0,
                     "precision": round(float(precision[k]), 4) if k >= 0 else None}
    k = int(np.argmax(f1))
    out["best_f1"] = {"distance": float(dist[order[k]]), "f1": round(float(f1[k]), 4), "precision": round(float(precision[k]), 4),
                      "recall": round(float(recall[k]), 4)}
    return out, dist, d


def run_set(name: str, images: torch.Tensor, args: argparse.Namespace) -> dict:
    """The whole comparison on one base set."""
    mixed, truth_pairs, kinds = testbed(images, args.rate, args.seed)
    n = len(mixed)
    truth = pair_set(truth_pairs, n)
    kinds_of = dict(zip((truth_pairs[:, 0] * n + truth_pairs[:, 1]).tolist(), kinds.tolist(), strict=True))
    print(f"{name}: {len(images)} images + {len(truth_pairs)} altered copies = {n}", flush=True)
    s = DedupSettings(epochs=args.epochs, train_images=args.train_images, threshold=0, seed=args.seed, shift=args.shift,
                      normalize=args.normalize)
    start = time.perf_counter()
    hasher = train_hash(mixed, s, progress=False)
    codes = hasher.encode(mixed, progress=False)
    hash_seconds = time.perf_counter() - start
    pix = hash_pixels(mixed)
    result: dict = {"images": n, "base_images": len(images), "injected_copies": len(truth_pairs), "rate": args.rate,
                    "image_size": images.shape[-1], "autoencoder": hasher.info, "hash_seconds": round(hash_seconds, 2), "semantic_hash": {}}
    rng = np.random.default_rng(args.seed + 7)
    sub = np.sort(rng.choice(n, min(args.subset, n), replace=False))
    in_sub = np.zeros(n, dtype=bool)
    in_sub[sub] = True
    truth_sub = {p for p in truth if in_sub[p // n] and in_sub[p % n]}
    for t in range(args.max_threshold + 1):
        start = time.perf_counter()
        pairs, _dist, work = near_pairs(codes, hasher.bits, t)
        groups = group_pairs(n, pairs)
        seconds = time.perf_counter() - start
        found = group_pair_set(groups, n)
        entry = {**score(found, truth, kinds_of), "groups": len(groups), "largest_group": max((len(g) for g in groups), default=0),
                 "comparisons_per_image": round(work["comparisons"] / n, 3), "bucket_seconds": round(seconds, 3),
                 "direct_pairs": {**score(pair_set(pairs, n), truth)}}  # without chaining groups: the near pairs only
        entry["subset"] = score({p for p in found if in_sub[p // n] and in_sub[p % n]}, truth_sub)
        result["semantic_hash"][t] = entry
        print(f"  hash t={t}: precision {entry['precision']} recall {entry['recall']} (groups {len(groups)}, "
              f"{entry['comparisons_per_image']} comparisons/image)", flush=True)
    ok = [t for t, e in result["semantic_hash"].items() if e["pairs_found"] and e["false_positive_rate"] < 0.01]
    result["largest_threshold_fpr_under_1pct"] = max(ok) if ok else None
    digests: dict[bytes, list[int]] = {}
    for i in range(n):
        digests.setdefault(hashlib.sha1(pix[i].numpy().tobytes()).digest(), []).append(i)
    exact = [np.array(v) for v in digests.values() if len(v) > 1]
    result["exact_hash"] = score(group_pair_set(exact, n), truth, kinds_of)
    print(f"  exact hash: {result['exact_hash']}", flush=True)
    result["pixel_nn_subset"], _, _ = brute_force(pix[torch.from_numpy(sub)], truth_sub, n, sub)
    result["pixel_nn_subset"]["true_pairs_in_subset"] = len(truth_sub)
    print(f"  pixel NN on {len(sub)}: {result['pixel_nn_subset']}", flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rooms", type=int, default=10000, help="base rooms (0: none)")
    p.add_argument("--cifar", type=int, default=10000, help="base CIFAR-10 train images (0: none)")
    p.add_argument("--data-root", default=os.environ.get("DCGAN_DATA_ROOT"), help="folder holding CIFAR-10 (default: $DCGAN_DATA_ROOT)")
    p.add_argument("--rate", type=float, default=0.1, help="share of base images that get an altered copy")
    p.add_argument("--epochs", type=int, default=DedupSettings.epochs, help="autoencoder epochs")
    p.add_argument("--train-images", type=int, default=DedupSettings.train_images)
    p.add_argument("--shift", type=int, default=DedupSettings.shift, help="the hash's --shift")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=DedupSettings.normalize, help="the hash's --normalize")
    p.add_argument("--max-threshold", type=int, default=8)
    p.add_argument("--subset", type=int, default=3000, help="images of the brute-force pixel reference")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # one thread: on a shared 2-core machine a second thread mostly waits (see DedupSettings.threads)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    report = {"date": time.strftime("%Y-%m-%d"), "commit": commit, "machine": platform.processor() or platform.machine(),
              "cores": os.cpu_count(), "command": " ".join(sys.argv), "sets": {}}
    if args.rooms:
        rooms = load_data(DataConfig(spec="rooms", image_size=64, num_images=args.rooms)).images
        report["sets"]["rooms"] = run_set("rooms", rooms, args)
    if args.cifar:
        if not args.data_root:
            raise SystemExit("CIFAR-10: give --data-root (or $DCGAN_DATA_ROOT), or --cifar 0")
        try:
            cifar = load_data(DataConfig(spec="cifar10", data_root=args.data_root, image_size=32)).images
        except UserError as exc:
            raise SystemExit(f"CIFAR-10: {exc}") from None
        # a random subset: the folder lists files class by class, so the first N would be two classes
        pick = np.sort(np.random.default_rng(args.seed).choice(len(cifar), min(args.cifar, len(cifar)), replace=False))
        cifar = cifar[torch.from_numpy(pick)]
        report["sets"]["cifar10"] = run_set("cifar10", cifar, args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
