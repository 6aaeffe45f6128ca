"""Demo quality check (issue 3): judge 1,000 samples of a rooms checkpoint with a rooms judge.

Target: at least 80% of the samples confidently judged (max probability > 0.9 on every head) and
every value of every factor present. The judge is taken from --judge, or trained here on rooms at
the checkpoint's image size (held-out accuracy printed; about a minute on 2 CPU cores).

    make demo                                       # trains runs/NNNNN-demo
    .venv/bin/python benchmarks/demo_quality.py runs/$(ls runs | grep -- -demo$ | tail -n 1) --json demo_quality.json

Also scores the training images themselves (same seeds' worth of real rooms) as the reference, so the
ratio of the two confident shares is printed from one run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from dcgan.checkpoint import generator_from_checkpoint, load_checkpoint, resolve_checkpoint, run_config
from dcgan.config import DataConfig
from dcgan.data import load_data
from dcgan.errors import UserError
from dcgan.judges import TrainSettings, format_summary, load_judge, save_judge, summarise, train_judge
from dcgan.latent import z_from_seeds
from dcgan.sampling import generate

TARGET_CONFIDENT = 0.8


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="run folder or checkpoint of a rooms run")
    p.add_argument("--judge", help="rooms judge file (default: train one at the checkpoint's size)")
    p.add_argument("--save-judge", help="where to keep the judge trained here (default: not kept)")
    p.add_argument("--samples", type=int, default=1000, help="samples to judge (default: 1000)")
    p.add_argument("--start-seed", type=int, default=0, help="first seed (default: 0)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for judge training (1 is fastest on a busy machine)")
    p.add_argument("--json", metavar="PATH", help="also write the results here")
    args = p.parse_args()

    path = resolve_checkpoint(args.checkpoint)
    payload = load_checkpoint(path)
    cfg = run_config(payload)
    size = cfg.model.image_size
    if args.judge:
        judge = load_judge(args.judge)
    else:
        start = time.perf_counter()
        train = load_data(DataConfig(spec="rooms", image_size=size, num_images=16_000))
        val = load_data(DataConfig(spec="rooms:test", image_size=size, num_images=2000))
        judge, report = train_judge(train, val, list(train.labels), TrainSettings(threads=args.threads))
        print(f"judge trained in {time.perf_counter() - start:.0f} s; held-out accuracy: "
              + ", ".join(f"{f} {100 * a:.2f}%" for f, a in report["accuracy"].items()))
        if args.save_judge:
            save_judge(args.save_judge, judge)
    g = generator_from_checkpoint(payload)
    seeds = range(args.start_seed, args.start_seed + args.samples)
    with torch.inference_mode():
        images = generate(g, z_from_seeds(seeds, cfg.model.z_dim, cfg.model.z_dist))
    fake = summarise(judge, judge.predict(images))
    real_images = load_data(DataConfig(spec="rooms:test", image_size=size, num_images=args.samples)).images
    real = summarise(judge, judge.predict(real_images))
    print(f"checkpoint {path} (step {payload.get('step')}, data {cfg.data.spec}, {size}x{size})")
    print("samples: " + format_summary(fake))
    print("real rooms (reference): " + format_summary(real).splitlines()[0])
    ok = fake["confident_share"] >= TARGET_CONFIDENT and fake["all_values_present"]
    print(f"confident share samples / real: {fake['confident_share'] / max(real['confident_share'], 1e-9):.3f}; "
          f"target >= {TARGET_CONFIDENT:.0%} and every value present: {'PASS' if ok else 'FAIL'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"checkpoint": str(path), "step": payload.get("step"), "samples": fake,
                                               "real": real, "judge_report": judge.report, "pass": ok}, indent=2) + "\n")
        print(f"results: {args.json}")


if __name__ == "__main__":
    try:
        main()
    except UserError as exc:
        raise SystemExit(f"demo_quality: error: {exc}") from None
