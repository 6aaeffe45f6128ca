"""Train a DCGAN with the paper's settings (Adam 2e-4, beta1 0.5, batch 128, N(0, 0.02) init,
LeakyReLU 0.2, z of 100), or continue a run with --resume.

Examples:
  dcgan train                                   # procedural rooms at 64x64 (no download needed)
  dcgan train --data ./my_images --image-size 128 --epochs 25
  dcgan train --data mnist --data-root ../shared/data --image-size 32 --epochs 2
  dcgan train --resume runs/00003-dcgan --epochs 10
  dcgan train --data mnist --data-root ../shared/data --image-size 32 --epochs 5 --eval-every 200 --early-stop 5

Each run writes runs/NNNNN-NAME/: config.json, log.txt, metrics.jsonl, tensorboard/, samples/ (a
fixed-seed grid per epoch), loss_curves.png and checkpoints/ (latest.pt plus one per epoch; best.pt with
--eval-every).
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields
from typing import Any

from dcgan.config import DataConfig, ModelConfig, TrainConfig

SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}

# flag -> (config section.field, type, help). Defaults come from the config dataclasses.
FLAGS: list[tuple[str, str, Any, str]] = [
    ("--data", "data.spec", str, "SPEC: image folder, .npz file, mnist|fashion-mnist|cifar10|svhn|celeba|lsun:<category>, rooms or fake; add :test etc. for a split"),
    ("--data-root", "data.data_root", str, "folder holding named datasets (default: $DCGAN_DATA_ROOT or ./data)"),
    ("--image-size", "data.image_size", int, "square image size, a power of two from 16 to 256"),
    ("--channels", "data.channels", int, "1 (grey) or 3 (RGB); default: inferred from the data"),
    ("--num-images", "data.num_images", int, "use at most this many images (procedural data: exactly this many)"),
    ("--z-dim", "model.z_dim", int, "size of the latent code z"),
    ("--z-dist", "model.z_dist", str, "distribution of z: normal, or uniform in [-1, 1] (the official code)"),
    ("--ngf", "model.ngf", int, "generator base width (channels of its last hidden layer)"),
    ("--ndf", "model.ndf", int, "discriminator base width (channels of its first layer)"),
    ("--kernel-size", "model.kernel_size", int, "kernel of the strided convolutions: 4, or 5 as in the official code"),
    ("--epochs", "train.epochs", int, "passes over the data (default 5 when --max-steps is not given)"),
    ("--max-steps", "train.max_steps", int, "stop after this many steps (overrides --epochs)"),
    ("--batch-size", "train.batch_size", int, "images per step"),
    ("--lr", "train.lr", float, "Adam learning rate"),
    ("--lr-decay", "train.lr_decay", float, "fraction of the run, at its end, over which the learning rate falls linearly to 0 (0: constant, as in the paper)"),
    ("--beta1", "train.beta1", float, "Adam beta1"),
    ("--beta2", "train.beta2", float, "Adam beta2"),
    ("--label-smoothing", "train.label_smoothing", float, "one-sided label smoothing: D's target for real images is 1 minus this (e.g. 0.1); 0: off, as in the paper"),
    ("--ema", "train.ema", float, "keep a moving average of G's weights with this decay (e.g. 0.999) and sample from it; 0: off, as in the paper"),
    ("--weight-decay", "train.weight_decay", float, "L2 weight decay (official code: 1e-5 faces, 2.5e-5 MNIST)"),
    ("--g-steps", "train.g_steps", int, "G updates per D update, each on a fresh G(z) of the same z (1: the paper; 2: carpedm20's DCGAN-tensorflow)"),
    ("--seed", "train.seed", int, "seed for init, data order and noise"),
    ("--device", "train.device", str, "auto (CUDA when present), cpu, cuda or cuda:N"),
    ("--precision", "train.precision", str, "auto, fp32, bf16 or fp16 (auto: bf16 on CUDA and on CPUs with native bf16, else fp32)"),
    ("--log-every", "train.log_every", int, "steps between metric records"),
    ("--sample-every", "train.sample_every", int, "epochs between fixed-seed sample grids"),
    ("--snapshot-every", "train.snapshot_every", int, "epochs between kept checkpoints (latest.pt is always kept)"),
    ("--eval-every", "train.eval_every", int, "steps between evaluations of fixed samples: logs the metric, keeps checkpoints/best.pt, warns of collapse (default: off)"),
    ("--eval-metric", "train.eval_metric", str, "metric of --eval-every: fid (a Fréchet distance) or kid"),
    ("--eval-extractor", "train.eval_extractor", str, "features for --eval-metric: random (cheap, no file), judge:PATH, dfeat:CKPT or inception (slow on CPU)"),
    ("--eval-samples", "train.eval_samples", int, "samples (seeds 0..N-1) and training images compared at each evaluation"),
    ("--early-stop", "train.early_stop", int, "stop after K evaluations in a row more than 25%% worse than the best (default: never)"),
    ("--out", "train.out", str, "folder that holds the run folders"),
    ("--name", "train.name", str, "run name (the folder is OUT/NNNNN-NAME)"),
]
CHOICES = {"--eval-metric": ["fid", "kid"], "--z-dist": ["normal", "uniform"], "--kernel-size": [4, 5], "--channels": [1, 3], "--precision": ["auto", "fp32", "bf16", "fp16"]}
SWITCHES = [
    ("--download", "data.download", "download a torchvision dataset when missing (needs a network)"),
    ("--channels-last", "train.channels_last", "use channels-last memory format (faster on CPU and GPU); --no-channels-last to disable"),
    ("--compile", "train.compile", "torch.compile the nets (slow start; see README for when it pays)"),
]


def _default(key: str) -> Any:
    section, name = key.split(".")
    f = next(f for f in fields(SECTIONS[section]) if f.name == name)
    return None if f.default is MISSING else f.default


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add every training flag; unset flags stay out of the namespace (so --resume knows what was given)."""
    for flag, key, kind, help_text in FLAGS:
        default = _default(key)
        shown = f" (default: {default})" if default is not None else ""
        metavar = {"--data": "SPEC", "--data-root": "DIR", "--out": "DIR"}.get(flag, flag[2:].upper().replace("-", "_"))
        p.add_argument(flag, dest=key, type=kind, metavar=metavar, choices=CHOICES.get(flag), default=argparse.SUPPRESS, help=help_text + shown)
    for flag, key, help_text in SWITCHES:
        action = argparse.BooleanOptionalAction if _default(key) else "store_true"
        p.add_argument(flag, dest=key, action=action, default=argparse.SUPPRESS, help=f"{help_text} (default: {_default(key)})")
    p.add_argument("--resume", metavar="RUN_OR_CKPT", help="continue a run from its folder (latest.pt) or a checkpoint file")


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Return {'section.field': value} for the flags the user gave."""
    keys = [key for _, key, *_ in FLAGS] + [key for _, key, _ in SWITCHES]
    return {key: getattr(args, key) for key in keys if hasattr(args, key)}


def run(args: argparse.Namespace) -> int:
    from dcgan.config import RunConfig
    from dcgan.train import resume, train

    given = given_settings(args)
    if args.resume:
        overrides = {k.split(".")[1]: v for k, v in given.items() if k.startswith("train.")}
        fixed = {k: v for k, v in given.items() if not k.startswith("train.")}
        run_dir = resume(args.resume, overrides, fixed)
    else:
        sections: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
        for key, value in given.items():
            section, name = key.split(".")
            sections[section][name] = value
        if "image_size" in sections["data"]:
            sections["model"]["image_size"] = sections["data"]["image_size"]
        cfg = RunConfig(**{name: cls(**sections[name]) for name, cls in SECTIONS.items()})
        run_dir = train(cfg)
    print(f"run folder: {run_dir}")
    return 0
