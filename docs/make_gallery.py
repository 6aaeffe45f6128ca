"""Regenerate every picture under docs/images/ from this repository, with the ``dcgan`` command line.

    nice -n 10 .venv/bin/python docs/make_gallery.py                     # train, judge, run the tools, copy
    nice -n 10 .venv/bin/python docs/make_gallery.py --resume            # skip the steps whose outputs exist
    .venv/bin/python docs/make_gallery.py --run runs/00000-demo          # reuse a run of the demo recipe

Steps (each one ``dcgan`` command; their outputs go under --work, default build/gallery/):

1. train: the demo recipe of the Makefile (rooms, 32x32, ngf/ndf 32, batch 32, lr 1e-3, --ema 0.999)
   for --epochs (default 5, so that epoch-0001.pt and epoch-0005.pt exist); on 2+ cores as two
   single-threaded processes (torchrun), as ``make demo`` does. Skipped with --run DIR.
2. judge: ``dcgan judge train --data rooms --image-size 32`` (six heads and a window/bed/rug localiser).
3. sample: ``dcgan sample`` of seeds 0-63 on epoch-0001.pt and on epoch-0005.pt.
4. walk: ``dcgan walk`` through seeds 0-5 (slerp), the GIF.
5. arithmetic: ``dcgan arithmetic`` with judge queries:
   (red bed, yellow wall) - (no bed, yellow wall) + (no bed, blue wall).
6. forget: ``dcgan forget --object window --judge --max-maps 8``.
7. visualize: ``dcgan visualize`` (guided back-propagation, trained D beside a random D).
8. copy: the figures into docs/images/ (PNGs re-saved optimised, the GIF re-encoded small), and the
   total size printed (the README's budget is 3 MB).

A step that fails is retried (--retries, after --retry-wait seconds); with --resume a step whose output
exists is skipped, so a failed run continues where it stopped. Took about 11 minutes on 2 busy CPU
cores (2026-12-04), 7 of them training.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "docs" / "images"
# The Makefile's DEMO_FLAGS without --epochs (given by --epochs here).
DEMO_FLAGS = ["--data", "rooms", "--image-size", "32", "--ngf", "32", "--ndf", "32", "--batch-size", "32",
              "--lr", "1e-3", "--ema", "0.999"]
# Chosen among a few expressions tried on the 5-epoch model (windows from arithmetic did not show there; beds did):
# how often arithmetic works on a model is what `dcgan arithmetic --evaluate` measures (docs/results.md).
ARITHMETIC = {"a": "bed=red,wall=yellow", "b": "bed=none,wall=yellow", "c": "bed=none,wall=blue"}
# All 27 maps with a positive weight broke the 5-epoch model's images; the 8 strongest remove windows and keep the room.
FORGET_MAPS = "8"


def dcgan(*args: str) -> list[str]:
    """The command line of ``dcgan ARGS`` in this interpreter's environment."""
    return [sys.executable, "-m", "dcgan.cli", *args]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, cwd=REPO, env={**os.environ, **(env or {})})


def check_flags(tool: list[str], flags: list[str]) -> None:
    """Fail early, with the missing flags named, when ``dcgan TOOL --help`` no longer lists a flag used here."""
    text = subprocess.run(dcgan(*tool, "--help"), capture_output=True, text=True, cwd=REPO).stdout
    missing = [f for f in flags if f not in text]
    if missing:
        raise RuntimeError(f"dcgan {' '.join(tool)} no longer has {', '.join(missing)}: update docs/make_gallery.py")


FAILED: list[str] = []


def step(name: str, output: Path, action, args: argparse.Namespace, required: bool = False) -> bool:
    """Run one step unless --resume and its output exists; retry it when it fails; return whether its output exists.

    A step that still fails is recorded (the others go on, the script exits 1 at the end); a ``required`` one stops the script.
    """
    if args.resume and output.exists():
        log(f"{name}: {output} exists, skipped")
        return True
    for attempt in range(1, args.retries + 2):
        start = time.perf_counter()
        try:
            action()
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            log(f"{name}: failed ({exc}); attempt {attempt} of {args.retries + 1}")
            if attempt <= args.retries:
                time.sleep(args.retry_wait)
            continue
        if output.exists():
            log(f"{name}: done in {time.perf_counter() - start:.0f} s -> {output}")
            return True
        log(f"{name}: finished but {output} is missing (did the tool's output names change?)")
        break
    if required:
        raise SystemExit(f"{name} failed; rerun with --resume once the cause is fixed")
    FAILED.append(name)
    return False


