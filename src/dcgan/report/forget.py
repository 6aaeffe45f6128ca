"""Files of ``forget``: the paper-style figure and dropped.json, the drop set that ``dcgan sample --drop`` applies."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from dcgan.report import write_json


def write(result, folder: Path) -> list[Path]:
    """Write figure.png (rows: original / maps dropped / random control) and dropped.json; return their paths."""
    return [save_figure(folder / "figure.png", result.figure_rows, result.figure_seeds),
            write_json(folder / "dropped.json", result.drop)]


def save_figure(path: Path, rows: list[tuple[str, torch.Tensor]], seeds: Sequence[int]) -> Path:
    """Save one row of the same seeds per setting, each row labelled, seeds under the columns; return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dcgan.images import grid_tensor

    grid = grid_tensor(torch.cat([images for _, images in rows]), nrow=len(seeds), padding=2)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.0 * len(seeds)) + 1.5, 1.0 * len(rows) + 0.6))
    ax.imshow(grid.permute(1, 2, 0).numpy().squeeze(), cmap="gray" if grid.shape[0] == 1 else None, interpolation="nearest")
    height, width = grid.shape[1] / len(rows), grid.shape[2] / len(seeds)
    ax.set_yticks([height * (i + 0.5) for i in range(len(rows))], [label for label, _ in rows])
    ax.set_xticks([width * (i + 0.5) for i in range(len(seeds))], [str(s) for s in seeds], fontsize=7)
    ax.set_xlabel("seed")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
