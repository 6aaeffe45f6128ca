"""Ablation study of the architecture guidelines: train every variant x seed with the same budget, then compare.

Each cell is a normal run folder (OUT/cells/VARIANT/seed-N/00000-cell) that every tool opens; a finished
cell is reused, so a stopped study continues. Writes OUT/study.json, OUT/report.md (a table per variant),
OUT/distance.png (distance vs step, band over seeds) and OUT/samples.png. See docs/study.md.

Examples:
  dcgan study --data rooms --image-size 32 --seeds 0-4 --max-steps 2000 --eval-every 200
  dcgan study --data mnist --variants dcgan,no-bn,mlp,beta1=0.9 --seeds 0-2 --parallel 2 --out study-mnist
"""

from __future__ import annotations

import argparse

from dcgan.settings import add_arguments as add_settings
from dcgan.settings import from_args
from dcgan.settings.study import StudySettings


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_settings(p, StudySettings)


def run(args: argparse.Namespace) -> int:
    from dcgan.study import study

    out = study(from_args(StudySettings, args))
    print(f"study: {out / 'study.json'}, {out / 'report.md'}, {out / 'distance.png'}, {out / 'samples.png'}")
    return 0
