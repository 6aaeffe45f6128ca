"""Figures of ``direction``: grid.png (rows = test seeds, columns = z + s d per scale) and exemplars.png (both groups)."""

from __future__ import annotations

from pathlib import Path

from dcgan.analysis.common import save_titled_grid, show_grid


def write(result, folder: Path) -> list[Path]:
    """Write grid.png and exemplars.png; return their paths."""
    s = result.settings
    scales = ", ".join(f"{x:g}" for x in s.scales)
    title = f"{result.groups[0].label()} -> {result.groups[1].label()}: z + s d, s = {scales}"
    return [save_titled_grid(folder / "grid.png", result.grid.flatten(0, 1), result.grid.shape[1], title),
            save_exemplars(result, folder / "exemplars.png")]


def save_exemplars(result, path: Path) -> Path:
    """Draw each group's exemplars on a row of its own (the groups may differ in size); return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = max(len(images) for images in result.exemplar_images)
    width = min(14.0, 1.0 + 1.0 * k)
    fig, axes = plt.subplots(2, 1, figsize=(width, 1.4 + 2 * width / k))
    for ax, group, images in zip(axes, result.groups, result.exemplar_images, strict=True):
        show_grid(ax, images, len(images), f"{group.name} ({group.label()})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
