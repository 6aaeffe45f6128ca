"""Figures of ``walk``: per walk, a grid (one row per segment, the paper's figure 4) and a looping GIF."""

from __future__ import annotations

from pathlib import Path

import torch

from dcgan.images import grid_tensor, to_pil


def write(result, folder: Path) -> list[Path]:
    """Write walk-NN.png and walk-NN.gif for every walk; return their paths."""
    figures = []
    for w, images in enumerate(result.images):
        figures.append(save_walk_grid(images, folder / f"walk-{w:02d}.png"))
        figures.append(save_walk_gif(images, folder / f"walk-{w:02d}.gif", result.settings.fps))
    return figures


def save_walk_grid(images: torch.Tensor, path: Path) -> Path:
    """Save a walk (S, T, C, H, W) as one grid, one row per segment; return the path."""
    to_pil(grid_tensor(images.flatten(0, 1), nrow=images.shape[1])).save(path)
    return path


def save_walk_gif(images: torch.Tensor, path: Path, fps: float = 8.0, min_size: int = 128) -> Path:
    """Save the walk's distinct frames as a looping animated GIF, enlarged (nearest) to at least ``min_size`` px."""
    from PIL import Image

    from dcgan.analysis.walk import distinct_frames

    frames = distinct_frames(images)
    scale = max(1, -(-min_size // frames.shape[-1]))
    pics = [to_pil(f).convert("RGB").resize((f.shape[-1] * scale, f.shape[-2] * scale), Image.NEAREST) for f in frames]
    pics[0].save(path, save_all=True, append_images=pics[1:], duration=max(1, round(1000 / fps)), loop=0)
    return path
