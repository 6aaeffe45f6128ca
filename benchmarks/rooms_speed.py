"""Rooms rendering speed on ONE CPU core, against decoding the same images from PNG files in memory.

Rates are images per CPU-second of this single-threaded process (so other jobs on the machine do
not count against it). The reference is what a file-based dataset of the same images costs per image (PIL PNG decode, one
thread), measured in the same run; the target of issue 3 is at least 5,000 rooms/s at 64x64.

    .venv/bin/python benchmarks/rooms_speed.py --json rooms_speed.json
"""

from __future__ import annotations

import argparse
import io
import json
import time

import numpy as np
import torch
from PIL import Image

from dcgan.data.rooms import render_rooms

TARGET = 5000.0


def best_rate(fn, count: int, repeats: int) -> tuple[float, float]:
    """Return the best (items per CPU-second, items per wall-second) of ``repeats`` runs of ``fn``.

    CPU time of this one-thread process is the primary measure: on a machine shared with other jobs,
    wall time also counts the time the core was lent to them.
    """
    cpu = wall = float("inf")
    for _ in range(repeats):
        start, start_wall = time.process_time(), time.perf_counter()
        fn()
        cpu = min(cpu, time.process_time() - start)
        wall = min(wall, time.perf_counter() - start_wall)
    return count / cpu, count / wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=5000, help="images per timed run (default: 5000)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs; the best counts (default: 3)")
    p.add_argument("--sizes", default="32,64,128", help="image sizes (default: 32,64,128)")
    p.add_argument("--json", metavar="PATH", help="also write the results here")
    args = p.parse_args()
    torch.set_num_threads(1)
    results: dict[str, dict[str, float]] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        count = max(200, args.count * 64 * 64 // (size * size))
        render_rooms(range(256), size)  # warm-up
        rooms, rooms_wall = best_rate(lambda c=count, s=size: render_rooms(range(c), s), count, args.repeats)
        with_masks, _ = best_rate(lambda c=count, s=size: render_rooms(range(c), s, masks=True), count, args.repeats)
        images = render_rooms(range(min(count, 1000)), size).images.permute(0, 2, 3, 1).numpy()
        pngs = []
        for img in images:
            buf = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG")
            pngs.append(buf.getvalue())

        def decode(pngs: list[bytes] = pngs) -> None:
            for data in pngs:
                np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

        png, _ = best_rate(decode, len(pngs), args.repeats)
        results[str(size)] = {"rooms_per_s": round(rooms, 1), "rooms_per_wall_s": round(rooms_wall, 1),
                              "rooms_with_masks_per_s": round(with_masks, 1),
                              "png_decode_per_s": round(png, 1), "ratio_vs_png_decode": round(rooms / png, 2)}
        line = (f"{size:>3}x{size:<3}  rooms {rooms:8.0f}/s  with masks {with_masks:8.0f}/s  PNG decode {png:8.0f}/s  "
                f"rooms / PNG decode {rooms / png:5.2f}x  (wall clock: rooms {rooms_wall:.0f}/s)")
        if size == 64:
            results[str(size)]["ratio_vs_target"] = round(rooms / TARGET, 2)
            line += f"  vs target {TARGET:.0f}/s: {rooms / TARGET:.2f}x"
        print(line, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": 1, "unit": "images per CPU-second", "count": args.count, "repeats": args.repeats, "results": results}, f, indent=2)
        print(f"results: {args.json}")


if __name__ == "__main__":
    main()
