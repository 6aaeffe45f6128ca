"""Memorisation check: how close are generated images to their nearest training image, compared with new real ones?

For N samples and N held-out real images (never trained on), the nearest training image is found in two
spaces: pixels (distance = root-mean-square difference of pixel values scaled to [0, 1]) and a feature
space (Euclidean distance of D's features or a judge's penultimate features). Held-out real images give
the distances a model that generalises should show: a genuinely new image is this far from the training set.

A sample is flagged as a *near-copy* when its distance is below the ``quantile`` (default 1%) point of the
held-out distances, in each space separately. Without memorisation about ``quantile * N`` samples fall below it by
chance (``expected_by_chance``); many more, or a sample-to-held-out median ratio well below 1, mean that
samples sit closer to training images than new real images do.

Nearest neighbours are exact: the reference set is streamed in chunks through ``torch.cdist`` (matrix
form) keeping a running minimum, then the distance to each chosen neighbour is recomputed directly, so a
true copy gives 0 rather than the matrix form's rounding error. Feature spaces come from
``dcgan.features``; the training images' features are cached (memory-mapped), so they are extracted once
for both query sets and for every rerun on the same checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from dcgan.api import Model
from dcgan.errors import UserError
from dcgan.features import (
    Extractor,
    cached_features,
    discriminator_extractor,
    judge_extractor,
    pixel_features,
)
from dcgan.report import Result
from dcgan.settings.memorization import MemorizationSettings

Embed = Callable[[torch.Tensor], torch.Tensor]  # uint8 images (n, C, H, W) -> float (n, F)


def pixel_embed(images: torch.Tensor) -> torch.Tensor:
    """Return (n, C*H*W) float32 vectors whose Euclidean distances are RMS pixel differences on a [0, 1] scale."""
    flat = pixel_features(images)
    return flat / (255.0 * flat.shape[1] ** 0.5)


def nearest_neighbours(queries: torch.Tensor, reference: torch.Tensor, embed: Embed, chunk: int = 2048,
                       progress: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (distances (N,), indices (N,)) of each query's nearest reference image under ``embed``.

    ``queries`` and ``reference`` are uint8 image tensors; the reference is embedded chunk by chunk,
    so it never has to fit in memory as features.
    """
    q = embed(queries).float()
    best = torch.full((len(q),), float("inf"))
    index = torch.zeros(len(q), dtype=torch.long)
    starts = range(0, len(reference), chunk)
    for start in tqdm(starts, desc=progress, disable=progress is None, leave=False):
        r = embed(reference[start : start + chunk]).float()
        d, i = torch.cdist(q, r).min(1)
        better = d < best
        best = torch.where(better, d, best)
        index = torch.where(better, i + start, index)
    exact = (q - embed(reference[index]).float()).norm(dim=1)  # the matrix form loses precision near 0
    return exact, index


def _rows(features: torch.Tensor) -> torch.Tensor:
    return features.float()


