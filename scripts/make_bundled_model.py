"""Make the small rooms model and rooms judge that ship inside the package (``dcgan explore`` with no checkpoint).

    python scripts/make_bundled_model.py            # about 10-20 minutes on 2 CPU cores

It trains with the demo recipe of the Makefile (``make demo``: rooms at 32x32, ngf = ndf = 32, batch 32,
lr 1e-3, EMA 0.999) but for EPOCHS epochs instead of 9, so that it fits in a short session; then a rooms
judge at 32x32 with the default judge settings (``dcgan judge train --data rooms --image-size 32``).
Both are written through the toolkit's own safe writers, so ``dcgan.load`` and ``dcgan.load_judge`` open
them like any other file. To stay a few MB, the shipped checkpoint keeps only what the tools read: the
config, the averaged generator (as the generator: it is what every sample grid of an ``--ema`` run shows),
D, and step/epoch; the optimiser states and the raw generator are left out (it cannot be resumed, only
explored).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "src" / "dcgan" / "explore" / "bundled"
EPOCHS = 4  # the demo trains 9; 4 is enough for recognisable rooms at 32x32 and keeps this script short
DEMO_FLAGS = ["--data", "rooms", "--image-size", "32", "--ngf", "32", "--ndf", "32", "--batch-size", "32", "--lr", "1e-3",
              "--ema", "0.999"]


def slim_checkpoint(source: Path, target: Path) -> Path:
    """Write ``target``: the checkpoint ``source`` without optimiser states, its averaged G as the generator."""
    from dcgan.checkpoint import load_checkpoint, save_checkpoint

    payload = load_checkpoint(source)
    ema = payload.get("generator_ema")
    keep = {key: payload[key] for key in ("config", "step", "epoch") if key in payload}
    keep["generator"] = ema["generator"] if ema else payload["generator"]
    keep["discriminator"] = payload["discriminator"]
    keep["bundled"] = {"recipe": "make demo flags", "flags": DEMO_FLAGS, "epochs": EPOCHS, "averaged_generator": bool(ema)}
    save_checkpoint(target, keep)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"training epochs (default: {EPOCHS}; the demo's 9 take longer)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of the judge training")
    parser.add_argument("--out", type=Path, default=BUNDLED, help="where the two files go (default: the package's bundled/)")
    args = parser.parse_args()
    dcgan = [sys.executable, "-m", "dcgan.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run([*dcgan, "train", *DEMO_FLAGS, "--epochs", str(args.epochs), "--out", str(work / "runs"),
                        "--name", "bundled"], check=True)
        run = next((work / "runs").iterdir())
        subprocess.run([*dcgan, "judge", "train", "--data", "rooms", "--image-size", "32", "--threads", str(args.threads),
                        "--out", str(work / "judge.pt")], check=True)
        args.out.mkdir(parents=True, exist_ok=True)
        model = slim_checkpoint(run / "checkpoints" / "latest.pt", args.out / "rooms-32.pt")
        judge = args.out / "rooms-32-judge.pt"
        shutil.copyfile(work / "judge.pt", judge)
    for f in (model, judge):
        print(f"{f}: {f.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
