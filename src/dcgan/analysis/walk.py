"""Walking in the latent space (PAPER.md section 5): decode a path through a series of random codes.

A walk visits ``points`` codes (seeds); each *segment* goes from one to the next in ``steps`` frames,
both ends included. Smooth semantic change along a segment is the paper's evidence that G learned
structure rather than memorised images; a judge turns "smooth" into two numbers:

- confident share: the share of the walk's distinct frames that the judge labels confidently
  (max probability > 0.9 on every head), i.e. frames that look like a valid scene, not a blend;
- returns ("flicker"): along a segment, per factor, the judged value (argmax) forms a sequence; a *return*
  is a change *to a value that already appeared earlier in that segment* (red -> blue -> red counts one,
  0 -> 1 -> 2 -> 1 counts one). A smooth walk changes each factor at most once per segment when its two
  ends differ and not at all when they agree, so returns count the non-monotone flips.
  ``confident_returns`` counts them only over the frames where that factor's head is confident
  (> 0.9), which ignores judge noise on blended in-between frames; ``shuffled_returns`` is the control:
  the same frames with each segment's inner frames in random order (what returns look like when the
  order carries no structure, as for a model that jumps between memorised images).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from dcgan.images import grid_tensor, to_pil
from dcgan.judges import CONFIDENT
from dcgan.latent import path, z_from_seeds


def walk_codes(seeds: Sequence[int], z_dim: int, z_dist: str, steps: int, mode: str) -> torch.Tensor:
    """Return (len(seeds) - 1, steps, z_dim) codes: one row per segment between consecutive seeds."""
    return path(z_from_seeds(seeds, z_dim, z_dist), steps, mode)


def changes_and_returns(labels: Sequence[int]) -> tuple[int, int]:
    """Return (changes, returns) of a label sequence: returns are changes to a value seen earlier in it."""
    seen = {int(labels[0])} if len(labels) else set()
    changes = returns = 0
    for prev, cur in zip(labels[:-1], labels[1:], strict=True):
        if int(cur) != int(prev):
            changes += 1
            returns += int(cur) in seen
            seen.add(int(cur))
    return changes, returns


def distinct_frames(images: torch.Tensor) -> torch.Tensor:
    """Return the walk's frames in order, each shared segment end once: (S, T, ...) -> (S * (T - 1) + 1, ...)."""
    return torch.cat([images[0], *[seg[1:] for seg in images[1:]]])


def judge_walk(judge: Any, images: torch.Tensor, seed: int = 0) -> dict[str, Any]:
    """Return the judge's view of one walk (images (S, T, C, H, W) uint8): confident share and returns per segment."""
    segments, steps = images.shape[:2]
    probs = judge.predict(images.flatten(0, 1))
    confident = judge.confident(probs).view(segments, steps)
    labels = {f: p.argmax(1).view(segments, steps) for f, p in probs.items()}
    sure = {f: (p.max(1).values > CONFIDENT).view(segments, steps) for f, p in probs.items()}
    gen = torch.Generator().manual_seed(seed)
    names = judge.value_names
    per_segment = []
    for s in range(segments):
        # The control: inner frames in random order, ends kept (one permutation per segment, shared by all factors).
        order = torch.cat([torch.tensor([0]), torch.randperm(steps - 2, generator=gen) + 1, torch.tensor([steps - 1])]) if steps > 2 else torch.arange(steps)
        seg: dict[str, Any] = {"confident_share": float(confident[s].float().mean()), "changes": 0, "returns": 0, "confident_returns": 0,
                               "shuffled_returns": 0, "ends_differ": 0, "factors": {}}
        for f, lab in labels.items():
            changes, returns = changes_and_returns(lab[s].tolist())
            confident_returns = changes_and_returns(lab[s][sure[f][s]].tolist())[1]
            seg["changes"] += changes
            seg["returns"] += returns
            seg["confident_returns"] += confident_returns
            seg["shuffled_returns"] += changes_and_returns(lab[s][order].tolist())[1]
            seg["ends_differ"] += int(lab[s, 0] != lab[s, -1])
            seg["factors"][f] = {"values": [names[f][int(v)] for v in lab[s]], "changes": changes, "returns": returns,
                                 "confident_returns": confident_returns}
        per_segment.append(seg)
    distinct = torch.cat([confident[0], *[c[1:] for c in confident[1:]]])
    return {
        "frames": int(len(distinct)),
        "confident_share": float(distinct.float().mean()),
        "confident_by_step": confident.float().mean(0).tolist(),  # position along the segment: does the middle dip?
        "returns_per_segment": sum(s["returns"] for s in per_segment) / segments,
        "segments_with_returns": sum(s["returns"] > 0 for s in per_segment) / segments,
        "confident_returns_per_segment": sum(s["confident_returns"] for s in per_segment) / segments,
        "shuffled_returns_per_segment": sum(s["shuffled_returns"] for s in per_segment) / segments,
        "changes_per_segment": sum(s["changes"] for s in per_segment) / segments,
        "ends_differ_per_segment": sum(s["ends_differ"] for s in per_segment) / segments,
        "returns_by_factor": {f: sum(s["factors"][f]["returns"] for s in per_segment) for f in labels},
        "segments": per_segment,
    }


def summarise_walks(walks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return the judge numbers pooled over several walks (frames and segments weighted equally)."""
    frames = sum(w["frames"] for w in walks)
    segments = [s for w in walks for s in w["segments"]]
    n = len(segments)
    factors = walks[0]["returns_by_factor"]
    return {
        "walks": len(walks), "segments": n, "frames": frames,
        "confident_share": sum(w["confident_share"] * w["frames"] for w in walks) / frames,
        "confident_by_step": torch.tensor([s["confident_by_step"] for s in walks]).mean(0).tolist(),
        "returns_per_segment": sum(s["returns"] for s in segments) / n,
        "segments_with_returns": sum(s["returns"] > 0 for s in segments) / n,
        "confident_returns_per_segment": sum(s["confident_returns"] for s in segments) / n,
        "segments_with_confident_returns": sum(s["confident_returns"] > 0 for s in segments) / n,
        "shuffled_returns_per_segment": sum(s["shuffled_returns"] for s in segments) / n,
        "changes_per_segment": sum(s["changes"] for s in segments) / n,
        "ends_differ_per_segment": sum(s["ends_differ"] for s in segments) / n,
        "returns_by_factor": {f: sum(w["returns_by_factor"][f] for w in walks) for f in factors},
    }


def save_walk_grid(images: torch.Tensor, path: Path) -> Path:
    """Save a walk (S, T, C, H, W) as one grid, one row per segment (the paper's figure); return the path."""
    to_pil(grid_tensor(images.flatten(0, 1), nrow=images.shape[1])).save(path)
    return path


def save_walk_gif(images: torch.Tensor, path: Path, fps: float = 8.0, min_size: int = 128) -> Path:
    """Save the walk's distinct frames as a looping animated GIF, enlarged (nearest) to at least ``min_size`` px."""
    from PIL import Image

    frames = distinct_frames(images)
    scale = max(1, -(-min_size // frames.shape[-1]))
    pics = [to_pil(f).convert("RGB").resize((f.shape[-1] * scale, f.shape[-2] * scale), Image.NEAREST) for f in frames]
    pics[0].save(path, save_all=True, append_images=pics[1:], duration=max(1, round(1000 / fps)), loop=0)
    return path
