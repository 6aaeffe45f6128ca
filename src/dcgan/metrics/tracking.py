"""Evaluation during training: score fixed samples on a schedule, keep the best, see a collapse coming.

PAPER.md section 7: DCGAN runs peak and then degrade. Every ``--eval-every`` steps the trainer asks
``TrainingEval`` to score G on a fixed set of seeds (0 .. eval_samples - 1, G in eval mode, as every
tool samples) against a fixed, cached subset of the training images, with a cheap metric (default: the
Fréchet distance on a random discriminator's features, FD-random). ``BestTracker`` then says whether this
is a new best (the trainer writes checkpoints/best.pt), and whether the run is getting worse:

"Well past its best" means more than ``WELL_PAST`` (25%) above the best value so far (both metrics are
lower-is-better). Evaluation noise on fixed seeds and a fixed reference set is a few percent, so 25%
is a real degradation, not jitter. After ``WARN_AFTER`` (3) such evaluations in a row the log and
the progress bar warn; with ``--early-stop K`` the run stops after K in a row (best.pt holds the best).
The tracker's state is stored in every checkpoint, so all of this survives --resume.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from dcgan.config import RunConfig
from dcgan.data import ImageData

WELL_PAST = 0.25  # relative: worse than best * (1 + WELL_PAST) counts as a degraded evaluation
WARN_AFTER = 3  # degraded evaluations in a row before warning


@dataclass
class Decision:
    """What one evaluation means for the run."""

    value: float
    improved: bool  # a new best: keep this checkpoint
    streak: int  # degraded evaluations in a row, this one included
    warning: str | None  # set once the streak reaches WARN_AFTER
    stop: bool  # early stopping asks to end the run


class BestTracker:
    """Best value so far and the run of evaluations well past it (lower is better)."""

    def __init__(self, name: str, early_stop: int | None = None) -> None:
        self.name, self.early_stop = name, early_stop
        self.best: float | None = None
        self.best_step: int | None = None
        self.streak = 0

    def update(self, value: float, step: int) -> Decision:
        """Record ``value`` at ``step`` and return what it means."""
        improved = self.best is None or value < self.best
        if improved:
            self.best, self.best_step, self.streak = value, step, 0
        elif value > self.best + WELL_PAST * abs(self.best):
            self.streak += 1
        else:
            self.streak = 0
        warning = None
        if self.streak >= WARN_AFTER:
            warning = (f"{self.name} {value:.4g} has been more than {WELL_PAST:.0%} worse than its best ({self.best:.4g} at step "
                       f"{self.best_step}) for {self.streak} evaluations in a row: training may be collapsing; checkpoints/best.pt keeps the best")
        stop = self.early_stop is not None and self.streak >= self.early_stop
        return Decision(value, improved, self.streak, warning, stop)

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "best": self.best, "best_step": self.best_step, "streak": self.streak}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_step, self.streak = state["best"], state["best_step"], state["streak"]


class TrainingEval:
    """Fixed samples + fixed reference features + a metric + a BestTracker, for the trainer to call on schedule."""

    def __init__(self, cfg: RunConfig, data: ImageData, device: torch.device) -> None:
        from dcgan.features import build_extractor, cached_features
        from dcgan.latent import z_from_seeds
        from dcgan.metrics.reference import select_reference

        t = cfg.train
        self.metric, self.device = t.eval_metric, device
        self.extractor = build_extractor(t.eval_extractor, channels=cfg.model.channels, image_size=cfg.model.image_size, device=device)
        self.name = self.extractor.fd_name if self.metric == "fid" else self.extractor.kd_name
        self.z = z_from_seeds(range(t.eval_samples), cfg.model.z_dim, cfg.model.z_dist)
        ref_images, self.selection = select_reference(data.images, t.eval_samples)
        self.ref = cached_features(self.extractor, ref_images, {"data": data.description, "selection": self.selection},
                                   desc=f"{self.extractor.kind} features of the evaluation reference (once)").tensor()
        # What makes values comparable; a resumed run with other settings starts a new best.
        self.protocol = {"metric": self.name, "extractor": self.extractor.cache_id, "samples": t.eval_samples, "reference": self.selection}
        self.tracker = BestTracker(self.name, t.early_stop)

    def describe(self) -> str:
        """Return one line for the log saying what is evaluated."""
        return (f"evaluation: {self.name} of {len(self.z)} fixed samples vs {self.selection} of the training data "
                f"(lower is better; warns after {WARN_AFTER} evaluations over {WELL_PAST:.0%} worse than the best"
                + (f", stops after {self.tracker.early_stop}" if self.tracker.early_stop else "") + ")")

    def score(self, g: torch.nn.Module) -> float:
        """Return the metric of G's fixed samples (``generate`` runs G in eval mode, as every sampling tool does)."""
        from dcgan.metrics.distances import feature_statistics, frechet_distance, kid
        from dcgan.sampling import generate

        images = generate(g, self.z.to(self.device))
        gen = self.extractor.features(images)
        if self.metric == "fid":
            return frechet_distance(feature_statistics(gen), feature_statistics(self.ref))
        return kid(gen, self.ref)["mean"]

    def __call__(self, g: torch.nn.Module, step: int) -> tuple[Decision, dict[str, Any]]:
        """Score G at ``step``; return the decision and the record for metrics.jsonl."""
        tick = time.perf_counter()
        decision = self.tracker.update(self.score(g), step)
        record = {"eval_metric": self.name, "eval_value": round(decision.value, 6), "eval_best": round(self.tracker.best, 6),
                  "eval_best_step": self.tracker.best_step, "eval_worse_streak": decision.streak,
                  "eval_seconds": round(time.perf_counter() - tick, 2)}
        return decision, record

    def state_dict(self) -> dict[str, Any]:
        """Return plain data for the checkpoint."""
        return {"protocol": dict(self.protocol), "tracker": self.tracker.state_dict()}

    def load_state_dict(self, state: dict[str, Any] | None) -> bool:
        """Restore the best-so-far; return False (and keep a fresh tracker) when the settings changed."""
        if not state or state.get("protocol") != self.protocol:
            return False
        self.tracker.load_state_dict(state["tracker"])
        return True

