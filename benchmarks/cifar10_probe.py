"""CIFAR-10 linear-probe benchmark (the paper's section 5.1): is a DCGAN discriminator a useful feature extractor?

1. Train a DCGAN at 32x32 on the 50,000 CIFAR-10 training images, without labels, for a bounded CPU
   budget (default: 5 epochs = 1,950 steps of 128 images, widths 64), with the package's trainer.
2. Probe its D with the paper's protocol (``dcgan.analysis.probe``): every conv layer max-pooled to 4x4
   (7,168 features), eval-mode BatchNorm, standardised, linear L2-SVM with C chosen on validation data
   carved from the training split; with all labels (of a stratified subsample, see --max-train) and
   with 100 labels per class over 10 draws.
3. Report the trained D against a randomly initialised D of the same architecture and against pixels,
   with the margins and the wall time of each phase; ``--json PATH`` writes the same as JSON.

    .venv/bin/python benchmarks/cifar10_probe.py --data-root ./data --json cifar10_probe.json
    .venv/bin/python benchmarks/cifar10_probe.py --checkpoint runs/00003-cifar10-probe   # probe only

The paper's 82.8% used an Imagenet-1k-trained D (28,672 features) and all 50,000 labels; this budget
is orders of magnitude smaller, so the numbers to read are the margins, measured side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from dcgan.analysis.probe import format_table, run_probe
from dcgan.checkpoint import discriminator_from_checkpoint, open_checkpoint, resolve_checkpoint
from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from dcgan.data import load_data
from dcgan.device import cpu_threads
from dcgan.settings.probe import ProbeSettings
from dcgan.train import train

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", default=os.environ.get("DCGAN_DATA_ROOT", "data"), help="folder holding cifar10-jpg.tar.xz (default: $DCGAN_DATA_ROOT or ./data)")
    p.add_argument("--out", default="runs", help="folder for the training run")
    p.add_argument("--checkpoint", help="probe this checkpoint / run folder instead of training one")
    p.add_argument("--epochs", type=int, default=5, help="training budget in epochs of 50,000 images (default: 5)")
    p.add_argument("--width", type=int, default=64, help="ngf = ndf (default: 64, the paper's)")
    p.add_argument("--precision", default="auto", help="training precision (default: auto = bf16 where native)")
    p.add_argument("--max-train", type=int, default=4000, help="all-labels protocol: stratified subsample of the training set (default: 4000)")
    p.add_argument("--labels-per-class", type=int, default=100)
    p.add_argument("--draws", type=int, default=10)
    # A first run with 1e-4,1e-3,1e-2 chose 1e-4 for every feature set, with validation accuracy falling as C grew.
    p.add_argument("--c-grid", default="1e-6,1e-5,1e-4,1e-3", help="C values tried on validation data")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch and BLAS (default: their own choice); on a machine "
                   "shared with other jobs 1 avoids thread oversubscription")
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    args = p.parse_args()
    with cpu_threads(args.threads, blas=True):
        run(args)


def run(args: argparse.Namespace) -> None:
    times: dict[str, float] = {}
    start = time.perf_counter()
    load = os.getloadavg()
    data_cfg = DataConfig(spec="cifar10", data_root=args.data_root, image_size=32)
    if args.checkpoint:
        ckpt = resolve_checkpoint(args.checkpoint)
    else:
        cfg = RunConfig(
            data=data_cfg,
            model=ModelConfig(image_size=32, channels=3, ngf=args.width, ndf=args.width),
            train=TrainConfig(epochs=args.epochs, precision=args.precision, seed=args.seed, out=args.out,
                              name="cifar10-probe", sample_every=1, snapshot_every=args.epochs),
        )
        t = time.perf_counter()
        run_dir = train(cfg)
        times["train_s"] = round(time.perf_counter() - t, 1)
        ckpt = run_dir / "checkpoints" / "latest.pt"
    _, payload, cfg = open_checkpoint(ckpt)
    model = cfg.model
    d = discriminator_from_checkpoint(payload)

    t = time.perf_counter()
    train_data = load_data(DataConfig(spec="cifar10", data_root=args.data_root, image_size=model.image_size, channels=model.channels))
    test_data = load_data(DataConfig(spec="cifar10:test", data_root=args.data_root, image_size=model.image_size, channels=model.channels))
    times["load_data_s"] = round(time.perf_counter() - t, 1)
    settings = ProbeSettings(c_grid=tuple(float(c) for c in args.c_grid.split(",")), max_train=args.max_train,
                             labels_per_class=args.labels_per_class, draws=args.draws, seed=args.seed)
    t = time.perf_counter()
    report = run_probe(d, f"checkpoint:{payload['digest']}", train_data, test_data, settings)
    times["probe_s"] = round(time.perf_counter() - t, 1)
    times["total_s"] = round(time.perf_counter() - start, 1)

    table = format_table(report["rows"])
    print(table)
    m = report["margin_over_random_D"]
    print(f"trained D - random D: {m.get('all_labels_accuracy_points', float('nan')):+.2f} accuracy points (all labels), "
          f"{m.get('few_labels_error_points', float('nan')):+.2f} error points fewer ({args.labels_per_class}/class)")
    m = report["margin_over_pixels"]
    print(f"trained D - pixels:   {m.get('all_labels_accuracy_points', float('nan')):+.2f} accuracy points (all labels), "
          f"{m.get('few_labels_error_points', float('nan')):+.2f} error points fewer ({args.labels_per_class}/class)")
    per_row = ", ".join(f"{r['features']} {r['seconds']:.0f} s" for r in report["rows"])
    print(f"wall time: {times} (SVMs per feature set: {per_row}); load average at start {load[0]:.1f} on {os.cpu_count()} cores, "
          f"at end {os.getloadavg()[0]:.1f}")
    print(f"checkpoint: {ckpt} (step {payload.get('step')}, {model.image_size}x{model.image_size}, widths {model.ndf})")
    if args.json:
        out = {"checkpoint": str(ckpt), "step": payload.get("step"), "epochs": args.epochs if not args.checkpoint else None,
               "width": model.ndf, "times": times, "load_average": {"start": load[0], "end": os.getloadavg()[0]},
               "cpu_count": os.cpu_count(), "table": table.splitlines(), **report}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"json: {args.json}")


if __name__ == "__main__":
    main()
