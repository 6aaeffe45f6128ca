"""Files of ``dedup``: duplicates.json (every group with its distances) and groups.png (the largest groups)."""

from __future__ import annotations

from pathlib import Path

import torch

from dcgan.report import write_json

ROW = 8  # members shown per group (the first is the one kept)


def write(result, folder: Path) -> list[Path]:
    """Write duplicates.json and, when there are groups to show, groups.png; return their paths."""
    files = [write_json(folder / "duplicates.json", {
        "spec": result.settings.spec, "images": result.count, "threshold_bits": result.settings.threshold,
        "bits": result.settings.bits, "groups": result.groups,
        "about": "members: indices into the source in order; hamming: hash bits differing from the group's first member; "
                 "pixel_rmse: RMS difference (0..255) of the 32x32 crops to the first member; the first member is the one kept"})]
    shown = result.groups[: result.settings.show]
    if shown and result.data is not None:
        files.append(save_groups(result, shown, folder / "groups.png"))
    return files


def save_groups(result, groups: list[dict], path: Path) -> Path:
    """Save one row per group (its first ROW members at most, the kept one first), each captioned with its hash distance."""
    from dcgan.data.dedup import hash_pixels
    from dcgan.images import labelled_grid

    width = min(ROW, max(len(g["members"]) for g in groups))  # no empty columns when every group is small
    tiles, captions = [], []
    blank = torch.full((3, 32, 32), 255, dtype=torch.uint8)
    for g in groups:
        members = g["members"][:width]
        tiles += list(hash_pixels(result.data.images[torch.as_tensor(members)]))
        captions += [[f"#{m}", "kept" if k == 0 else f"d={g['hamming'][k]}"] for k, m in enumerate(members)]
        tiles += [blank] * (width - len(members))
        captions += [[]] * (width - len(members))
    grid = labelled_grid(torch.stack(tiles), captions, width, scale=3)
    grid.save(path)
    return path
