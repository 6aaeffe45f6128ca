"""Figures of ``nn_classify``: the first samples of each class (one row per class) and the confusion matrix."""

from __future__ import annotations

from pathlib import Path

from dcgan.images import save_grid


def write(result, folder: Path) -> list[Path]:
    """Write class-samples.png and confusion.png; return their paths."""
    ex = result.examples  # (K, n, C, H, W)
    figures = [save_grid(ex.reshape(-1, *ex.shape[2:]), folder / "class-samples.png", ex.shape[1])]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conf = result.confusion.float()
    rates = conf / conf.sum(1, keepdim=True).clamp(min=1)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    im = ax.imshow(rates.numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xlabel("predicted class (nearest sample's)")
    ax.set_ylabel("true class")
    ax.set_title(f"1-NN on {result.sample_count:,} samples: error {100 * result.error:.2f}%")
    fig.colorbar(im, ax=ax, label="share of the true class")
    fig.tight_layout()
    path = folder / "confusion.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [*figures, path]
