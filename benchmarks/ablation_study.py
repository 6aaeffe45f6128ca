"""Ablation study on the CPU (docs/results.md, "Ablation study"): every variant x 5 seeds, about an hour per dataset.

The defaults are the budget behind the published figures: 1,500 steps of batch 64 (96,000 images),
widths 32, FD-random on 500 samples every 150 steps, two cells at a time on a 2-core machine (about an hour each):

  nice -n 10 .venv/bin/python benchmarks/ablation_study.py --data rooms --out /tmp/study-rooms
  nice -n 10 .venv/bin/python benchmarks/ablation_study.py --data DATA/mnist.npz --out /tmp/study-mnist

A stopped run continues where it stopped (finished cells are reused). Smaller budgets: --seeds/--max-steps/--width.

With --judge J (a judge of the same data and size, e.g. the rooms judge bundled with dcgan explore, or one from
`dcgan judge train --data DATA/mnist.npz --image-size 32`), every cell's final G is also scored on the judge's
features (FD-judge, recall, coverage of --judge-samples samples against as many training images): a second
metric that knows what the images show, beside the study's random-network features.
"""

from __future__ import annotations

import argparse
import json
import math
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
    p.add_argument("--judge", help="also score every cell's final G on this judge's features")
    p.add_argument("--judge-samples", type=int, default=1000)
    a = p.parse_args()
    s = StudySettings(data=a.data, data_root=a.data_root, image_size=32, num_images=a.num_images, variants=a.variants, seeds=a.seeds,
                      max_steps=a.max_steps, eval_every=a.eval_every, eval_samples=a.eval_samples, batch_size=a.batch_size,
                      ngf=a.width, ndf=a.width, parallel=a.parallel, out=a.out)
    start = time.perf_counter()
    out = study(s)
    doc = json.loads((out / "study.json").read_text())
    print(f"{time.perf_counter() - start:.0f} s; threshold {doc['threshold']:.2f}")
    print((out / "report.md").read_text())
    finals = {}
    for cell in doc["cells"]:
        if cell["final"] is not None:  # null: diverged
            finals.setdefault(cell["entry"], []).append(cell["final"])
    compare(finals, f"final {doc['metric']}")
    if a.judge:
        judged(doc, out, a.judge, a.judge_samples)


def compare(values: dict[str, list[float]], what: str) -> None:
    """Print each entry's mean against the first entry's: ratio, and Welch's t-test p-value over seeds."""
    from scipy.stats import ttest_ind

    first, *others = values
    base = values[first]
    print(f"\n{what} against {first}: ratio of means, Welch's t-test over seeds\n\n| variant | ratio | p |\n|---|---|---|")
    for entry in others:
        ratio = (sum(values[entry]) / len(values[entry])) / (sum(base) / len(base))
        print(f"| {entry} | {ratio:.2f} | {ttest_ind(values[entry], base, equal_var=False).pvalue:.2g} |")


def judged(doc: dict, out, judge: str, samples: int) -> None:
    """Print a table of FD-judge, recall and coverage of every variant's final G (mean +/- sd over seeds); keep it in judged.json."""
    import dcgan
    from dcgan.analysis import evaluate

    rows: dict[str, list[dict]] = {}
    for cell in doc["cells"]:
        if cell["status"] != "finished":
            continue
        r = evaluate(dcgan.load(out / cell["run_dir"]), metrics="fid,prdc", extractor=f"judge:{judge}", num_samples=samples).results
        rows.setdefault(cell["entry"], []).append({"seed": cell["seed"], **r})
    (out / "judged.json").write_text(json.dumps({"judge": judge, "samples": samples, "cells": rows}, indent=1) + "\n")

    def pm(values: list[float]) -> str:
        m = sum(values) / len(values)
        sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        return f"{m:.3g} ± {sd:.2g}"

    print(f"\nFinal G on the judge's features ({samples} samples vs as many training images), mean ± sd over seeds:\n")
    print("| variant | FD-judge | recall | coverage |\n|---|---|---|---|")
    for entry, cells in rows.items():
        fd = next(k for k in cells[0] if k.startswith("FD-"))
        print(f"| {entry} | {pm([c[fd] for c in cells])} | {pm([c['recall'] for c in cells])} | {pm([c['coverage'] for c in cells])} |")
    compare({entry: [c[fd] for c in cells] for entry, cells in rows.items()}, f"final {fd}")


if __name__ == "__main__":
    main()
