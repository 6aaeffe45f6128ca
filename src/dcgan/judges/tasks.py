"""What 'dcgan judge train | score | select' do, as library calls: objects and settings in, results out.

Nothing here writes files or prints: ``dcgan.report.judge`` writes the results, so a refused call leaves
no trace. The settings are those of the command line (``dcgan.settings.judge``), so a Python call is
validated with the same messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dcgan.api import Model
from dcgan.data.base import ImageData
from dcgan.errors import UserError
from dcgan.judges.judge import CONFIDENT, Judge
from dcgan.judges.query import select_seeds
from dcgan.judges.summary import format_summary, summarise
from dcgan.judges.training import TrainSettings, pick_factors, train_judge, train_localiser
from dcgan.report import Result
from dcgan.settings.judge import JudgeScoreSettings, JudgeSelectSettings, JudgeTrainSettings

ROOMS_TRAIN_IMAGES = 16_000  # default training images for rooms (other data: all of it)


def judged_real(probs: Mapping[str, torch.Tensor], threshold: float = CONFIDENT) -> torch.Tensor | None:
    """Return (N,) bool: realness above ``threshold`` (judged like the data); None when the judge has no realness net.

    Probabilities without a ``real`` attribute (a judge trained before realness nets, or a stub) give None.
    """
    real = getattr(probs, "real", None)
    return None if real is None else real > threshold


def real_share(probs: Mapping[str, torch.Tensor], threshold: float = CONFIDENT) -> float | None:
    """Return the share of judged images whose realness exceeds ``threshold``; None when the judge has no realness net.

    Every judged share should travel with this one: without it, a confident share may count garbage.
    """
    real = judged_real(probs, threshold)
    return None if real is None else float(real.float().mean())


@dataclass
class TrainingData:
    """Labelled training and held-out images, the factors to judge, and how the held-out images were chosen."""

    train: ImageData
    val: ImageData
    factors: list[str]
    heldout: str  # e.g. "rooms:test (2000 images)" or "10% of the images, chosen with seed 0"
    rooms_seed: int | None = None  # the rooms dataset seed (a localiser is trained for rooms only), else None

    def lines(self) -> list[str]:
        """Say what the judge will learn from (printed before the long part starts)."""
        return [f"held-out data: {self.heldout}", f"training data: {self.train.description}; judging {', '.join(self.factors)}"]


def _has_test_split(spec: str) -> bool:
    """Return True for sources whose ':test' split is real data of its own (not a folder, which has none)."""
    from dcgan.data import split_spec
    from dcgan.data.named import is_named

    source, split = split_spec(spec)
    return split == "train" and (source == "rooms" or source.startswith("rooms:") or source.lower().endswith(".npz") or is_named(source))


def training_data(settings: JudgeTrainSettings) -> TrainingData:
    """Load labelled data for a judge; held-out data: ``val_data``, else the source's test split, else ``val_fraction`` of it."""
    from dcgan.config import DataConfig
    from dcgan.data import load_data, split_spec
    from dcgan.data.rooms import parse_rooms_spec

    s = settings
    source, _ = split_spec(s.data)
    rooms = source == "rooms" or source.startswith("rooms:")

    def load(spec: str, n: int | None) -> ImageData:
        return load_data(DataConfig(spec=spec, data_root=s.data_root, image_size=s.image_size, channels=s.channels, num_images=n))

    train = load(s.data, s.num_images or (ROOMS_TRAIN_IMAGES if rooms else None))
    factors = pick_factors(train, s.labels)
    val = None
    if s.val_data:
        val, heldout = load(s.val_data, None), s.val_data
    elif _has_test_split(s.data):
        try:
            val = load(f"{source}:test", s.val_images if rooms else None)
            heldout = val.description
        except UserError:
            val = None
    if val is None:
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(s.seed))
        n_val = max(1, int(len(train) * s.val_fraction))
        val, train = train.subset(order[:n_val]), train.subset(order[n_val:])
        heldout = f"{n_val} of the images ({s.val_fraction:.0%}), chosen with seed {s.seed}"
    return TrainingData(train, val, factors, heldout, parse_rooms_spec(source)["seed"] if rooms else None)


