"""Figures of ``visualize``: per D a panel, one row per unit, of guided back-propagation (or the images behind it)."""

from __future__ import annotations

from pathlib import Path

import torch

from dcgan.images import grid_tensor


def write(result, folder: Path) -> list[Path]:
    """Write figure.png (random D | trained D, one row per unit) and top_images.png (the images behind each row)."""
    return [save_figure(folder / "figure.png", result.panels, result.images),
            save_figure(folder / "top_images.png", result.panels, result.images, with_images=True)]


def gradient_pictures(grads: torch.Tensor) -> torch.Tensor:
    """Return uint8 (B, C, H, W) pictures of gradients: grey is zero, each map scaled by its 99th percentile |value|.

    A per-map scale, not a shared one, because units differ in gradient size by orders of magnitude.
    """
    scale = grads.abs().flatten(1).quantile(0.99, dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return ((0.5 + 0.5 * grads / scale).clamp(0, 1) * 255).round().to(torch.uint8)


def save_figure(path: Path, panels: list, images: torch.Tensor, with_images: bool = False) -> Path:
    """Save panels (title, UnitViews) side by side, one row per unit: its gradients (or its top images); return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, k = panels[0][1].image_index.shape
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 6.5 * rows / k + 0.9), squeeze=False)
    for ax, (title, views) in zip(axes[0], panels, strict=True):
        if with_images:
            pictures = images[views.image_index.reshape(-1)]
        else:
            pictures = gradient_pictures(views.grads.flatten(0, 1))
        grid = grid_tensor(pictures, nrow=k, padding=2)
        ax.imshow(grid.permute(1, 2, 0).numpy().squeeze(), cmap="gray" if grid.shape[0] == 1 else None, interpolation="nearest")
        cell = grid.shape[1] / rows
        ax.set_yticks([cell * (i + 0.5) for i in range(rows)], [f"unit {v}" for v in views.units])
        ax.set_xticks([])
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
