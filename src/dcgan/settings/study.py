"""Settings of ``dcgan study``: which architecture variants and optimiser changes, how many seeds, what budget."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dcgan.config import VARIANTS, TrainConfig
from dcgan.errors import UserError
from dcgan.seeds import parse_seeds
from dcgan.settings import option

# Training settings a study entry may change on the paper's architecture ('beta1=0.9', 'lr=1e-3').
TRAIN_OVERRIDES = ("lr", "beta1", "beta2", "g_steps", "label_smoothing", "weight_decay")
DEFAULT_VARIANTS = ",".join((*VARIANTS, "beta1=0.9", "lr=1e-3"))
LAUNCHERS = ("local", "slurm", "submitit-local")


def parse_entry(entry: str) -> tuple[str, dict[str, float]]:
    """Return (architecture variant, training overrides) for one study entry: 'pooling' or 'beta1=0.9'."""
    if "=" not in entry:
        if entry not in VARIANTS:
            raise UserError(f"unknown study variant {entry!r}: use one of {', '.join(VARIANTS)} or a setting such as beta1=0.9 "
                            f"({', '.join(TRAIN_OVERRIDES)})")
        return entry, {}
    key, _, value = entry.partition("=")
    if key not in TRAIN_OVERRIDES:
        raise UserError(f"study variant {entry!r} changes {key!r}, which a study cannot vary: use one of {', '.join(TRAIN_OVERRIDES)}")
    try:
        number = float(value)
    except ValueError:
        raise UserError(f"study variant {entry!r}: {value!r} is not a number") from None
    kind = int if key == "g_steps" else float
    try:  # TrainConfig validates the value (e.g. a negative lr) so a bad entry is refused before any training
        dataclasses.replace(TrainConfig(), **{key: kind(number)})
    except UserError as exc:
        raise UserError(f"study variant {entry!r}: {exc}") from None
    return "dcgan", {key: kind(number)}


@dataclass(frozen=True)
class StudySettings:
    """One study: every variant x seed trained on the same data for the same number of steps."""

    data: str = option("rooms", "training data SPEC (as for dcgan train)", metavar="SPEC")
    data_root: str | None = option(None, "folder holding named datasets (default: $DCGAN_DATA_ROOT or ./data)", metavar="DIR")
    image_size: int = option(32, "square image size")
    num_images: int | None = option(None, "use at most this many training images")
    variants: str = option(DEFAULT_VARIANTS, "comma-separated architecture variants (dcgan, pooling, fc-hidden, bn-everywhere, no-bn, "
                           "relu-d, mlp) and training changes of the paper's model (beta1=0.9, lr=1e-3)", metavar="LIST")
    seeds: str = option("0-4", "training seeds of every variant ('0-4' or '0,3,7')", metavar="SEEDS")
    max_steps: int = option(2000, "training steps of every cell (the same budget for all)")
    eval_every: int = option(200, "steps between Fréchet-distance evaluations")
    eval_samples: int = option(500, "samples and training images compared at each evaluation")
    eval_extractor: str = option("random", "features of the distance: random (no file), judge:PATH or inception (slow on CPU)")
    batch_size: int = option(64, "images per step")
    z_dim: int = option(100, "size of z")
    ngf: int = option(32, "generator base width")
    ndf: int = option(32, "discriminator base width")
    threshold: float | None = option(None, "distance whose first crossing is 'steps to threshold' (default: the first variant's median final distance)")
    parallel: int = option(1, "cells trained at once: local processes (each gets its share of the CPU threads), or the job array's parallelism")
    launcher: str = option("local", "where cells run: local (in this process, or --parallel processes), slurm (one job per cell through "
                           "submitit, from the machine that can submit), or submitit-local (submitit's local executor: the same path, here)",
                           choices=LAUNCHERS)
    slurm_partition: str | None = option(None, "Slurm partition of the cell jobs (--launcher slurm)", metavar="NAME")
    timeout_min: int = option(120, "time limit of one cell job in minutes (--launcher slurm or submitit-local)")
    cpus_per_job: int = option(4, "CPU cores of one cell job (--launcher slurm); the cell trains with that many threads")
    gpus_per_job: int = option(0, "GPUs of one cell job (--launcher slurm)")
    out: str = option("study", "study folder: cells/VARIANT/seed-N run folders, study.json, report.md, figures", metavar="DIR")

    def __post_init__(self) -> None:
        self.entries()
        self.seed_list()
        if self.launcher not in LAUNCHERS:
            raise UserError(f"--launcher must be one of {', '.join(LAUNCHERS)}, not {self.launcher!r}")
        for name in ("max_steps", "eval_every", "batch_size", "parallel", "timeout_min", "cpus_per_job"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be positive, not {getattr(self, name)}")
        if self.eval_every > self.max_steps:
            raise UserError(f"--eval-every {self.eval_every} is more than --max-steps {self.max_steps}: no cell would be evaluated")
        if self.gpus_per_job < 0:
            raise UserError(f"--gpus-per-job must not be negative, not {self.gpus_per_job}")
        if self.threshold is not None and not self.threshold > 0:
            raise UserError(f"--threshold must be positive, not {self.threshold}")

    def entries(self) -> list[str]:
        names = [v.strip() for v in self.variants.split(",") if v.strip()]
        if not names:
            raise UserError("--variants is empty")
        if len(set(names)) != len(names):
            raise UserError(f"--variants names a variant twice: {self.variants}")
        for name in names:
            parse_entry(name)
        return names

    def seed_list(self) -> list[int]:
        return parse_seeds(self.seeds)
