"""Figures of ``memorization``: per space the closest sample | nearest-training-image pairs, and one histogram figure."""

from __future__ import annotations

from pathlib import Path

import torch


def write(result, folder: Path) -> list[Path]:
    """Write pairs-<space>.png for every space and distances.png; return their paths."""
    figures, hists = [], {}
    for key, space in result.spaces.items():
        title = f"{key}: closest samples | nearest training image (red frame: near-copy)"
        figures.append(save_pairs(folder / f"pairs-{key}.png", result.samples, space.neighbours, space.sample_distances,
                                  space.flagged, title, result.settings.pairs))
        hists[space.description.split(" (")[0]] = (space.sample_distances, space.heldout_distances, space.stats["threshold"])
    figures.append(save_histograms(folder / "distances.png", hists))
    return figures


def mark(images: torch.Tensor, flagged: torch.Tensor) -> torch.Tensor:
    """Return a copy of uint8 images with a red (grey: white) 1-pixel frame on the flagged ones."""
    out = images.clone()
    colour = torch.tensor([255, 0, 0] if images.shape[1] == 3 else [255], dtype=torch.uint8).view(-1, 1)
    for i in flagged.nonzero().flatten().tolist():
        for edge in (out[i, :, 0, :], out[i, :, -1, :], out[i, :, :, 0], out[i, :, :, -1]):
            edge[:] = colour
    return out


def save_pairs(path: Path, samples: torch.Tensor, neighbours: torch.Tensor, d: torch.Tensor, flagged: torch.Tensor,
               title: str, pairs: int = 32, per_row: int = 4) -> Path:
    """Save the ``pairs`` closest sample / nearest-training-image pairs side by side (flagged samples framed red)."""
    from dcgan.analysis.common import save_titled_grid

    order = d.argsort()[:pairs]
    tiles = torch.stack([mark(samples[order], flagged[order]), neighbours[order]], 1).flatten(0, 1)
    return save_titled_grid(path, tiles, 2 * per_row, title, width=2 + 1.2 * 2 * per_row)


def save_histograms(path: Path, spaces: dict[str, tuple[torch.Tensor, torch.Tensor, float]]) -> Path:
    """Save one histogram panel per space: sample-to-train and held-out-to-train distances, with the near-copy threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(spaces), figsize=(5.5 * len(spaces), 3.8), squeeze=False)
    for ax, (name, (sample_d, heldout_d, threshold)) in zip(axes[0], spaces.items(), strict=True):
        both = torch.cat([sample_d, heldout_d])
        bins = torch.linspace(float(both.min()), float(both.max()), 41).tolist()
        ax.hist(heldout_d.numpy(), bins=bins, alpha=0.55, label=f"held-out real ({len(heldout_d)})", color="tab:blue")
        ax.hist(sample_d.numpy(), bins=bins, alpha=0.55, label=f"generated ({len(sample_d)})", color="tab:orange")
        if threshold == threshold:  # not NaN
            ax.axvline(threshold, color="red", linestyle="--", label="near-copy threshold")
        ax.set(xlabel=f"distance to nearest training image ({name})", ylabel="images")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
