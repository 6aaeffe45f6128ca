"""The one entry for Python users: ``dcgan.load(run_or_checkpoint) -> Model``.

A :class:`Model` holds what every tool starts from: G (the weight average of an ``--ema`` run, in eval mode,
so seed s always gives the same image), D (built on first use), and the run's config. Analysis functions
in :mod:`dcgan.analysis` take a Model and a settings dataclass and return a result; nothing here writes files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from dcgan.config import ModelConfig, RunConfig
from dcgan.errors import UserError
from dcgan.models import Discriminator, Generator
from dcgan.seeds import as_seeds


@dataclass
class Model:
    """A trained DCGAN opened from a checkpoint: G, D (lazily), config and where it came from."""

    path: Path  # the checkpoint file (a run folder resolves to its latest.pt)
    payload: dict[str, Any] = field(repr=False)
    run_config: RunConfig = field(repr=False)
    generator: Generator = field(repr=False)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def config(self) -> ModelConfig:
        """The architecture (image size, channels, z) that rebuilds G and D."""
        return self.run_config.model

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    @property
    def z_dist(self) -> str:
        return self.config.z_dist

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def channels(self) -> int:
        return self.config.channels

    @property
    def label(self) -> int | None:
        """The class a conditional G draws (``load(..., label=K)``); None: image i of a batch is class i mod K."""
        return self.generator.join.label if self.generator.join is not None else None

    @property
    def averaged(self) -> bool:
        """True when G is the moving average of an ``--ema`` run."""
        return bool(self.payload.get("generator_ema"))

    @cached_property
    def discriminator(self) -> Discriminator:
        """D in eval mode (running BatchNorm statistics), built from the checkpoint on first use."""
        from dcgan.checkpoint import discriminator_from_checkpoint

        return discriminator_from_checkpoint(self.payload, self.device)

    def codes(self, seeds: str | int | Iterable[int]) -> torch.Tensor:
        """Return (N, z_dim) codes, one per seed, the same whatever else is asked for."""
        from dcgan.latent import z_from_seeds

        return z_from_seeds(as_seeds(seeds), self.z_dim, self.z_dist)

    def decode(self, z: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Return uint8 (N, C, H, W) images G(z), in batches, without gradients."""
        from dcgan.sampling import generate

        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise UserError(f"codes must have shape (N, {self.z_dim}), not {tuple(z.shape)}")
        return generate(self.generator, z, batch_size, self.device)

    def sample(self, seeds: str | int | Iterable[int], batch_size: int = 256) -> torch.Tensor:
        """Return uint8 (N, C, H, W) images, one per seed; seed s always gives the same image."""
        return self.decode(self.codes(seeds), batch_size)

    def describe(self) -> dict[str, Any]:
        """Return the checkpoint facts every results.json starts with."""
        return {"checkpoint": str(self.path), "step": self.payload.get("step"), "epoch": self.payload.get("epoch"),
                "digest": self.payload.get("digest"), "z_dim": self.z_dim, "z_dist": self.z_dist,
                "image_size": self.image_size, "channels": self.channels, "averaged_generator": self.averaged,
                **({"conditional_label": self.label} if self.config.conditional else {})}


def load(checkpoint: str | Path, device: str | torch.device = "auto", averaged: bool = True, label: int | None = None) -> Model:
    """Open a run folder (its latest.pt) or a checkpoint file safely; return the Model (G averaged if the run has one).

    ``label``: the class every image of a conditional model (``dcgan train --conditional``) is drawn as.
    """
    from dcgan.checkpoint import generator_from_checkpoint, open_checkpoint
    from dcgan.device import resolve_device

    path, payload, cfg = open_checkpoint(checkpoint)
    if label is not None:
        k = cfg.model.num_classes
        if not cfg.model.conditional:
            raise UserError(f"--label {label}: {path} is not a conditional model (it was not trained with --conditional)")
        if not 0 <= label < k:
            raise UserError(f"--label must be a class from 0 to {k - 1} for {path}, not {label}")
    dev = resolve_device(device)
    generator = generator_from_checkpoint(payload, dev, averaged=averaged)
    if generator.join is not None:
        generator.join.label = label
    return Model(path, payload, cfg, generator, dev)


def load_judge(path: str | Path, model: Model | None = None) -> Any:
    """Load a judge file; with a model, check that the judge takes its images (size and channels)."""
    from dcgan.judges import load_judge as _load

    judge = _load(path, model.device if model is not None else "cpu")
    judge.source = str(path)  # results.json names the judge a result was measured with
    if model is not None and (judge.image_size, judge.channels) != (model.image_size, model.channels):
        raise UserError(f"judge {path} takes {judge.image_size}x{judge.image_size}x{judge.channels} images but this checkpoint makes "
                        f"{model.image_size}x{model.image_size}x{model.channels}: train a judge at the model's size "
                        f"(dcgan judge train --image-size {model.image_size} ...)")
    return judge
