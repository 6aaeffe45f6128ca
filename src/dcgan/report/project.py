"""Figures of ``project``: projected.npz (the codes every latent tool takes) and target | projection | nearest random sample."""

from __future__ import annotations

from pathlib import Path

import torch

from dcgan.analysis.common import save_titled_grid
from dcgan.codes import CODES_FILE, write_codes

TRIPLETS_PER_ROW = 4


def write(result, folder: Path) -> list[Path]:
    """Write projected.npz and projection.png (the first ``show`` images); return their paths."""
    extra = {"pixel_mse": result.pixel.numpy(), "dfeat_distance": result.dfeat.numpy(), "restart": result.restart.numpy()}
    if result.baseline_seeds:
        extra.update({"baseline_seeds": torch.tensor(result.baseline_seeds).numpy(), "baseline_losses": result.baseline_losses.numpy()})
    files = [write_codes(folder / CODES_FILE, result.codes.numpy(), result.losses.numpy(), result.names, result.source, extra)]
    shown = min(result.settings.show, len(result.names))
    if shown:
        columns = [result.targets[:shown], result.images[:shown]]
        if result.baseline_images is not None:
            columns.append(result.baseline_images[:shown])
        triplets = torch.stack(columns, 1).flatten(0, 1)  # (shown * k, C, H, W): each image's columns side by side
        k = len(columns)
        what = "target | projection" + (f" | nearest of {result.settings.baseline} random samples" if k == 3 else "")
        per_row = min(TRIPLETS_PER_ROW, shown)
        files.append(save_titled_grid(folder / "projection.png", triplets, per_row * k,
                                      f"{what} (mean pixel MSE {float(result.pixel.mean()):.3f})"))
    return files

