"""Training judges (factor heads plus a realness net) and rooms localisers, and measuring them on held-out data."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dcgan.data.base import ImageData, to_uint8, to_unit_range
from dcgan.device import cpu_threads
from dcgan.errors import UserError
from dcgan.judges.augment import NEGATIVES, degrade, make_negatives
from dcgan.judges.judge import CONFIDENT, Judge, Localiser
from dcgan.judges.nets import JudgeConfig, JudgeNet, LocaliserConfig, LocaliserNet, realness_config

DEFAULT_MIN_ACCURACY = 0.95  # a head below this held-out accuracy is not trusted to judge anything


@dataclass
class TrainSettings:
    """How a judge (and a rooms localiser) is trained; defaults reach >= 98% on every rooms head."""

    epochs: int = 2
    batch_size: int = 128
    lr: float = 3e-3
    width: int = 16
    feature_dim: int = 256
    seed: int = 0
    min_accuracy: float = DEFAULT_MIN_ACCURACY
    augment: bool = True  # train on mildly blurred, noisy, re-lit copies too (see ``degrade``)
    realness: bool = True  # also train a realness net against synthetic negatives (see ``make_negatives``)
    localiser_steps: int = 600  # 0: no localiser
    localiser_batch: int = 64
    localiser_val: int = 1000
    device: str = "auto"
    threads: int | None = None  # CPU threads; 1 is much faster on a machine shared with other jobs
    log: Callable[[str], None] = field(default=print, repr=False)


def _autocast(device: torch.device):
    from contextlib import nullcontext

    from dcgan.device import resolve_precision

    precision = resolve_precision("auto", device)
    return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()


def _schedule(opt: torch.optim.Optimizer, lr: float, steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 2), pct_start=0.15)


@torch.inference_mode()
def evaluate(judge: Judge, data: ImageData) -> dict[str, float]:
    """Return {factor: accuracy} of ``judge`` on labelled ``data``."""
    probs = judge.predict(data.images)
    return {f: float((p.argmax(1) == data.labels[f]).float().mean()) for f, p in probs.items()}


def evaluate_realness(judge: Judge, data: ImageData, seed: int = 1234) -> dict[str, Any] | None:
    """Return how the realness net does on held-out real ``data`` and on negatives made from it (None without one).

    ``accuracy`` is the mean of the two sides' accuracies at probability 0.5, comparable with a head's;
    the ``*_confident_share`` entries count realness above CONFIDENT, as ``Judge.confident`` does.
    """
    if not judge.has_realness:
        return None
    real = judge.realness(data.images)
    negatives = to_uint8(make_negatives(to_unit_range(data.images), torch.Generator().manual_seed(seed)))
    fake = judge.realness(negatives)
    return {
        "accuracy": float(((real > 0.5).float().mean() + (fake <= 0.5).float().mean()) / 2),
        "real_confident_share": float((real > CONFIDENT).float().mean()),
        "negative_confident_share": float((fake > CONFIDENT).float().mean()),
        "threshold": CONFIDENT, "negatives": list(NEGATIVES), "val_images": len(data),
    }


def pick_factors(data: ImageData, wanted: Sequence[str] | None) -> list[str]:
    """Return the label factors to judge: ``wanted`` (checked against the data) or all of them."""
    if not data.labels:
        raise UserError(f"{data.description} has no labels to train a judge on: use rooms, an .npz with y_ arrays, "
                        "an image folder with one subfolder per class, or a labelled torchvision set")
    if not wanted:
        return list(data.labels)
    missing = [f for f in wanted if f not in data.labels]
    if missing:
        raise UserError(f"no labels {', '.join(missing)} in {data.description}: it has {', '.join(data.labels)}")
    return list(dict.fromkeys(wanted))


def train_judge(train: ImageData, val: ImageData, factors: Sequence[str], settings: TrainSettings) -> tuple[Judge, dict[str, Any]]:
    """Train a judge on ``train``; return it and its report with held-out accuracy per head (and of realness) on ``val``."""
    with cpu_threads(settings.threads):
        return _train_judge(train, val, factors, settings)


def _train_judge(train: ImageData, val: ImageData, factors: Sequence[str], settings: TrainSettings) -> tuple[Judge, dict[str, Any]]:
    from dcgan.device import resolve_device

    device = resolve_device(settings.device)
    values = tuple(tuple(train.label_names.get(f) or [str(v) for v in range(int(train.labels[f].max()) + 1)]) for f in factors)
    for f, names in zip(factors, values, strict=True):
        top = max(int(train.labels[f].max()), int(val.labels[f].max()) if f in val.labels else 0)
        if top >= len(names) or int(train.labels[f].min()) < 0:
            raise UserError(f"labels of {f!r} run outside 0..{len(names) - 1} (the value names): check the data")
        if f not in val.labels:
            raise UserError(f"the held-out data has no {f!r} labels")
    cfg = JudgeConfig(train.image_size, train.channels, tuple(factors), values, settings.width, settings.feature_dim)
    torch.manual_seed(settings.seed)
    net = JudgeNet(cfg).to(device, memory_format=torch.channels_last)
    # The realness net has a trunk of its own, made after the judge net's and fed from its own generator:
    # the factor heads, their features and BatchNorm statistics are exactly those of a judge without it.
    real_net = None
    params = list(net.parameters())
    if settings.realness:
        real_cfg = realness_config(cfg.image_size, cfg.channels, settings.width, min(64, settings.feature_dim))
        real_net = JudgeNet(real_cfg).to(device, memory_format=torch.channels_last)
        params += list(real_net.parameters())
    opt = torch.optim.AdamW(params, lr=settings.lr, weight_decay=1e-4)
    steps_per_epoch = max(1, len(train) // settings.batch_size)
    sched = _schedule(opt, settings.lr, steps_per_epoch * settings.epochs)
    targets = torch.stack([train.labels[f] for f in factors], 1)  # (N, heads)
    gen = torch.Generator().manual_seed(settings.seed)
    neg_gen = torch.Generator().manual_seed(settings.seed + 1)
    start = time.perf_counter()
    net.train()
    if real_net is not None:
        real_net.train()
    for epoch in range(settings.epochs):
        order = torch.randperm(len(train), generator=gen)
        total = total_real = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * settings.batch_size : (step + 1) * settings.batch_size]
            clean = to_unit_range(train.images[idx].to(device))
            x = degrade(clean, gen) if settings.augment else clean
            y = targets[idx].to(device)
            with _autocast(device):
                logits = net(x.contiguous(memory_format=torch.channels_last))
            loss = sum(F.cross_entropy(o.float(), y[:, i]) for i, o in enumerate(logits))
            objective = loss
            if real_net is not None:
                # Real: the (possibly degraded) batch, so that mildly blurred or noisy images still count as real.
                positives = x if settings.augment else degrade(clean, neg_gen)
                both = torch.cat([positives, make_negatives(clean, neg_gen)]).contiguous(memory_format=torch.channels_last)
                is_real = torch.cat([torch.ones(len(x)), torch.zeros(len(x))]).long().to(device)
                with _autocast(device):
                    real_logits = real_net(both)[0]
                real_loss = F.cross_entropy(real_logits.float(), is_real)
                objective = loss + real_loss
                total_real += real_loss.item()
            opt.zero_grad(set_to_none=True)
            objective.backward()
            opt.step()
            sched.step()
            total += loss.item()
        realness_note = f", realness {total_real / steps_per_epoch:.4f}" if real_net is not None else ""
        settings.log(f"judge epoch {epoch + 1}/{settings.epochs}: loss {total / steps_per_epoch:.4f}{realness_note} "
                     f"({time.perf_counter() - start:.0f} s)")
    if real_net is not None:
        real_net = real_net.to(memory_format=torch.contiguous_format).eval()
    judge = Judge(net.to(memory_format=torch.contiguous_format).eval(), realness=real_net)
    accuracy = evaluate(judge, val)
    realness = evaluate_realness(judge, val)
    report = {
        "train_data": train.description, "train_images": len(train),
        "val_data": val.description, "val_images": len(val),
        "image_size": cfg.image_size, "channels": cfg.channels,
        "accuracy": accuracy, "values": {f: list(v) for f, v in zip(factors, values, strict=True)},
        "realness": realness,
        "min_accuracy": settings.min_accuracy,
        "passed": all(a >= settings.min_accuracy for a in accuracy.values())
                  and (realness is None or realness["accuracy"] >= settings.min_accuracy),
        "epochs": settings.epochs, "batch_size": settings.batch_size, "width": settings.width, "augment": settings.augment,
        "train_seconds": round(time.perf_counter() - start, 1),
    }
    judge.report = report
    return judge, report


def iou(pred: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> float:
    """Return intersection over union of two (N, H, W) soft masks, each thresholded, pooled over all pixels."""
    p, t = pred > threshold, target > threshold
    union = (p | t).sum()
    return float((p & t).sum() / union) if union else 1.0


def train_localiser(size: int, channels: int, settings: TrainSettings, seed: int = 0) -> Localiser:
    """Train a window/bed/rug localiser on freshly rendered rooms; its report holds held-out IoU per object."""
    with cpu_threads(settings.threads):
        return _train_localiser(size, channels, settings, seed)


def _train_localiser(size: int, channels: int, settings: TrainSettings, seed: int = 0) -> Localiser:
    from dcgan.data.base import convert_channels
    from dcgan.data.rooms import OBJECTS, render_rooms, split_indices
    from dcgan.device import resolve_device

    device = resolve_device(settings.device)
    cfg = LocaliserConfig(size, channels, OBJECTS, settings.width)
    torch.manual_seed(settings.seed)
    net = LocaliserNet(cfg).to(device, memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=1e-4)
    sched = _schedule(opt, settings.lr, settings.localiser_steps)

    def batch(indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        rooms = render_rooms(indices, size, seed, masks=True)
        images = convert_channels(rooms.images, channels)
        return images, torch.stack([rooms.object_mask(o) for o in OBJECTS], 1)

    start = time.perf_counter()
    net.train()
    b = settings.localiser_batch
    for step in range(settings.localiser_steps):
        images, target = batch(split_indices("train", step * b, b))  # every step sees new rooms
        x = to_unit_range(images.to(device)).contiguous(memory_format=torch.channels_last)
        with _autocast(device):
            logits = net(x)
        loss = F.binary_cross_entropy_with_logits(logits.float(), target.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 100 == 0 or step + 1 == settings.localiser_steps:
            settings.log(f"localiser step {step + 1}/{settings.localiser_steps}: loss {loss.item():.4f} ({time.perf_counter() - start:.0f} s)")
    loc = Localiser(net.to(memory_format=torch.contiguous_format).eval())
    images, target = batch(split_indices("test", 0, settings.localiser_val))
    pred = loc.masks(images)
    loc.report = {
        "iou": {o: round(iou(pred[o], target[:, i]), 4) for i, o in enumerate(OBJECTS)},
        "val_images": settings.localiser_val, "threshold": 0.5, "steps": settings.localiser_steps,
        "train_images": settings.localiser_steps * b, "train_seconds": round(time.perf_counter() - start, 1),
    }
    return loc
