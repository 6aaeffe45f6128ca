"""Frozen, validated settings for data, models and training; saved as ``config.json`` in every run.

Every default is the paper's unless its help or comment says otherwise. Each field's help text is also its
``dcgan train`` flag's help (:func:`dcgan.settings.add_arguments`), so a setting's meaning is written once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

from dcgan.errors import UserError
from dcgan.settings import option

IMAGE_SIZES = (16, 32, 64, 128, 256)
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
EVAL_METRICS = ("fid", "kid")  # training-time metrics (dcgan.metrics.evaluate.METRICS holds all)
EVAL_EXTRACTORS = ("random", "judge", "dfeat", "inception")  # dcgan.metrics.extractors.EXTRACTORS
# The paper's recipe, then one ablation per architecture guideline (docs/study.md); dcgan.models builds each.
VARIANTS = ("dcgan", "pooling", "fc-hidden", "bn-everywhere", "no-bn", "relu-d", "mlp")


def check_image_size(size: int) -> int:
    """Return ``size`` if the nets support it, else raise a UserError naming the allowed sizes."""
    if size not in IMAGE_SIZES:
        raise UserError(f"image size {size} is not supported: use a power of two from 16 to 256 ({', '.join(map(str, IMAGE_SIZES))})")
    return size


@dataclass(frozen=True)
class DataConfig:
    """Where training images come from and how they are shaped."""

    spec: str = option("rooms", 'SPEC: image folder, .npz file, mnist|fashion-mnist|cifar10|svhn|celeba|lsun:<category>, rooms or fake; add :test etc. for a split', flag='--data', metavar="SPEC")
    data_root: str | None = option(None, 'folder holding named datasets (default: $DCGAN_DATA_ROOT or ./data)', metavar="DIR")
    image_size: int = option(64, 'square image size, a power of two from 16 to 256')
    channels: int | None = option(None, '1 (grey) or 3 (RGB); default: inferred from the data', choices=(1, 3))
    download: bool = option(False, 'download a torchvision dataset when missing (needs a network)')
    num_images: int | None = option(None, 'use at most this many images (procedural data: exactly this many)')

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
    z_dim: int = option(100, 'size of the latent code z')
    z_dist: str = option("normal", 'distribution of z: normal, or uniform in [-1, 1] (the official code)', choices=("normal", "uniform"))  # the official code uses 'uniform' in [-1, 1]; most re-implementations N(0, 1)
    ngf: int = option(64, 'generator base width (channels of its last hidden layer)')  # G width at the last hidden layer; doubles per block towards z (paper figure: 128)
    ndf: int = option(64, 'discriminator base width (channels of its first layer)')
    kernel_size: int = option(4, 'kernel of the strided convolutions: 4, or 5 as in the official code', choices=(4, 5))  # 5 as in the official Theano code
    variant: str = option("dcgan", 'architecture: dcgan (the paper\'s recipe) or an ablation that breaks one guideline: '
                          'pooling, fc-hidden, bn-everywhere, no-bn, relu-d, or mlp (the fully connected GAN of Goodfellow et al.); see docs/study.md',
                          choices=VARIANTS)
    conditional: bool = option(False, "condition G and D on the data's class label (the paper's MNIST appendix): a one-hot label joined to z "
                               "and to D's feature maps; sample with --label K; needs labelled data (an .npz with y_train, mnist, ...)")
    num_classes: int = 0  # of a conditional model; set from the data's labels by dcgan.train (0: unconditional)

    def __post_init__(self) -> None:
        check_image_size(self.image_size)
        if self.num_classes < 0 or (self.num_classes and not self.conditional) or self.num_classes == 1:
            raise UserError(f"num_classes {self.num_classes} does not fit conditional={self.conditional}: "
                            "an unconditional model has 0 classes, a conditional one at least 2")
        if self.channels not in (1, 3):
            raise UserError(f"channels must be 1 or 3, not {self.channels}")
        if self.z_dist not in ("normal", "uniform"):
            raise UserError(f"--z-dist must be 'normal' or 'uniform', not {self.z_dist!r}")
        if self.kernel_size not in (4, 5):
            raise UserError(f"--kernel-size must be 4 or 5, not {self.kernel_size}")
        if self.variant not in VARIANTS:
            raise UserError(f"unknown --variant {self.variant!r}: use one of {', '.join(VARIANTS)}")
        for name in ("z_dim", "ngf", "ndf"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be positive")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, schedule and output settings."""

    batch_size: int = option(128, 'images per step')
    epochs: int | None = option(None, 'passes over the data (default 5 when --max-steps is not given)')
    max_steps: int | None = option(None, 'stop after this many steps (overrides --epochs)')
    lr: float = option(2e-4, 'Adam learning rate')
    lr_decay: float = option(0.0, 'fraction of the run, at its end, over which the learning rate falls linearly to 0 (0: constant, as in the paper)')
    beta1: float = option(0.5, 'Adam beta1')
    beta2: float = option(0.999, 'Adam beta2')  # unstated in the paper; Adam's default
    label_smoothing: float = option(0.0, "one-sided label smoothing: D's target for real images is 1 minus this (e.g. 0.1); 0: off, as in the paper")  # one-sided: D's target for real images is 1 - this (Salimans et al. 2016); 0 = the paper
    ema: float = option(0.0, "keep a moving average of G's weights with this decay (e.g. 0.999) and sample from it; 0: off, as in the paper")
    weight_decay: float = option(0.0, 'L2 weight decay (official code: 1e-5 faces, 2.5e-5 MNIST)')  # official code: 1e-5 (faces), 2.5e-5 (MNIST); not in the paper
    g_steps: int = option(1, "G updates per D update, each on a fresh G(z) of the same z (1: the paper; 2: carpedm20's DCGAN-tensorflow)")
    seed: int = option(0, 'seed for init, data order and noise')
    device: str = option("auto", 'auto (CUDA when present), cpu, cuda or cuda:N')
    precision: str = option("auto", 'auto, fp32, bf16 or fp16 (auto: bf16 on CUDA and on CPUs with native bf16, else fp32)', choices=PRECISIONS)
    channels_last: bool = option(True, 'use channels-last memory format (faster on CPU and GPU)')
    cuda_graphs: bool = option(True, 'on a GPU, capture the training step once as a CUDA graph and replay it (one process, fp32 or bf16)')
    compile: bool = option(False, 'torch.compile the nets (slow start; see README for when it pays)')  # torch.compile; ~40 s start-up, gains nothing on top of channels-last on CPU
    log_every: int = option(50, 'steps between metric records')  # steps between reading losses back from the device
    sample_every: int = option(1, 'epochs between fixed-seed sample grids')
    snapshot_every: int = option(1, 'epochs between kept checkpoints (latest.pt is always kept)')
    num_fixed_samples: int = 64
    out: str = option("runs", 'folder that holds the run folders', metavar="DIR")
    name: str = option("dcgan", 'run name (the folder is OUT/NNNNN-NAME)')
    # Evaluation during training (dcgan.metrics.tracking): a cheap metric of fixed samples, best.pt, collapse warnings.
    eval_every: int | None = option(None, 'steps between evaluations of fixed samples: logs the metric, keeps checkpoints/best.pt, warns of collapse (default: off)')
    eval_metric: str = option("fid", 'metric of --eval-every: fid (a Fréchet distance) or kid', choices=EVAL_METRICS)
    eval_extractor: str = option("random", 'features for --eval-metric: random (cheap, no file), judge:PATH, dfeat:CKPT or inception (slow on CPU)')
    eval_samples: int = option(1000, 'samples (seeds 0..N-1) and training images compared at each evaluation')
    early_stop: int | None = option(None, 'stop after K evaluations in a row more than 25% worse than the best (default: never)')

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
