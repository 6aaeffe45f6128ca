"""How fast dcgan explore answers the page, over real HTTP (uvicorn on loopback), on the CPU.

    .venv/bin/python benchmarks/explore_speed.py                 # 64x64, ngf 64 and ngf 32; about 2 minutes
    .venv/bin/python benchmarks/explore_speed.py --threads 1     # one thread (for a machine busy with other jobs)

The issue's bars: a 64-image grid at 64x64 reaches the page in under 150 ms after the first request, and
one slider step (one image) in under 40 ms. Speed does not depend on what G learned, so each width gets a
64x64 generator trained for one step on fake data (a real checkpoint, opened by dcgan.load like any other).
Per width it measures, after one warm-up request:

- grid, new seeds: /api/samples.png of 64 seeds never asked for before (decode + tile + PNG + HTTP);
- grid, repeat: the same 64 seeds again (the per-seed cache: tile + PNG + HTTP only);
- slider step, direction: /api/direction.png at a new scale (one image decoded);
- slider step, walk: /api/walk/frame.png at a new position (one image decoded);
- and, side by side in this process, Model.sample of the same 64 seeds, so the share of the time spent
  outside G (PNG, HTTP) is a ratio rather than an absolute number.
Median and 90th percentile over ``--repeats`` requests, each to a fresh URL (nothing cached by the browser).
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_checkpoint(folder: Path, width: int) -> Path:
    """Return a 64x64 checkpoint with base widths ``width`` (one training step on fake data, in another process,
    so that nothing the trainer sets up stays in this one and slows the side-by-side Model.sample)."""
    subprocess.run([sys.executable, "-m", "dcgan.cli", "train", "--data", "fake", "--num-images", "16", "--image-size", "64",
                    "--ngf", str(width), "--ndf", str(width), "--batch-size", "16", "--max-steps", "1", "--out", str(folder),
                    "--name", f"ngf{width}"], check=True, capture_output=True)
    return next(folder.glob(f"*-ngf{width}")) / "checkpoints" / "latest.pt"


def serve(checkpoint: Path, threads: int) -> tuple[str, subprocess.Popen]:
    """Start ``dcgan explore CHECKPOINT --port 0`` in its own process (as a user does); return its URL and the process.

    In its own process, as a user runs it, so the numbers include everything the command line sets up.
    """
    proc = subprocess.Popen([sys.executable, "-m", "dcgan.cli", "explore", str(checkpoint), "--port", "0", "--device", "cpu",
                             "--threads", str(threads)],
                            stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("open "):
            return line.split()[1].rstrip("/"), proc
    raise RuntimeError("dcgan explore did not start")


def timed(client, url: str, params: dict) -> float:
    started = time.perf_counter()
    r = client.get(url, params=params)
    elapsed = time.perf_counter() - started
    assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
    return 1000 * elapsed


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"median {statistics.median(times):6.1f} ms  p90 {p90:6.1f} ms"


def main() -> int:
    import httpx
    import torch

    import dcgan

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", default="64,32", help="ngf = ndf values to measure (default: 64,32)")
    parser.add_argument("--repeats", type=int, default=15, help="requests per measurement (default: 15)")
    parser.add_argument("--threads", type=int, default=0, help="dcgan explore --threads, and this process's for the "
                                                                "side-by-side Model.sample (default: 0, the command's default: "
                                                                "torch's, one per core)")
    args = parser.parse_args()
    importlib.import_module("dcgan._alloc").apply_allocator_settings()  # as the command line does, before any tensor
    if args.threads:
        torch.set_num_threads(args.threads)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"commit {commit}, torch {torch.__version__}, {torch.get_num_threads()} threads, {args.repeats} requests each")
    with tempfile.TemporaryDirectory() as tmp:
        for width in map(int, args.widths.split(",")):
            checkpoint = make_checkpoint(Path(tmp), width)
            model = dcgan.load(checkpoint, "cpu")
            model.sample(range(64))  # warm-up
            raw = []  # before the server starts: its idle threads would slow this process down
            for i in range(1, args.repeats + 1):
                started = time.perf_counter()
                model.sample(range(100_000 + 64 * i, 100_000 + 64 * i + 64))
                raw.append(1000 * (time.perf_counter() - started))
            base, server = serve(checkpoint, args.threads)
            with httpx.Client(base_url=base, timeout=60) as client:
                while True:  # the URL is printed once the port is bound; wait until the app answers
                    try:
                        client.get("/static/explore.css")
                        break
                    except httpx.TransportError:
                        time.sleep(0.1)
                first = timed(client, "/api/samples.png", {"seeds": "0-63", "cols": 8})
                fresh = [timed(client, "/api/samples.png", {"seeds": f"{64 * i}-{64 * i + 63}", "cols": 8})
                         for i in range(1, args.repeats + 1)]
                repeat = [timed(client, "/api/samples.png", {"seeds": "64-127", "cols": 8}) for _ in range(args.repeats)]
                direction = [timed(client, "/api/direction.png", {"from": "1,2,3,4", "to": "5,6,7,8", "seed": 9,
                                                                  "scale": f"{-2 + 4 * i / args.repeats:.3f}"})
                             for i in range(args.repeats)]
                walk = [timed(client, "/api/walk/frame.png", {"seeds": "1,2,3", "t": f"{2 * (i + 0.5) / args.repeats:.3f}"})
                        for i in range(args.repeats)]
            server.terminate()
            server.wait()
            print(f"\n64x64, ngf = ndf = {width} (G {sum(p.numel() for p in model.generator.parameters()) / 1e6:.2f}M params)")
            print(f"  first request (64-image grid)        {first:6.1f} ms")
            print(f"  64-image grid, new seeds             {summary(fresh)}   (bar: 150 ms)")
            print(f"  64-image grid, repeated seeds        {summary(repeat)}")
            print(f"  slider step, direction (1 image)     {summary(direction)}   (bar: 40 ms)")
            print(f"  slider step, walk frame (1 image)    {summary(walk)}   (bar: 40 ms)")
            print(f"  Model.sample of 64 seeds, no HTTP    {summary(raw)}; grid over HTTP / raw: "
                  f"{statistics.median(fresh) / statistics.median(raw):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
