"""Figures of ``arithmetic``: the paper-style figure (figure.png) and the first evaluated expressions (evaluation.png)."""

from __future__ import annotations

from pathlib import Path

import torch

from dcgan.analysis.common import save_titled_grid, show_grid


def write(result, folder: Path) -> list[Path]:
    """Write figure.png when concepts were given and evaluation.png when expressions were measured; return their paths."""
    figures = []
    if result.concepts:
        figures.append(save_figure(result, folder / "figure.png"))
    if result.previews is not None:
        figures.append(save_evaluation_preview(folder / "evaluation.png", result.previews))
    return figures


def save_figure(result, path: Path) -> Path:
    """Draw exemplars + decoded mean per concept, the 3x3 results (centre G(y)) and the pixel baseline; return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exemplars = result.exemplar_images
    k = max(len(e) for e in exemplars)
    fig = plt.figure(figsize=(2.2 + 1.1 * (k + 1) + 3.6, 6.4))
    spec = fig.add_gridspec(4, 2, width_ratios=[k + 1, 3.2])
    signs = ["", "minus ", "plus "]
    for i, (concept, ex) in enumerate(zip(result.concepts, exemplars, strict=True)):
        show_grid(fig.add_subplot(spec[i, 0]), torch.cat([ex, result.means[i : i + 1]]), len(ex) + 1,
                  f"{signs[i]}{concept.name.upper()}: {concept.label()}  |  G(mean z)")
    images = result.images
    # With 8 variations G(y) sits in the centre of a 3x3 block, its variations around it.
    order = [1, 2, 3, 4, 0, 5, 6, 7, 8] if len(images) == 9 else list(range(len(images)))
    w, noise, z_dist = result.noise_half_width, result.settings.noise, result.source.get("z_dist", "?")
    show_grid(fig.add_subplot(spec[0:3, 1]), images[order], 3 if len(images) == 9 else len(images),
              f"= G(y), centre; y + U[-{w:.3g}, {w:.3g}] around it\n(--noise {noise:g}, scaled to the spread of {z_dist} z)")
    show_grid(fig.add_subplot(spec[3, 0]), result.pixel, len(result.pixel), "pixel space: mean A, mean B, mean C  |  A - B + C")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save_evaluation_preview(path: Path, previews: torch.Tensor, rows: int = 8) -> Path:
    """Save the first ``rows`` expressions: G(mean A), G(mean B), G(mean C), mean3 result, single result, pixel result."""
    shown = previews[:rows]
    return save_titled_grid(path, shown.flatten(0, 1), shown.shape[1],
                            "G(mean A) | G(mean B) | G(mean C) || 3-exemplar result | single | pixel", width=7.0)
