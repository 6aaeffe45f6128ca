"""Ablation study on the CPU (docs/results.md, "Ablation study"): every variant x 5 seeds, about an hour per dataset.

The defaults are the budget behind the published figures: 1,500 steps of batch 64 (96,000 images),
widths 32, FD-random on 500 samples every 150 steps, two cells at a time on a 2-core machine (about an hour each):

  nice -n 10 .venv/bin/python benchmarks/ablation_study.py --data rooms --out /tmp/study-rooms
  nice -n 10 .venv/bin/python benchmarks/ablation_study.py --data DATA/mnist.npz --out /tmp/study-mnist

A stopped run continues where it stopped (finished cells are reused). Smaller budgets: --seeds/--max-steps/--width.
"""

from __future__ import annotations

import argparse
import json
import time

from dcgan.settings.study import DEFAULT_VARIANTS, StudySettings
from dcgan.study import study


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="rooms")
    p.add_argument("--data-root", default=None)
    p.add_argument("--variants", default=DEFAULT_VARIANTS)
    p.add_argument("--seeds", default="0-4")
    p.add_argument("--max-steps", type=int, default=1500)
    p.add_argument("--eval-every", type=int, default=150)
    p.add_argument("--eval-samples", type=int, default=500)
    p.add_argument("--width", type=int, default=32, help="ngf and ndf")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--num-images", type=int, default=None, help="training images (default: all; rooms: its default count)")
    p.add_argument("--parallel", type=int, default=2, help="cells trained at once (local processes)")
    p.add_argument("--out", default="study-bench")
    a = p.parse_args()
    s = StudySettings(data=a.data, data_root=a.data_root, image_size=32, num_images=a.num_images, variants=a.variants, seeds=a.seeds,
                      max_steps=a.max_steps, eval_every=a.eval_every, eval_samples=a.eval_samples, batch_size=a.batch_size,
                      ngf=a.width, ndf=a.width, parallel=a.parallel, out=a.out)
    start = time.perf_counter()
    out = study(s)
    doc = json.loads((out / "study.json").read_text())
    print(f"{time.perf_counter() - start:.0f} s; threshold {doc['threshold']:.2f}")
    print((out / "report.md").read_text())


if __name__ == "__main__":
    main()
