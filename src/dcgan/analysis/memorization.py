"""Memorisation check: how close are generated images to their nearest training image, compared with new real ones?

For N samples and N held-out real images (never trained on), the nearest training image is found in two
spaces: pixels (distance = root-mean-square difference of pixel values scaled to [0, 1]) and a feature
space (Euclidean distance of D's features or a judge's penultimate features). Held-out real images give
the distances a model that generalises should show: a genuinely new image is this far from the training set.

A sample is flagged as a *near-copy* when its distance is below the ``quantile`` (default 1%) point of the
held-out distances, in each space separately. Without memorisation about ``quantile * N`` samples fall below it by
chance (``expected_by_chance``); many more, or a sample-to-held-out median ratio well below 1, mean that
samples sit closer to training images than new real images do.

Nearest neighbours are exact: the reference set is streamed in chunks through ``torch.cdist`` (matrix
form) keeping a running minimum, then the distance to each chosen neighbour is recomputed directly, so a
true copy gives 0 rather than the matrix form's rounding error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

Embed = Callable[[torch.Tensor], torch.Tensor]  # uint8 images (n, C, H, W) -> float (n, F)


def pixel_embed(images: torch.Tensor) -> torch.Tensor:
    """Return (n, C*H*W) float32 vectors whose Euclidean distances are RMS pixel differences on a [0, 1] scale."""
    flat = images.flatten(1).float()
    return flat / (255.0 * flat.shape[1] ** 0.5)


def nearest_neighbours(queries: torch.Tensor, reference: torch.Tensor, embed: Embed, chunk: int = 2048,
                       progress: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (distances (N,), indices (N,)) of each query's nearest reference image under ``embed``.

    ``queries`` and ``reference`` are uint8 image tensors; the reference is embedded chunk by chunk,
    so it never has to fit in memory as features.
    """
    q = embed(queries).float()
    best = torch.full((len(q),), float("inf"))
    index = torch.zeros(len(q), dtype=torch.long)
    starts = range(0, len(reference), chunk)
    for start in tqdm(starts, desc=progress, disable=progress is None, leave=False):
        r = embed(reference[start : start + chunk]).float()
        d, i = torch.cdist(q, r).min(1)
        better = d < best
        best = torch.where(better, d, best)
        index = torch.where(better, i + start, index)
    exact = (q - embed(reference[index]).float()).norm(dim=1)  # the matrix form loses precision near 0
    return exact, index


def summary(d: torch.Tensor) -> dict[str, float]:
    """Return the minimum, 1/5/25/50/75% quantiles and mean of distances."""
    qs = torch.quantile(d.double(), torch.tensor([0.01, 0.05, 0.25, 0.5, 0.75], dtype=torch.double)).tolist()
    return {"min": float(d.min()), "q01": qs[0], "q05": qs[1], "q25": qs[2], "median": qs[3], "q75": qs[4], "mean": float(d.mean())}


def compare(sample_d: torch.Tensor, heldout_d: torch.Tensor, quantile: float) -> dict[str, Any]:
    """Return both distance summaries, the near-copy threshold (``quantile`` of held-out distances) and the flagged counts."""
    threshold = float(torch.quantile(heldout_d.double(), quantile))
    flagged = sample_d < threshold
    return {
        "samples": summary(sample_d), "heldout": summary(heldout_d),
        "median_ratio": float(sample_d.median() / heldout_d.median()) if float(heldout_d.median()) > 0 else None,
        "threshold": threshold, "threshold_quantile": quantile,
        "near_copies": int(flagged.sum()), "expected_by_chance": quantile * len(sample_d),
        "below_heldout_min": int((sample_d < heldout_d.min()).sum()),
    }


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