def search(samples: torch.Tensor, heldout: torch.Tensor, train: torch.Tensor, extractor: Extractor | None, chunk: int = 2048,
           name: str = "pixel", meta: dict[str, Any] | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (sample distances, their nearest training indices, held-out distances) in one space.

    ``extractor`` None means pixels (``pixel_embed``, computed per chunk: cheaper than any cache);
    otherwise the training images' features come from the feature cache, memory-mapped.
    """
    if extractor is None:
        sd, si = nearest_neighbours(samples, train, pixel_embed, chunk, f"{name}: samples")
        hd, _ = nearest_neighbours(heldout, train, pixel_embed, chunk, f"{name}: held-out")
        return sd, si, hd
    reference = cached_features(extractor, train, meta, f"{name}: training images", mmap=True).tensor()
    sd, si = nearest_neighbours(extractor.features(samples), reference, _rows, chunk, f"{name}: samples")
    hd, _ = nearest_neighbours(extractor.features(heldout), reference, _rows, chunk, f"{name}: held-out")
    return sd, si, hd


def summary(d: torch.Tensor) -> dict[str, float]:
    """Return the minimum, 1/5/25/50/75% quantiles and mean of distances."""
    qs = torch.quantile(d.double(), torch.tensor([0.01, 0.05, 0.25, 0.5, 0.75], dtype=torch.double)).tolist()
    return {"min": float(d.min()), "q01": qs[0], "q05": qs[1], "q25": qs[2], "median": qs[3], "q75": qs[4], "mean": float(d.mean())}


def compare(sample_d: torch.Tensor, heldout_d: torch.Tensor, quantile: float) -> dict[str, Any]:
    """Return both distance summaries, the near-copy threshold (``quantile`` of held-out distances) and the flagged counts."""
    threshold = float(torch.quantile(heldout_d.double(), quantile))
    flagged = sample_d < threshold
    return {
        "samples": summary(sample_d), "heldout": summary(heldout_d),
        "median_ratio": float(sample_d.median() / heldout_d.median()) if float(heldout_d.median()) > 0 else None,
        "threshold": threshold, "threshold_quantile": quantile,
        "near_copies": int(flagged.sum()), "expected_by_chance": quantile * len(sample_d),
        "below_heldout_min": int((sample_d < heldout_d.min()).sum()),
    }


DEFINITION = ("distance to the nearest training image; near-copy: below the --quantile point of the held-out distances "
              "(expected_by_chance = quantile x samples without memorisation)")


@dataclass
class Space:
    """One space's search: each sample's nearest training image and distance, the held-out distances, the comparison."""

    description: str
    sample_distances: torch.Tensor  # (N,)
    nearest: torch.Tensor  # (N,) index of each sample's nearest training image
    neighbours: torch.Tensor = field(repr=False)  # (N, C, H, W) uint8: those training images
    heldout_distances: torch.Tensor = field(repr=False)
    stats: dict[str, Any] = field(default_factory=dict)  # compare()'s numbers

    @property
    def flagged(self) -> torch.Tensor:
        """Return (N,) bool: the samples closer than the near-copy threshold."""
        return self.sample_distances < self.stats["threshold"]

    def record(self) -> dict[str, Any]:
        closest = [{"seed": int(i), "train_index": int(self.nearest[i]), "distance": float(self.sample_distances[i])}
                   for i in self.sample_distances.argsort()[:10]]
        return {"space": self.description, **self.stats, "closest": closest}


@dataclass
class MemorizationResult(Result):
    """The generated samples and, per space (pixel, features), their nearest training images and the near-copy count."""

    tool = "memorization"
    samples: torch.Tensor = field(default=None, repr=False)  # uint8 (N, C, H, W), seeds 0..N-1
    spaces: dict[str, Space] = field(default_factory=dict)  # 'pixel', 'features'
    data: dict[str, Any] = field(default_factory=dict)  # train / heldout / samples: what was compared

    def summary(self) -> dict[str, Any]:
        return {**self.data, "definition": DEFINITION, **{key: space.record() for key, space in self.spaces.items()}}

    def lines(self) -> list[str]:
        t, h = self.data["train"], self.data["heldout"]
        out = [f"{len(self.samples)} samples and {h['images']} held-out images ({h['data']}) against {t['images']} training images ({t['data']})"]
        for key, space in self.spaces.items():
            st = space.stats
            out.append(f"{key:<8} median distance: samples {st['samples']['median']:.4g}, held-out {st['heldout']['median']:.4g} "
                       f"(ratio {st['median_ratio'] or float('nan'):.3f}); near-copies {st['near_copies']} of {len(self.samples)} "
                       f"(threshold {st['threshold']:.4g}, about {st['expected_by_chance']:.0f} expected by chance)")
        return out


def load_images(model: Model, settings: MemorizationSettings) -> tuple[torch.Tensor, str, torch.Tensor, str]:
    """Return (training images, description, held-out images, description), fitted to the model's size and channels."""
    from dcgan.config import DataConfig
    from dcgan.data import load_data, split_spec

    run_data = model.run_config.data
    spec = settings.data or run_data.spec
    own = spec == run_data.spec
    num = settings.train_images or (run_data.num_images if own else None)
    root = settings.data_root or (run_data.data_root if own else None)

    def cfg(s: str, n: int | None) -> DataConfig:
        return DataConfig(spec=s, data_root=root, image_size=model.image_size, channels=model.channels, num_images=n)

    source, _ = split_spec(spec)
    carve = not settings.heldout and Path(source).expanduser().is_dir()
    train = load_data(cfg(spec, None if carve else num))
    if carve:  # a folder has no test split: its last images are held out, and left out of the search
        n = settings.samples
        if len(train) <= n:
            raise UserError(f"{spec} holds {len(train)} images: too few to hold out {n}; lower --samples or give --heldout")
        kept = train.images[: len(train) - n]
        return (kept[:num] if num else kept), train.description, train.images[-n:], f"the last {n} images of {spec}, left out of the search"
    held = load_data(cfg(settings.heldout or f"{source}:test", settings.samples))
    return train.images, train.description, held.images[: settings.samples], held.description


def _images(given: Any, what: str) -> tuple[torch.Tensor, str]:
    images = getattr(given, "images", given)
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
        raise UserError(f"{what} must be uint8 (N, C, H, W) images or ImageData")
    return images, getattr(given, "description", "") or f"{len(images)} given images"


def memorization(model: Model, settings: MemorizationSettings | None = None, *, judge: Any = None, train_data: Any = None,
                 heldout_data: Any = None, **options: Any) -> MemorizationResult:
    """Return the memorisation check of the model's samples, in pixel space and a feature space (D's, or the judge's).

    ``train_data`` / ``heldout_data`` (ImageData or uint8 tensors at the model's size) replace the data the
    settings name. Writes nothing but the feature cache (the training images' features, memory-mapped).
    """
    settings = MemorizationSettings.build(settings, **options)
    if train_data is None or heldout_data is None:
        train, train_text, held, held_text = load_images(model, settings)
    if train_data is not None:
        train, train_text = _images(train_data, "train_data")
        train = train[: settings.train_images] if settings.train_images else train
    if heldout_data is not None:
        held, held_text = _images(heldout_data, "heldout_data")
        held = held[: settings.samples]
    if len(held) < 10:
        raise UserError(f"only {len(held)} held-out images in {held_text}: need at least 10")
    if judge is not None:
        extractor = judge_extractor(judge, model.device)
        space = f"judge features ({getattr(judge, 'source', None) or judge.path})"
    else:
        extractor = discriminator_extractor(model.discriminator, identity=f"checkpoint:{model.payload['digest']}", origin=f"D of {model.path}")
        space = "D features of this checkpoint (every conv layer max-pooled to 4x4)"
    extractor.check(model.channels, model.image_size)
    samples = model.sample(range(settings.samples))
    result = MemorizationResult(settings, model.describe(), samples, data={
        "train": {"data": train_text, "images": len(train)}, "heldout": {"data": held_text, "images": len(held)},
        "samples": {"seeds": [0, settings.samples - 1], "images": settings.samples}})
    for key, ex, what in (("pixel", None, "pixels (RMS difference, [0, 1] scale)"), ("features", extractor, space)):
        sd, si, hd = search(samples, held, train, ex, settings.chunk, key, {"data": train_text})
        result.spaces[key] = Space(what, sd, si, train[si], hd, compare(sd, hd, settings.quantile))
    return result
