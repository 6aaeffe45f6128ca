"""What every checkpoint analysis tool shares: loading G (and a judge), the output folder, results.json.

Output folder: ``RUN/analysis/<tool>/`` for a run folder or its ``latest.pt``; for any other checkpoint
file (``epoch-0001.pt``, ``best.pt``) ``RUN/analysis/<tool>/<checkpoint name>/``, so that analyses of
two snapshots of one run (the paper's epoch 1 and epoch 5) never overwrite each other.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dcgan.config import ModelConfig
from dcgan.errors import UserError


@dataclass
class Loaded:
    """A checkpoint opened for analysis: its path, payload, model config and G in eval mode."""

    path: Path
    payload: dict[str, Any]
    model: ModelConfig
    generator: nn.Module

    def describe(self) -> dict[str, Any]:
        """Return the checkpoint facts every results.json starts with."""
        return {"checkpoint": str(self.path), "step": self.payload.get("step"), "epoch": self.payload.get("epoch"),
                "z_dim": self.model.z_dim, "z_dist": self.model.z_dist, "image_size": self.model.image_size,
                "averaged_generator": bool(self.payload.get("generator_ema"))}


def load_for_analysis(checkpoint: str | Path, device: str | torch.device = "auto") -> Loaded:
    """Open a checkpoint file or run folder and return G (eval mode; the weight average of an --ema run) with its config."""
    from dcgan.checkpoint import generator_from_checkpoint, open_checkpoint
    from dcgan.device import resolve_device

    path, payload, cfg = open_checkpoint(checkpoint)
    return Loaded(path, payload, cfg.model, generator_from_checkpoint(payload, resolve_device(device)))


def output_dir(checkpoint: Path, tool: str, out: str | Path | None = None) -> Path:
    """Return (and create) the folder a tool writes into: ``out``, or the run's ``analysis/<tool>/[<checkpoint>/]``."""
    from dcgan.checkpoint import LATEST, run_dir_of

    if out:
        folder = Path(out)
    else:
        folder = run_dir_of(checkpoint) / "analysis" / tool
        if checkpoint.name != LATEST:
            folder = folder / checkpoint.stem
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _clean(obj: Any) -> Any:
    """Return ``obj`` with tensors as lists and non-finite floats as None (JSON has no NaN)."""
    if isinstance(obj, torch.Tensor):
        return _clean(obj.tolist())
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_results(folder: Path, results: dict[str, Any]) -> Path:
    """Write ``results`` (plus the command line that made them) to ``folder/results.json``; return the path."""
    path = folder / "results.json"
    results = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "", **results}
    path.write_text(json.dumps(_clean(results), indent=2) + "\n")
    return path


def announce(figures: Sequence[Path], results: Path) -> None:
    """Print where the figures and the measurements went (the last lines of every analysis tool)."""
    for fig in figures:
        print(f"figure: {fig}")
    print(f"results: {results}")
    print(f"folder: {results.parent}")


def open_judge(path: str | Path, model: ModelConfig, device: torch.device | str = "cpu"):
    """Load a judge and check that it takes this model's images (size and channels); return it."""
    from dcgan.judges import load_judge

    judge = load_judge(path, device)
    if (judge.image_size, judge.channels) != (model.image_size, model.channels):
        raise UserError(f"judge {path} takes {judge.image_size}x{judge.image_size}x{judge.channels} images but this checkpoint makes "
                        f"{model.image_size}x{model.image_size}x{model.channels}: train a judge at the model's size "
                        f"(dcgan judge train --image-size {model.image_size} ...)")
    return judge


@dataclass
class Concept:
    """A group of exemplar seeds, given directly or found by a judge query."""

    name: str
    text: str  # what the user wrote
    seeds: list[int]
    query: str | None = None  # the judge query, when the seeds were selected by one

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "given": self.text, "seeds": self.seeds, "query": self.query}


def resolve_concept(name: str, text: str, loaded: Loaded, judge: Any, count: int, start_seed: int = 0,
                    max_seeds: int = 20_000, min_prob: float = 0.9) -> Concept:
    """Return the concept ``text`` names: all its seeds ('3,17,42', at least ``count``) or the first ``count`` seeds a judge query matches."""
    from dcgan.latent import looks_like_seeds, parse_seeds

    if looks_like_seeds(text):
        seeds = parse_seeds(text)
        if len(seeds) < count:
            raise UserError(f"--{name} gives {len(seeds)} seed(s) but {count} exemplars are needed: give more seeds or lower --exemplars")
        return Concept(name, text, seeds)  # every given seed is an exemplar
    if judge is None:
        raise UserError(f"--{name} {text!r} is a judge query: pass --judge JUDGE.pt to select seeds by it, or give seeds like '3,17,42'")
    from dcgan.judges import select_seeds

    seeds = select_seeds(loaded.generator, loaded.model, judge, text, count, start_seed, max_seeds, min_prob)
    return Concept(name, text, seeds, text)


def proportion(successes: int, n: int) -> dict[str, Any]:
    """Return {share, count, n, ci95}: a share with its Wilson 95% interval (None when n is 0)."""
    if n == 0:
        return {"share": None, "count": 0, "n": 0, "ci95": None}
    z = 1.959964
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"share": p, "count": successes, "n": n, "ci95": [max(0.0, centre - half), min(1.0, centre + half)]}


def paired_comparison(a: Sequence[bool], b: Sequence[bool]) -> dict[str, Any]:
    """Return how often method a succeeded where b failed and vice versa, with a two-sided exact sign test (McNemar)."""
    from scipy.stats import binomtest

    a_only = sum(x and not y for x, y in zip(a, b, strict=True))
    b_only = sum(y and not x for x, y in zip(a, b, strict=True))
    p = binomtest(a_only, a_only + b_only).pvalue if a_only + b_only else 1.0
    return {"first_only": a_only, "second_only": b_only, "p_value": float(p)}


def show_grid(ax: Any, images: torch.Tensor, nrow: int, title: str) -> None:
    """Draw uint8 (N, C, H, W) images as a grid on a matplotlib axis, pixels unsmoothed, with a title."""
    from dcgan.images import grid_tensor

    grid = grid_tensor(images, nrow=nrow).permute(1, 2, 0).numpy()
    grey = grid.shape[-1] == 1
    ax.imshow(grid[..., 0] if grey else grid, cmap="gray" if grey else None, interpolation="nearest", vmin=0, vmax=255)
    ax.set_title(title, fontsize=9, loc="left")
    ax.axis("off")


def save_titled_grid(path: Path, images: torch.Tensor, nrow: int, title: str, width: float | None = None) -> Path:
    """Save a grid of uint8 images with a title line above it (matplotlib); return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = -(-len(images) // nrow)
    width = width or min(14.0, 1.0 + 1.0 * nrow)
    fig, ax = plt.subplots(figsize=(width, 0.6 + width * rows / nrow))
    show_grid(ax, images, nrow, title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
