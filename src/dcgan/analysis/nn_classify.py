"""The paper's MNIST appendix: a 1-nearest-neighbour classifier whose training set is class-conditional samples.

A conditional G (``dcgan train --conditional``) draws ``samples / K`` images of each of its K classes; each
real test image takes the class of its nearest sample in pixel space (Euclidean distance on [0, 1]
pixels); the error rate says how well the samples cover each class's real images. ``real`` runs the same
classifier on real labelled images instead (the paper's "real data" row), so both are measured alike.

The samples are never held all at once: they are drawn a ``chunk`` at a time and compared with every test
image as one matrix product ``|a|^2 - 2 a.b + |b|^2`` (50K x 10K at 32x32 is about 5e11 multiply-adds:
tens of seconds on two CPU cores), keeping each test image's nearest so far; memory does not grow with
``samples``, so the paper's 10M column runs anywhere (in time proportional to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from dcgan.api import Model
from dcgan.errors import UserError
from dcgan.report import Result
from dcgan.settings.nn_classify import NnClassifySettings

# The paper's table (section 6 appendix, MNIST test error of the 1-NN classifier), in percent.
PAPER_TABLE = (("real data", "50K", 3.1), ("fully connected GAN", "50K", 6.28), ("fully connected GAN", "10M", 5.65),
               ("DCGAN", "50K", 2.98), ("DCGAN", "10M", 1.48))


def flat_pixels(images: torch.Tensor) -> torch.Tensor:
    """Return uint8 (N, C, H, W) images as (N, C*H*W) float32 in [0, 1]."""
    return images.reshape(len(images), -1).float().div_(255.0)


@torch.inference_mode()
def nearest_neighbour(train: torch.Tensor, test: torch.Tensor, chunk: int = 1024, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (index of the nearest train row, its squared Euclidean distance) for each (N, F) test row.

    The search of ``dcgan memorization`` (train rows streamed ``chunk`` at a time, so 10M samples need not fit
    as one matrix); ties go to the lowest index, so the answer does not depend on ``chunk``.
    """
    from dcgan.analysis.memorization import nearest_neighbours

    dist, index = nearest_neighbours(test, train, torch.Tensor.float, chunk, progress="nearest samples" if progress else None)
    return index, dist.pow(2)


def nn_error(train: torch.Tensor, train_labels: torch.Tensor, test: torch.Tensor, test_labels: torch.Tensor,
             chunk: int = 1024, progress: bool = False) -> tuple[float, torch.Tensor]:
    """Return (error rate, predicted labels) of the 1-NN classifier with ``train`` rows on ``test`` rows."""
    index, _ = nearest_neighbour(train, test, chunk, progress)
    predicted = train_labels[index]
    return float((predicted != test_labels).float().mean()), predicted


class ClassSamples:
    """The classifier's training set, drawn on demand: row r is class r // per_class from seed start + r % per_class.

    Samples are seed-stable, so any row can be drawn again; indexing with a slice or an index tensor returns
    uint8 (N, C, H, W) images, which is all the nearest-neighbour search needs (10M samples at 32x32 would be
    10 GB held whole).
    """

    def __init__(self, model: Model, per_class: int, start_seed: int, batch_size: int) -> None:
        self.model, self.per_class, self.start_seed, self.batch_size = model, per_class, start_seed, batch_size
        self.classes = model.config.num_classes

    def __len__(self) -> int:
        return self.classes * self.per_class

    def labels(self, rows: torch.Tensor) -> torch.Tensor:
        return rows // self.per_class

    def __getitem__(self, rows: slice | torch.Tensor) -> torch.Tensor:
        if isinstance(rows, slice):
            r = range(len(self))[rows]
            rows = torch.arange(r.start, r.stop, r.step)
        classes = self.labels(rows)
        out = torch.empty((len(rows), self.model.channels, self.model.image_size, self.model.image_size), dtype=torch.uint8)
        join = self.model.generator.join
        before = join.label
        try:
            for label in classes.unique().tolist():
                mask = classes == label
                join.label = label
                out[mask] = self.model.sample((self.start_seed + rows[mask] % self.per_class).tolist(), self.batch_size)
        finally:
            join.label = before  # the Model may be used again, with the label it was opened with
        return out


