"""The paper's MNIST appendix at a CPU budget: conditional DCGAN and conditional MLP GAN, 1-NN classifiers from samples.

Trains both conditional models on MNIST (32x32, every training digit) for the same number of steps, then
classifies the 10,000 test digits with a 1-nearest-neighbour classifier whose training set is each of
--samples class-conditional samples (and, once, 50,000 real training digits: the paper's 'real data' row).
Prints the measured errors beside the paper's table (docs/results.md, "MNIST appendix"). A model already
trained in --out is reused, so more sample counts can be added later.

  nice -n 10 .venv/bin/python benchmarks/mnist_appendix.py --data DATA/mnist.npz --out /tmp/appendix
  (the paper's second column: --samples 50000,10000000, about 50 minutes per model on 2 CPU cores)
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
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--width", type=int, default=32, help="ngf and ndf of the DCGAN")
    p.add_argument("--samples", default="50000,1000000", help="sample counts, comma-separated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="appendix")
    a = p.parse_args()
    out = Path(a.out)
    counts = [int(v) for v in a.samples.split(",")]
    rows: dict[str, dict] = {}
    for variant in ("dcgan", "mlp"):
        start = time.perf_counter()
        runs = out / variant
        existing = sorted(runs.glob("*-cond/checkpoints/latest.pt"))
        run_dir = existing[0].parents[1] if existing else train(RunConfig(
            data=DataConfig(spec=f"{a.data}:train", image_size=32),
            model=ModelConfig(image_size=32, z_dim=100, ngf=a.width, ndf=a.width, variant=variant, conditional=True),
            train=TrainConfig(batch_size=a.batch_size, max_steps=a.steps, seed=a.seed, out=str(runs), name="cond", log_every=100)))
        rows[variant] = {"train_s": round(time.perf_counter() - start)}
        for n in counts:
            start = time.perf_counter()
            real = f"{a.data}:train" if variant == "dcgan" and n == counts[0] else None  # the real-data row once
            result = nn_classify(dcgan.load(run_dir, "cpu"), test=f"{a.data}:test", samples=n, real=real, chunk=4096)
            dcgan.analysis.save(result, out / f"nn-{variant}-{n}")
            if real:
                rows["real"] = {"error": result.real_error, "samples": result.real_count}
            rows[variant][n] = {"error": result.error, "seconds": round(time.perf_counter() - start), "per_class_error": result.per_class_error}
            print(variant, n, json.dumps(rows[variant][n]), flush=True)
    (out / "appendix.json").write_text(json.dumps({"settings": vars(a), "rows": rows}, indent=2) + "\n")
    paper = {(m, n): e for m, n, e in PAPER_TABLE}
    print(f"| model | samples | 1-NN test error (ours, {a.steps} steps) | paper |")
    print("|---|---|---|---|")
    print(f"| real data | {rows['real']['samples']:,} | {100 * rows['real']['error']:.2f}% | {paper[('real data', '50K')]}% (50K) |")
    for variant, name in (("mlp", "fully connected GAN"), ("dcgan", "DCGAN")):
        for n in counts:
            quoted = "; ".join(f"{e}% ({k})" for (m, k), e in paper.items() if m == name)
            print(f"| conditional {name} | {n:,} | {100 * rows[variant][n]['error']:.2f}% | {quoted} |")


if __name__ == "__main__":
    main()
