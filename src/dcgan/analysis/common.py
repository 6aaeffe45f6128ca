"""What several analysis tools share: concepts (exemplar seeds or judge queries), shares with their
confidence intervals, paired comparisons and titled grids. Loading is :func:`dcgan.load`; writing is
:func:`dcgan.report.save` (with the one output-folder rule).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dcgan.errors import UserError


@dataclass
class Concept:
    """A group of exemplar seeds, given directly or found by a judge query."""

    name: str
    text: str  # what the user gave (seed lists in their short form)
    seeds: list[int]
    query: str | None = None  # the judge query, when the seeds were selected by one

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "given": self.text, "seeds": self.seeds, "query": self.query}

    def label(self) -> str:
        """Return what a figure calls the group: its query, or its seeds."""
        return self.query or f"seeds {self.text}"


def resolve_concept(name: str, given: str | Sequence[int], model: Any, judge: Any, count: int, start_seed: int = 0,
                    max_seeds: int = 20_000, min_prob: float = 0.9) -> Concept:
    """Return the concept ``given`` names: all its seeds ('3,17,42' or [3, 17, 42], at least ``count``) or the first ``count``
    seeds from ``start_seed`` whose image G of ``model`` (a :class:`dcgan.api.Model`) a judge query matches."""
    from dcgan.seeds import as_seeds, looks_like_seeds, seed_text

    if not isinstance(given, str) or looks_like_seeds(given):
        seeds = list(as_seeds(given, f"--{name} seeds"))
        if len(seeds) < count:
            raise UserError(f"--{name} gives {len(seeds)} seed(s) but {count} exemplars are needed: give more seeds or lower --exemplars")
        return Concept(name, seed_text(seeds), seeds)  # every given seed is an exemplar
    if judge is None:
        raise UserError(f"--{name} {given!r} is a judge query: pass --judge JUDGE.pt to select seeds by it, or give seeds like '3,17,42'")
    from dcgan.judges import select_seeds

    seeds = select_seeds(model.generator, model.config, judge, given, count, start_seed, max_seeds, min_prob)
    return Concept(name, given, seeds, given)


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