def _labelled(spec: str, root: str | None, model: Model, limit: int | None) -> tuple[torch.Tensor, torch.Tensor, str]:
    from dcgan.config import DataConfig
    from dcgan.data import load_data

    data = load_data(DataConfig(spec=spec, data_root=root, image_size=model.image_size, channels=model.channels, num_images=limit))
    if "label" not in data.labels:
        raise UserError(f"{spec} has no class labels ('label'): nn-classify tests on labelled images such as mnist:test")
    labels = data.labels["label"]
    k = model.config.num_classes
    if int(labels.max()) >= k or int(labels.min()) < 0:
        raise UserError(f"{spec} has labels from {int(labels.min())} to {int(labels.max())}, but the model draws {k} classes")
    return data.images, labels, data.description


@dataclass
class NnClassifyResult(Result):
    """Test error of the 1-NN classifier built from samples (and, optionally, from real images), with a confusion matrix."""

    tool = "nn_classify"
    error: float = 0.0
    per_class_error: list[float] = field(default_factory=list)
    confusion: torch.Tensor = field(default=None, repr=False)  # (K, K) counts: row true class, column predicted
    test_description: str = ""
    test_count: int = 0
    sample_count: int = 0
    real_error: float | None = None
    real_count: int = 0
    real_description: str = ""
    examples: torch.Tensor = field(default=None, repr=False)  # uint8 (K, 8, C, H, W): the first samples of each class

    def summary(self) -> dict[str, Any]:
        return {"error": self.error, "per_class_error": self.per_class_error, "confusion": self.confusion.tolist(),
                "test": self.test_description, "test_images": self.test_count, "samples": self.sample_count,
                "real_error": self.real_error, "real_images": self.real_count, "real": self.real_description or None,
                "paper": [{"model": m, "samples": n, "error_percent": e} for m, n, e in PAPER_TABLE]}

    def lines(self) -> list[str]:
        out = [f"1-NN test error with {self.sample_count:,} class-conditional samples, on {self.test_count:,} test images: {100 * self.error:.2f}%"]
        if self.real_error is not None:
            out.append(f"1-NN test error with {self.real_count:,} real images ({self.real_description}): {100 * self.real_error:.2f}%")
        out.append("the paper (MNIST, 1-NN test error): " + "; ".join(f"{m} {n} {e}%" for m, n, e in PAPER_TABLE))
        return out


def nn_classify(model: Model, settings: NnClassifySettings | None = None, **options: Any) -> NnClassifyResult:
    """Return the 1-NN test error of class-conditional samples of ``model`` (and of real images with ``settings.real``)."""
    s = NnClassifySettings.build(settings, **options)
    if not model.config.conditional:
        raise UserError(f"{model.path} is not a conditional model: nn-classify needs one trained with --conditional (samples of known class)")
    k = model.config.num_classes
    if s.samples < k:
        raise UserError(f"--samples {s.samples} is fewer than the model's {k} classes: give at least one sample per class")
    test, test_labels, test_desc = _labelled(s.test, s.data_root, model, s.test_images)  # fails before any sampling
    real = _labelled(s.real, s.data_root, model, s.samples) if s.real else None
    samples = ClassSamples(model, s.samples // k, s.start_seed, s.batch_size)  # the same count per class: a balanced set
    from dcgan.analysis.memorization import nearest_neighbours

    _, index = nearest_neighbours(test, samples, flat_pixels, s.chunk, progress="class-conditional samples")
    predicted = samples.labels(index)
    error = float((predicted != test_labels).float().mean())
    confusion = torch.zeros(k, k, dtype=torch.long)
    confusion.index_put_((test_labels, predicted), torch.ones(len(test), dtype=torch.long), accumulate=True)
    per_class_error = [float(1 - confusion[c, c] / confusion[c].sum()) if confusion[c].sum() else float("nan") for c in range(k)]
    real_error, real_count, real_desc = None, 0, ""
    if real is not None:
        real_error, _ = nn_error(flat_pixels(real[0]), real[1], flat_pixels(test), test_labels, s.chunk, progress=True)
        real_count, real_desc = len(real[0]), real[2]
    shown = min(8, samples.per_class)
    examples = samples[(torch.arange(k)[:, None] * samples.per_class + torch.arange(shown)).flatten()]
    examples = examples.view(k, shown, *examples.shape[1:])
    return NnClassifyResult(s, model.describe(), error, per_class_error, confusion, test_desc, len(test), len(samples),
                            real_error, real_count, real_desc, examples)