@dataclass
class TrainResult(Result):
    """A trained judge and its report; ``passed`` says whether every head (and realness) is accurate enough to save."""

    tool = "judge-train"
    judge: Judge | None = field(default=None, repr=False)
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.report["passed"])

    def below(self) -> dict[str, float]:
        """Return {head: held-out accuracy} of the heads (realness as 'realness') below the minimum."""
        low = {f: a for f, a in self.report["accuracy"].items() if a < self.report["min_accuracy"]}
        real = self.report.get("realness")
        if real and real["accuracy"] < self.report["min_accuracy"]:
            low["realness"] = real["accuracy"]
        return low

    def refusal(self, report_path: Path) -> str | None:
        """Return why the judge must not be saved and what to do (None when it passed); ``report_path`` holds the details."""
        if self.passed:
            return None
        below, least = self.below(), self.report["min_accuracy"]
        low = ", ".join(f"{f} {100 * a:.1f}%" for f, a in below.items())
        noise = "; data that look like noise need --no-realness" if "realness" in below else ""
        return (f"not saving the judge: held-out accuracy below {least:.0%} for {low} (report: {report_path}); "
                f"train longer (--epochs), on more images (--num-images), or lower --min-accuracy knowingly{noise}")

    def summary(self) -> dict[str, Any]:
        return self.report

    def lines(self) -> list[str]:
        least = self.report["min_accuracy"]

        def flag(acc: float) -> str:
            return "" if acc >= least else f"  BELOW {least}"

        out = [f"  {f:<10} held-out accuracy {100 * acc:.2f}%{flag(acc)}" for f, acc in self.report["accuracy"].items()]
        r = self.report.get("realness")
        if r:
            out.append(f"  {'realness':<10} held-out accuracy {100 * r['accuracy']:.2f}% (real images vs synthetic negatives; "
                       f"above {r['threshold']}: {100 * r['real_confident_share']:.1f}% of real, "
                       f"{100 * r['negative_confident_share']:.1f}% of negatives){flag(r['accuracy'])}")
        if self.judge is not None and self.judge.localiser is not None:
            out.append("  localiser held-out IoU: " + ", ".join(f"{o} {v:.3f}" for o, v in self.judge.localiser.report["iou"].items()))
        return out


def train(data: TrainingData, settings: JudgeTrainSettings, *, device: str = "auto", log: Any = print) -> TrainResult:
    """Train a judge on ``data``; for rooms, when it passes, also a localiser (its report goes in the judge's)."""
    s = settings
    inner = TrainSettings(epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, width=s.width, seed=s.seed, augment=s.augment,
                          realness=s.realness, min_accuracy=s.min_accuracy, localiser_steps=s.localiser_steps, device=device,
                          threads=s.threads, log=log)
    judge, report = train_judge(data.train, data.val, data.factors, inner)
    if report["passed"] and data.rooms_seed is not None and s.localiser_steps:
        judge.localiser = train_localiser(data.train.image_size, data.train.channels, inner, data.rooms_seed)
        report["localiser"] = judge.localiser.report
    report["data"] = s.data
    judge.report = report
    source = {"data": s.data, "training": data.train.description, "heldout": data.heldout}
    return TrainResult(s, source, judge, report)