def find_run(runs: Path) -> Path | None:
    """The newest ``*-gallery`` run under ``runs`` that reached the last epoch, if any."""
    found = sorted(runs.glob("*-gallery")) if runs.is_dir() else []
    return found[-1] if found else None


def train(args: argparse.Namespace, runs: Path) -> None:
    check_flags(["train"], [*DEMO_FLAGS[::2], "--epochs", "--out", "--name"])
    flags = [*DEMO_FLAGS, "--epochs", str(args.epochs), "--out", str(runs), "--name", "gallery"]
    if args.procs > 1:
        run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(args.procs),
             "-m", "dcgan.cli", "train", *flags], env={"OMP_NUM_THREADS": "1"})
    else:
        run(dcgan("train", *flags))


def save_png(src: Path, dst: Path, scale: int) -> None:
    """Copy a PNG, enlarged ``scale`` times (nearest neighbour: 32-pixel tiles stay sharp), optimised."""
    img = Image.open(src)
    img.load()
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    img.save(dst, optimize=True)


def save_gif(src: Path, dst: Path, max_bytes: int) -> None:
    """Re-encode a GIF with one shared palette; halve its size in steps until it fits ``max_bytes``."""
    from PIL import ImageSequence

    gif = Image.open(src)
    duration = gif.info.get("duration", 125)
    frames = [f.convert("RGB") for f in ImageSequence.Iterator(gif)]
    width = frames[0].width
    while True:
        scaled = [f.resize((width, width * f.height // f.width), Image.NEAREST) if width != f.width else f for f in frames]
        # One palette for all frames (from a strip of every frame) keeps the file small and the colours stable.
        strip = Image.new("RGB", (scaled[0].width, scaled[0].height * len(scaled)))
        for i, f in enumerate(scaled):
            strip.paste(f, (0, i * f.height))
        palette = strip.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        pics = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in scaled]
        pics[0].save(dst, save_all=True, append_images=pics[1:], duration=duration, loop=0, optimize=True)
        if dst.stat().st_size <= max_bytes or width <= 64:
            return
        width //= 2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, help="use this run folder (of the demo recipe, with epoch-0001.pt and epoch-0005.pt) instead of training")
    p.add_argument("--work", type=Path, default=REPO / "build" / "gallery", help="folder for the run, the judge and the tools' outputs (default: build/gallery)")
    p.add_argument("--epochs", type=int, default=5, help="training epochs of 50,000 rooms (default: 5; the gallery shows epochs 1 and 5)")
    p.add_argument("--procs", type=int, default=2 if (os.cpu_count() or 1) >= 2 else 1,
                   help="training processes, as make demo (default: 2 on 2+ cores, else 1)")
    p.add_argument("--resume", action="store_true", help="skip the steps whose outputs exist")
    p.add_argument("--retries", type=int, default=2, help="retries of a failed step (default: 2)")
    p.add_argument("--retry-wait", type=float, default=180, help="seconds before a retry (default: 180)")
    p.add_argument("--gif-kb", type=int, default=900, help="largest walk GIF kept, in KB (default: 900)")
    p.add_argument("--scale", type=int, default=2, help="enlargement of the sample grids (default: 2)")
    args = p.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    runs = work / "runs"
    last = f"epoch-{args.epochs:04d}.pt"

    if args.run is not None:
        run_dir = args.run.resolve()
    else:
        done = find_run(runs)
        if args.resume and done is not None and (done / "checkpoints" / last).exists():
            log(f"train: {done} exists, skipped")
            run_dir = done
        else:
            step("train", runs, lambda: train(args, runs), argparse.Namespace(**{**vars(args), "resume": False}), required=True)
            run_dir = find_run(runs)
    ckpts = run_dir / "checkpoints"
    for name in ("epoch-0001.pt", last):
        if not (ckpts / name).exists():
            raise SystemExit(f"{ckpts / name} is missing: the run must have been trained for {args.epochs} epochs")
    judge = work / "judge-rooms-32.pt"
    out = {name: work / name for name in ("sample-epoch1", "sample-last", "walk", "arithmetic", "forget", "visualize")}

    def judge_train() -> None:
        check_flags(["judge", "train"], ["--data", "--image-size", "--threads", "--out"])
        run(dcgan("judge", "train", "--data", "rooms", "--image-size", "32", "--threads", "1", "--out", str(judge)))

    def sample(ckpt: Path, folder: Path) -> None:
        check_flags(["sample"], ["--seeds", "--out"])
        run(dcgan("sample", str(ckpt), "--seeds", "0-63", "--out", str(folder)))

    def walk() -> None:
        check_flags(["walk"], ["--seeds", "--steps", "--fps", "--out"])
        run(dcgan("walk", str(run_dir), "--seeds", "0,1,2,3,4,5", "--steps", "12", "--fps", "12", "--out", str(out["walk"])))

    def arithmetic() -> None:
        check_flags(["arithmetic"], ["--a", "--b", "--c", "--judge", "--out"])
        run(dcgan("arithmetic", str(run_dir), "--judge", str(judge), *[x for k, q in ARITHMETIC.items() for x in (f"--{k}", q)],
                  "--out", str(out["arithmetic"])))

    def forget() -> None:
        check_flags(["forget"], ["--object", "--judge", "--max-maps", "--out"])
        run(dcgan("forget", str(run_dir), "--object", "window", "--judge", str(judge), "--max-maps", FORGET_MAPS,
                  "--out", str(out["forget"])))

    def visualize() -> None:
        check_flags(["visualize"], ["--out"])
        run(dcgan("visualize", str(run_dir), "--out", str(out["visualize"])))

    step("judge", judge, judge_train, args, required=True)
    step("sample epoch 1", out["sample-epoch1"] / "seeds-0-63.png", lambda: sample(ckpts / "epoch-0001.pt", out["sample-epoch1"]), args)
    step(f"sample epoch {args.epochs}", out["sample-last"] / "seeds-0-63.png", lambda: sample(ckpts / last, out["sample-last"]), args)
    step("walk", out["walk"] / "walk-00.gif", walk, args)
    step("arithmetic", out["arithmetic"] / "figure.png", arithmetic, args)
    step("forget", out["forget"] / "figure.png", forget, args)
    step("visualize", out["visualize"] / "figure.png", visualize, args)

    IMAGES.mkdir(parents=True, exist_ok=True)
    copies = [(out["sample-epoch1"] / "seeds-0-63.png", IMAGES / "samples-epoch1.png"),
              (out["sample-last"] / "seeds-0-63.png", IMAGES / f"samples-epoch{args.epochs}.png"),
              (out["walk"] / "walk-00.gif", IMAGES / "walk.gif"),
              *[(out[name] / "figure.png", IMAGES / f"{name}.png") for name in ("arithmetic", "forget", "visualize")]]
    for src, dst in copies:
        if not src.exists():
            continue  # its step failed (listed at the end)
        if dst.suffix == ".gif":
            save_gif(src, dst, args.gif_kb * 1024)
        else:
            save_png(src, dst, args.scale if dst.name.startswith("samples-") else 1)
    for name in ("arithmetic", "forget", "visualize", "walk"):  # the measurements behind the figures, beside the run
        if (out[name] / "results.json").exists():
            shutil.copy(out[name] / "results.json", work / f"{name}-results.json")
    total = 0
    for path in sorted(IMAGES.iterdir()):
        size = path.stat().st_size
        total += size
        log(f"{path.relative_to(REPO)}: {size / 1024:.0f} KB")
    log(f"total: {total / 1024:.0f} KB ({total / 2**20:.2f} MB; budget 3 MB)   run: {run_dir}   judge: {judge}")
    if total > 3 * 2**20:
        raise SystemExit("docs/images/ is over 3 MB: lower --scale or --gif-kb")
    if FAILED:
        raise SystemExit(f"failed: {', '.join(FAILED)}; their pictures were not updated (rerun with --resume)")


if __name__ == "__main__":
    main()
