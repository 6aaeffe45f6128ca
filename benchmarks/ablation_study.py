"""Reduced ablation study on the CPU (docs/results.md, "Ablation study"): every variant x seeds at a small budget.

The issue asks for about an hour of CPU per dataset with 5 seeds; this script's defaults are the reduced
budget that was actually run (state it with the figures). Larger budgets: pass --seeds/--max-steps/--ngf.

  nice -n 10 .venv/bin/python benchmarks/ablation_study.py --data rooms --out /tmp/study-rooms
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
    p.add_argument("--seeds", default="0-1")
    p.add_argument("--max-steps", type=int, default=300)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--eval-samples", type=int, default=256)
    p.add_argument("--width", type=int, default=16, help="ngf and ndf")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--num-images", type=int, default=4096)
    p.add_argument("--out", default="study-bench")
    a = p.parse_args()
    s = StudySettings(data=a.data, data_root=a.data_root, image_size=32, num_images=a.num_images, variants=a.variants, seeds=a.seeds,
                      max_steps=a.max_steps, eval_every=a.eval_every, eval_samples=a.eval_samples, batch_size=a.batch_size,
                      ngf=a.width, ndf=a.width, out=a.out)
    start = time.perf_counter()
    out = study(s)
    doc = json.loads((out / "study.json").read_text())
    print(f"{time.perf_counter() - start:.0f} s; threshold {doc['threshold']:.2f}")
    print((out / "report.md").read_text())


if __name__ == "__main__":
    main()
