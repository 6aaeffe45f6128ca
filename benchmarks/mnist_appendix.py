"""The paper's MNIST appendix at a CPU budget: conditional DCGAN and conditional MLP GAN, 1-NN classifiers from samples.

Trains both conditional models on MNIST (32x32, every training digit) for the same number of steps, then
classifies the 10,000 test digits with a 1-nearest-neighbour classifier whose training set is --samples
class-conditional samples (and, once, --samples real training digits: the paper's 'real data' row).
Prints the measured errors beside the paper's table (docs/results.md, "MNIST appendix").

  nice -n 10 .venv/bin/python benchmarks/mnist_appendix.py --data DATA/mnist.npz --out /tmp/appendix
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import dcgan
from dcgan.analysis.nn_classify import PAPER_TABLE, nn_classify
from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from dcgan.train import train


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="MNIST .npz (x_train/y_train/x_test/y_test)")
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--width", type=int, default=32, help="ngf and ndf of the DCGAN")
    p.add_argument("--samples", type=int, default=50000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="appendix")
    a = p.parse_args()
    out = Path(a.out)
    rows = {}
    for variant in ("dcgan", "mlp"):
        start = time.perf_counter()
        runs = out / variant
        existing = sorted(runs.glob("*-cond/checkpoints/latest.pt"))
        run_dir = existing[0].parents[1] if existing else train(RunConfig(
            data=DataConfig(spec=f"{a.data}:train", image_size=32),
            model=ModelConfig(image_size=32, z_dim=100, ngf=a.width, ndf=a.width, variant=variant, conditional=True),
            train=TrainConfig(batch_size=a.batch_size, max_steps=a.steps, seed=a.seed, out=str(runs), name="cond", log_every=100)))
        trained_s = time.perf_counter() - start
        real = f"{a.data}:train" if variant == "dcgan" else None  # the real-data row once
        result = nn_classify(dcgan.load(run_dir, "cpu"), test=f"{a.data}:test", samples=a.samples, real=real)
        dcgan.analysis.save(result, out / f"nn-{variant}")
        rows[variant] = {"error": result.error, "real_error": result.real_error, "train_s": round(trained_s), "total_s": round(time.perf_counter() - start),
                         "per_class_error": result.per_class_error}
        print(variant, json.dumps(rows[variant]), flush=True)
    (out / "appendix.json").write_text(json.dumps({"settings": vars(a), "rows": rows}, indent=2) + "\n")
    print(f"| model | samples | 1-NN test error (ours, {a.steps} steps) | paper |")
    print("|---|---|---|---|")
    paper = {(m, n): e for m, n, e in PAPER_TABLE}
    n = f"{a.samples:,}"
    print(f"| real data | {n} | {100 * rows['dcgan']['real_error']:.2f}% | {paper[('real data', '50K')]}% (50K) |")
    print(f"| conditional MLP GAN | {n} | {100 * rows['mlp']['error']:.2f}% | {paper[('fully connected GAN', '50K')]}% (50K) |")
    print(f"| conditional DCGAN | {n} | {100 * rows['dcgan']['error']:.2f}% | {paper[('DCGAN', '50K')]}% (50K) |")


if __name__ == "__main__":
    main()
