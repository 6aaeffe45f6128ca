"""Writing images: grids (torchvision's make_grid) and one PNG per image."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid


def to_pil(image: torch.Tensor) -> Image.Image:
    """Return a PIL image from (C, H, W) uint8."""
    arr = image.detach().cpu().numpy().transpose(1, 2, 0)
    return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else np.ascontiguousarray(arr))


def grid_tensor(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> torch.Tensor:
    """Return (C, H, W) uint8 tiling (N, C, H, W) uint8 images, ``nrow`` per row (default: square)."""
    nrow = nrow or max(1, math.ceil(math.sqrt(len(images))))
    grid = make_grid(images.detach().cpu(), nrow=nrow, padding=padding, pad_value=255)
    return grid if images.shape[1] == 3 else grid[:1]  # make_grid repeats grey to 3 channels


def grid_image(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> Image.Image:
    """Return one PIL image tiling (N, C, H, W) uint8 images (see ``grid_tensor``)."""
    return to_pil(grid_tensor(images, nrow, padding))


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """Save (N, C, H, W) uint8 images as one grid PNG and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid_image(images, nrow).save(path)
    return path


def save_each(images: torch.Tensor, folder: str | Path, names: Sequence[str]) -> list[Path]:
    """Save each (C, H, W) uint8 image as ``folder/<name>.png``; return the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for image, name in zip(images, names, strict=True):
        paths.append(folder / f"{name}.png")
        to_pil(image).save(paths[-1])
    return paths


def labelled_grid(images: torch.Tensor, captions: Sequence[Sequence[str]], nrow: int = 8, scale: int = 1) -> Image.Image:
    """Return a grid of (N, C, H, W) uint8 images, each enlarged ``scale`` times with its caption lines under it."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default()
    line_h = 11
    n, _, h, w = images.shape
    tile_w, tile_h = w * scale, h * scale
    lines = max((len(c) for c in captions), default=0)
    cell_w, cell_h = tile_w + 4, tile_h + 4 + lines * line_h
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    canvas = Image.new("RGB", (cols * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(canvas)
    for i in range(n):
        x, y = (i % cols) * cell_w + 2, (i // cols) * cell_h + 2
        tile = to_pil(images[i]).convert("RGB").resize((tile_w, tile_h), Image.Resampling.NEAREST)
        canvas.paste(tile, (x, y))
        for k, text in enumerate(captions[i] if i < len(captions) else []):
            draw.text((x, y + tile_h + k * line_h), text, fill=(0, 0, 0), font=font)
    return canvas
