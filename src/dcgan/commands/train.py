"""Train a DCGAN with the paper's settings (Adam 2e-4, beta1 0.5, batch 128, N(0, 0.02) init,
LeakyReLU 0.2, z of 100), or continue a run with --resume.

Examples:
  dcgan train                                   # procedural rooms at 64x64 (no download needed)
  dcgan train --data ./my_images --image-size 128 --epochs 25
  dcgan train --data mnist --data-root ./data --image-size 32 --epochs 2
  dcgan train --resume runs/00003-dcgan --epochs 10
  dcgan train --data mnist --image-size 32 --epochs 5 --eval-every 200 --early-stop 5   # finds ./data or $DCGAN_DATA_ROOT

Each run writes runs/NNNNN-NAME/: config.json, log.txt, metrics.jsonl, tensorboard/, samples/ (a
fixed-seed grid per epoch), loss_curves.png and checkpoints/ (latest.pt plus one per epoch; best.pt with
--eval-every).
"""

from __future__ import annotations

import argparse
from typing import Any

from dcgan.config import DataConfig, ModelConfig, TrainConfig
from dcgan.settings import add_arguments as add_settings

SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add every training flag (from the config dataclasses); unset flags stay out of the namespace (for --resume)."""
    for name, cls in SECTIONS.items():
        add_settings(p, cls, dest_prefix=f"{name}.", suppress=True)
    p.add_argument("--resume", metavar="RUN_OR_CKPT", help="continue a run from its folder (latest.pt) or a checkpoint file")


def given_settings(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Return {section: {field: value}} for the flags the user gave."""
    given: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for key, value in vars(args).items():
        section, _, name = key.partition(".")
        if section in given and name:
            given[section][name] = value
    return given


def run(args: argparse.Namespace) -> int:
    from dcgan.train import resume_or_train

    print(f"run folder: {resume_or_train(given_settings(args), args.resume)}")
    return 0
