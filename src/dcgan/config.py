"""Frozen, validated settings for data, models and training; saved as ``config.json`` in every run.

Every default is the paper's (PAPER.md sections 1-2) unless its comment says otherwise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from dcgan.errors import UserError

IMAGE_SIZES = (16, 32, 64, 128, 256)
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
EVAL_METRICS = ("fid", "kid")  # training-time metrics (dcgan.metrics.evaluate.METRICS holds all)
EVAL_EXTRACTORS = ("random", "judge", "dfeat", "inception")  # dcgan.metrics.extractors.EXTRACTORS


def check_image_size(size: int) -> int:
    """Return ``size`` if the nets support it, else raise a UserError naming the allowed sizes."""
    if size not in IMAGE_SIZES:
        raise UserError(f"image size {size} is not supported: use a power of two from 16 to 256 ({', '.join(map(str, IMAGE_SIZES))})")
    return size


@dataclass(frozen=True)
class DataConfig:
    """Where training images come from and how they are shaped."""

    spec: str = "rooms"  # folder, .npz file, torchvision name, 'rooms' (procedural) or 'fake'
    data_root: str | None = None  # where named datasets live; default $DCGAN_DATA_ROOT or ./data
    image_size: int = 64  # images are centre-cropped to a square, then resized to this
    channels: int | None = None  # 1 (grey) or 3 (RGB); None infers it from the data
    download: bool = False  # torchvision sets only; needs a network
    num_images: int | None = None  # use at most this many (procedural sources: exactly this many)

    def __post_init__(self) -> None:
        check_image_size(self.image_size)
        if self.channels not in (None, 1, 3):
            raise UserError(f"--channels must be 1 or 3, not {self.channels}")
        if self.num_images is not None and self.num_images < 1:
            raise UserError(f"--num-images must be positive, not {self.num_images}")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of G and D; together with the weights it rebuilds both nets (stored in every checkpoint)."""

    image_size: int = 64
    channels: int = 3
    z_dim: int = 100
    z_dist: str = "normal"  # the official code uses 'uniform' in [-1, 1]; most re-implementations N(0, 1)
    ngf: int = 64  # G width at the last hidden layer; doubles per block towards z (paper figure: 128)
    ndf: int = 64  # D width at the first layer; doubles per block
    kernel_size: int = 4  # 5 as in the official Theano code

    def __post_init__(self) -> None:
        check_image_size(self.image_size)
        if self.channels not in (1, 3):
            raise UserError(f"channels must be 1 or 3, not {self.channels}")
        if self.z_dist not in ("normal", "uniform"):
            raise UserError(f"--z-dist must be 'normal' or 'uniform', not {self.z_dist!r}")
        if self.kernel_size not in (4, 5):
            raise UserError(f"--kernel-size must be 4 or 5, not {self.kernel_size}")
        for name in ("z_dim", "ngf", "ndf"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be positive")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, schedule and output settings."""

    batch_size: int = 128
    epochs: int | None = None  # None with no max_steps means 5 epochs (the paper shows 1 and 5)
    max_steps: int | None = None  # overrides epochs when given
    lr: float = 2e-4
    lr_decay: float = 0.0  # last fraction of the run over which both lrs fall linearly to 0; 0 = constant (the paper)
    beta1: float = 0.5
    beta2: float = 0.999  # unstated in the paper; Adam's default
    label_smoothing: float = 0.0  # one-sided: D's target for real images is 1 - this (Salimans et al. 2016); 0 = the paper
    ema: float = 0.0  # decay of a moving average of G's weights that samples and tools use; 0 = off (the paper)
    weight_decay: float = 0.0  # official code: 1e-5 (faces), 2.5e-5 (MNIST); not in the paper
    g_steps: int = 1  # G updates per D update; 1 = the paper (carpedm20's DCGAN-tensorflow uses 2)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "auto"  # auto = bf16 on CPUs with native bf16 and on CUDA, else fp32
    channels_last: bool = True  # measured faster on CPU and GPU
    compile: bool = False  # torch.compile; ~40 s start-up, gains nothing on top of channels-last on CPU
    log_every: int = 50  # steps between reading losses back from the device
    sample_every: int = 1  # epochs between fixed-seed sample grids
    snapshot_every: int = 1  # epochs between kept checkpoints (latest.pt is always rewritten)
    num_fixed_samples: int = 64
    out: str = "runs"
    name: str = "dcgan"
    # Evaluation during training (dcgan.metrics.tracking): a cheap metric of fixed samples, best.pt, collapse warnings.
    eval_every: int | None = None  # steps between evaluations; None = never
    eval_metric: str = "fid"  # fid (a Fréchet distance) or kid; both lower-is-better
    eval_extractor: str = "random"  # random (untrained D, needs no file), judge:PATH, dfeat:CKPT or inception (slow on CPU)
    eval_samples: int = 1000  # fixed seeds 0..N-1, scored against N training images
    early_stop: int | None = None  # stop after this many evaluations in a row well past the best; None = never

    def __post_init__(self) -> None:
        if self.batch_size < 2:
            raise UserError("--batch-size must be at least 2 (BatchNorm needs more than one image)")
        for name in ("epochs", "max_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be positive, not {value}")
        if self.precision not in PRECISIONS:
            raise UserError(f"--precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if not (self.lr > 0 and 0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise UserError("--lr must be positive and --beta1/--beta2 in [0, 1)")
        if not 0 <= self.label_smoothing < 0.5:
            raise UserError(f"--label-smoothing must be in [0, 0.5) (D's real target is 1 minus it), not {self.label_smoothing}")
        if self.g_steps < 1:
            raise UserError(f"--g-steps must be at least 1 (G updates per D update), not {self.g_steps}")
        if not 0 <= self.ema < 1:
            raise UserError(f"--ema is a decay in [0, 1) (0: off; 0.999 averages about the last 1,000 steps), not {self.ema}")
        if not 0 <= self.lr_decay <= 1:
            raise UserError(f"--lr-decay is a fraction of the run from 0 to 1, not {self.lr_decay}")
        for name in ("log_every", "sample_every", "snapshot_every", "num_fixed_samples"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be positive")
        self._check_eval()

    def _check_eval(self) -> None:
        for name in ("eval_every", "early_stop"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be positive, not {value}")
        if self.eval_metric not in EVAL_METRICS:
            raise UserError(f"--eval-metric must be one of {', '.join(EVAL_METRICS)}, not {self.eval_metric!r}")
        if self.eval_extractor.split(":")[0] not in EVAL_EXTRACTORS or self.eval_extractor in ("dfeat", "judge"):
            raise UserError(f"--eval-extractor must be random, judge:PATH, dfeat:CKPT or inception, not {self.eval_extractor!r} "
                            "(a bare dfeat would use the D being trained, whose changing features give numbers that do not compare)")
        if self.eval_samples < 10:
            raise UserError(f"--eval-samples must be at least 10, not {self.eval_samples}")
        if self.early_stop is not None and self.eval_every is None:
            raise UserError("--early-stop needs --eval-every N (it stops on the evaluated metric)")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready nested dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        """Rebuild from ``to_dict`` output; unknown keys are an error so that typos never pass silently."""
        parts = {}
        for f in fields(cls):
            section = raw.get(f.name, {})
            sub = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}[f.name]
            known = {g.name for g in fields(sub)}
            unknown = set(section) - known
            if unknown:
                raise UserError(f"unknown {f.name} settings {sorted(unknown)}: this config was written by a newer dcgan")
            parts[f.name] = sub(**section)
        return cls(**parts)


def model_config_from_dict(raw: dict[str, Any]) -> ModelConfig:
    """Rebuild a ModelConfig, rejecting unknown keys."""
    return RunConfig.from_dict({"model": raw}).model