def read_images(target: Path, size: int, channels: int, resize: bool) -> tuple[torch.Tensor, list[str]]:
    """Return (uint8 images, names) from an image file or a folder (recursive), checked against the judge's size."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from dcgan.data.base import fit_images
    from dcgan.data.folder import list_images

    files = [target] if target.is_file() else list_images(target)
    if not files:
        raise UserError(f"no images in {target}")
    images, names = [], []
    for f in files:
        try:
            with Image.open(f) as img:
                arr = np.asarray(img.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise UserError(f"cannot read image {f}: {exc}") from None
        x = torch.from_numpy(np.ascontiguousarray(arr[None] if channels == 1 else arr.transpose(2, 0, 1))).unsqueeze(0)
        if x.shape[-2:] != (size, size):
            if not resize:
                raise UserError(f"{f} is {x.shape[-1]}x{x.shape[-2]} but the judge was trained on {size}x{size} images: "
                                f"pass --resize to resize (judgements of resized images are less reliable), or train a judge "
                                f"at that size (dcgan judge train --image-size {x.shape[-1]})")
            x = fit_images(x, size)
        images.append(x)
        names.append(str(f.relative_to(target)) if target.is_dir() else f.name)
    return torch.cat(images), names


def is_checkpoint(target: Path) -> bool:
    """Return True for a checkpoint file or a run folder (scored through its samples), False for images."""
    return target.suffix == ".pt" or (target.is_dir() and (target / "checkpoints").is_dir())


def open_target(target: str | Path, device: str = "auto", label: int | None = None) -> Model | Path:
    """Return what 'dcgan judge score' judges: the Model of a checkpoint or run folder (drawing class ``label`` if
    given), else the image file or folder."""
    from dcgan import api

    path = Path(target)
    if not path.exists():
        raise UserError(f"nothing at {path}: give an image folder, an image file, a checkpoint or a run folder")
    if is_checkpoint(path):
        return api.load(path, device, label=label)
    if label is not None:
        raise UserError(f"--label {label} picks the class a conditional checkpoint draws; {path} holds images, not a checkpoint")
    return path


def samples(model: Model, seeds: list[int] | tuple[int, ...], judge: Judge, resize: bool = False) -> tuple[torch.Tensor, list[str]]:
    """Return (uint8 G(z) images of ``seeds``, names).

    Images of another size or channel count are refused, or with ``resize`` fitted to the judge as image
    files are (antialiased bilinear resize, grey <-> RGB).
    """
    from dcgan.data.base import fit_images

    mismatch = (model.image_size, model.channels) != (judge.image_size, judge.channels)
    if mismatch and not resize:
        raise UserError(f"{model.path} makes {model.image_size}x{model.image_size}x{model.channels} images but the judge was trained on "
                        f"{judge.image_size}x{judge.image_size}x{judge.channels}: pass --resize to fit them to the judge "
                        f"(judgements of resized images are less reliable), or use a judge trained at that size "
                        f"(dcgan judge train --image-size {model.image_size})")
    images = model.sample(seeds)
    if mismatch:
        images = fit_images(images, judge.image_size, judge.channels)
    return images, [f"seed-{s}" for s in seeds]


def judge_name(judge: Any) -> str:
    """Return how results name a judge: the path it was loaded from."""
    return str(getattr(judge, "source", None) or getattr(judge, "path", None) or "judge")


@dataclass
class ScoreResult(Result):
    """A judged set of images: the summary (see ``summarise``) and each image's verdict.

    Written by ``dcgan.report.judge.write_scores`` (a file named by --out, not a folder, so not ``report.save``).
    """

    tool = "judge-score"
    judge: str = ""
    target: str = ""
    stats: dict[str, Any] = field(default_factory=dict)  # summarise() output
    images: list[dict[str, Any]] = field(default_factory=list)  # {"name", "confident", "real", "labels", "probs"} per image

    def summary(self) -> dict[str, Any]:
        return {"judge": self.judge, "target": self.target, "summary": self.stats, "images": self.images}

    def lines(self) -> list[str]:
        return format_summary(self.stats).splitlines()


def score(judge: Judge, target: Model | str | Path, settings: JudgeScoreSettings | None = None, **options: Any) -> ScoreResult:
    """Judge a checkpoint's samples of ``settings.seeds`` (``target`` a Model) or image files (a file or folder).

    Returns the summary and per-image labels, probabilities, realness and confidence.
    """
    s = JudgeScoreSettings.build(settings, **options)
    if isinstance(target, Model):
        images, names = samples(target, s.seeds, judge, s.resize)
        source, where = target.describe(), str(target.path)
    else:
        images, names = read_images(Path(target), judge.image_size, judge.channels, s.resize)
        source, where = {"images": str(target)}, str(target)
    probs = judge.predict(images)
    confident = judge.confident(probs, s.threshold).tolist()
    real = None if probs.real is None else probs.real.tolist()
    values = judge.value_names
    per_image = [
        {"name": name, "confident": confident[i], "real": None if real is None else round(real[i], 5),
         "labels": {f: values[f][int(p[i].argmax())] for f, p in probs.items()},
         "probs": {f: [round(float(v), 5) for v in p[i]] for f, p in probs.items()}}
        for i, name in enumerate(names)
    ]
    return ScoreResult(s, source, judge_name(judge), where, summarise(judge, probs, s.threshold), per_image)


@dataclass
class SelectResult(Result):
    """Seeds whose samples match a query, the samples themselves and their realness (None without a realness net).

    Written by ``dcgan.report.judge.write_selection``.
    """

    tool = "judge-select"
    judge: str = ""
    seeds: list[int] = field(default_factory=list)
    images: torch.Tensor | None = field(default=None, repr=False)  # uint8 (N, C, H, W), one per seed
    real: list[float] | None = None

    @property
    def real_share(self) -> float | None:
        """Share of the selected samples judged like the data (realness > CONFIDENT); None without a realness net."""
        return None if self.real is None else sum(r > CONFIDENT for r in self.real) / len(self.real)

    def summary(self) -> dict[str, Any]:
        return {"query": self.settings.query, "seeds": self.seeds, "real": self.real, "real_share": self.real_share, "judge": self.judge}

    def lines(self) -> list[str]:
        out = [f"seeds: {','.join(map(str, self.seeds))}"]
        if self.real is not None:
            out.append(f"judged like the data (realness > {CONFIDENT}): {sum(r > CONFIDENT for r in self.real)} of {len(self.real)}")
        return out


def select(judge: Judge, model: Model, settings: JudgeSelectSettings | None = None, **options: Any) -> SelectResult:
    """Return the first ``count`` seeds from ``start_seed`` whose samples match ``query`` (see ``select_seeds``)."""
    s = JudgeSelectSettings.build(settings, **options)
    seeds = select_seeds(model.generator, model.config, judge, s.query, s.count, s.start_seed, s.max_seeds, s.min_prob,
                         min_real=s.min_real)
    images = model.sample(seeds)
    real = judge.realness(images)
    return SelectResult(s, model.describe(), judge_name(judge), seeds, images,
                        None if real is None else [round(float(r), 5) for r in real])
