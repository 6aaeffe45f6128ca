"""Pack and dedup throughput against the number of images, with the memory used (issue 19).

For each size N (procedural rooms, which can make any number) one child process packs N rooms at
--image-size into a pack folder (``dcgan.data.pack``), then another de-duplicates it
(``dcgan.data.dedup``: the autoencoder trains on a fixed --train-images subset, so only hashing and
bucketing grow with N). Each child samples its own /proc/self/status every 50 ms and reports the peak
anonymous memory (what the process allocated: the part that must not grow with N) and the peak resident
set (which also counts the pack's file pages mapped at the time; the kernel can drop those at any moment).

With --folder N, a folder of N PNG rooms is also packed with --workers 1 and with one process per core,
to show the parallel decode (images per second, side by side).

    nice -n 10 .venv/bin/python benchmarks/pack_scaling.py --sizes 10000,100000 --folder 10000 --work /tmp/ps --json ps.json
    nice -n 10 .venv/bin/python benchmarks/pack_scaling.py --sizes 1000000 --work /tmp/ps --json ps-1m.json

Needs about 3.1 GB of disk per million 32x32 images in --work (removed after each size).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path


class Peak:
    """Sample this process's memory in a background thread; remember the peaks (MB)."""

    def __init__(self) -> None:
        self.anon = self.rss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
        self.anon = max(self.anon, int(fields["RssAnon"].split()[0]) / 1024)
        self.rss = max(self.rss, int(fields["VmRSS"].split()[0]) / 1024)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._sample()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self._sample()
        return {"peak_anon_mb": round(self.anon, 1), "peak_rss_mb": round(self.rss, 1)}


def child(args: argparse.Namespace) -> None:
    """One measurement in this process: print its JSON as the last line."""
    import torch

    torch.set_num_threads(args.threads)
    peak = Peak()
    start = time.perf_counter()
    if args.child == "pack":
        from dcgan.data.pack import pack

        r = pack(src=args.src, out=args.out, image_size=args.image_size, num_images=args.n, workers=args.workers, force=True)
        out = {"images": r.count, "seconds": round(time.perf_counter() - start, 2), "images_per_second": round(r.images_per_second)}
    else:
        from dcgan.data.dedup import dedup

        r = dedup(spec=args.src, threshold=args.threshold, epochs=args.epochs, train_images=args.train_images, threads=args.threads,
                  progress=False)
        seconds = time.perf_counter() - start
        out = {"images": r.count, "seconds": round(seconds, 2), "timings": r.timings, "groups": len(r.groups), "duplicates": r.duplicates,
               "comparisons": r.work["comparisons"], "comparisons_per_image": round(r.work["comparisons"] / r.count, 3),
               "largest_bucket": r.work["largest_bucket"],
               "images_per_second_after_training": round(r.count / max(1e-9, seconds - r.timings["train"]))}
    print(json.dumps({**out, **peak.stop()}))


def measure(argv: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"child {argv} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_folder(folder: Path, n: int, size: int) -> None:
    """N rooms as PNG files (what a scraped folder looks like to the packer)."""
    from PIL import Image

    from dcgan.data.rooms import render_rooms

    folder.mkdir(parents=True, exist_ok=True)
    for s in range(0, n, 2048):
        batch = render_rooms(range(s, min(n, s + 2048)), size, 0).images.permute(0, 2, 3, 1).numpy()
        for k, arr in enumerate(batch):
            Image.fromarray(arr).save(folder / f"{s + k:07d}.png", compress_level=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000", help="numbers of rooms, comma-separated")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--folder", type=int, default=0, help="also pack a folder of this many PNG files, 1 worker vs one per core")
    p.add_argument("--epochs", type=int, default=5, help="dedup autoencoder epochs (a fixed cost)")
    p.add_argument("--train-images", type=int, default=20000)
    p.add_argument("--threshold", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--work", type=Path, default=Path("/tmp/pack-scaling"))
    p.add_argument("--json", type=Path)
    p.add_argument("--child", choices=("pack", "dedup"), help=argparse.SUPPRESS)
    p.add_argument("--src", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    report = {"date": time.strftime("%Y-%m-%d"), "commit": commit, "machine": platform.processor() or platform.machine(),
              "cores": os.cpu_count(), "command": " ".join(sys.argv), "image_size": args.image_size, "rooms": {}, "folder": {}}
    common = ["--image-size", str(args.image_size), "--threads", str(args.threads)]
    for n in (int(v) for v in args.sizes.split(",")):
        out = args.work / f"rooms-{n}"
        row = {"pack": measure(["--child", "pack", "--src", "rooms", "--out", str(out), "--n", str(n), *common])}
        row["dedup"] = measure(["--child", "dedup", "--src", str(out), "--epochs", str(args.epochs), "--train-images",
                                str(args.train_images), "--threshold", str(args.threshold), *common])
        report["rooms"][n] = row
        print(f"{n} rooms: {json.dumps(row)}", flush=True)
        shutil.rmtree(out, ignore_errors=True)
    if args.folder:
        folder = args.work / f"png-{args.folder}"
        write_folder(folder, args.folder, args.image_size)
        for workers in sorted({1, os.cpu_count() or 1}):
            row = measure(["--child", "pack", "--src", str(folder), "--out", str(args.work / "png-pack"), "--n", str(args.folder),
                           "--workers", str(workers), *common])
            report["folder"][workers] = row
            print(f"folder of {args.folder} PNGs, {workers} worker(s): {json.dumps(row)}", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(args.work / "png-pack", ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
