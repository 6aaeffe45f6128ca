"""Figures of ``sample``: the grid and, with ``each``, one PNG per seed."""

from __future__ import annotations

from pathlib import Path

from dcgan.images import save_each, save_grid
from dcgan.seeds import seed_text


def write(result, folder: Path) -> list[Path]:
    """Write seeds-<seeds>[-label-K][-drop].png and/or images/seed-NNNNNN.png; return the paths of the figures."""
    s = result.settings
    label = result.source.get("conditional_label")
    tag = f"-label-{label}" if label is not None else ""  # a conditional model's classes never overwrite each other
    figures = []
    if s.grid:
        name = f"seeds-{seed_text(s.seeds)[:60]}{tag}{'-drop' if result.dropped else ''}.png"
        figures.append(save_grid(result.images, folder / name, s.nrow))
    if s.each:
        save_each(result.images, folder / "images", [f"seed-{seed:06d}{tag}" for seed in s.seeds])
    return figures
