"""The paper's discriminator features (section 5.1), as one extractor builder with one setting.

Features: every conv block of D, after its activation, adaptive-max-pooled to a 4x4 grid, flattened
(channel-major) and concatenated; D's BatchNorm in eval mode (running statistics from training), so an
image's features never depend on the rest of its batch. That full grid is what the linear probe and the
memorisation check use (7,168 features at 32 px with ndf 64).

``average_cells=True`` then averages each channel's 16 cells, one number per channel (448 at 32 px):
the Fréchet distance needs an F x F covariance and an F^3 matrix square root, which for the full grid
(F = 28,672 at 64 px) would take minutes per evaluation. It is a setting of the same pipeline, so both
variants always see the same activations.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch
import torch.nn.functional as F

from dcgan.data.base import to_unit_range
from dcgan.errors import UserError
from dcgan.features.base import Extractor
from dcgan.models import Discriminator, eval_mode

GRID = 4
BN_MODE = "eval"
# Everything about extraction that changes the numbers; it is part of every cache key, so changing it
# here invalidates old cache entries.
PROTOCOL: dict[str, Any] = {
    "version": 1,
    "layers": "every conv block of D, after its activation",
    "pool": f"adaptive max pool to {GRID}x{GRID}",
    "batchnorm": BN_MODE,
    "input": "uint8 / 127.5 - 1",
    "dtype": "float32",
}
CELL_MEAN = f"each channel's {GRID * GRID} cells averaged"


def feature_split(d: Discriminator, average_cells: bool = False) -> list[int]:
    """Return the feature count each conv block contributes (its channels, times 16 for the full grid)."""
    cells = 1 if average_cells else GRID * GRID
    return [cells * block[0].out_channels for block in d.blocks]


def describe_split(d: Discriminator) -> str:
    """Return 'total = a (conv1, c1 ch) + b (conv2, c2 ch) + ...' for D's full-grid features."""
    split = feature_split(d)
    parts = [f"{n} (conv{i + 1}, {n // (GRID * GRID)} ch)" for i, n in enumerate(split)]
    return f"{sum(split)} = " + " + ".join(parts)


@torch.inference_mode()
def d_features(d: Discriminator, images_uint8: torch.Tensor, batch_size: int = 256, average_cells: bool = False) -> torch.Tensor:
    """Return (N, sum(feature_split(d, average_cells))) float32 features, D in whatever mode it is in.

    The extractor built by ``discriminator_extractor`` switches D to eval mode around this call; tests
    call it directly to show what train-mode BatchNorm would give.
    """
    device = next(d.parameters()).device
    out = []
    for start in range(0, len(images_uint8), batch_size):
        # channels-last: the same values, measured faster on CPU for strided convolutions
        x = to_unit_range(torch.as_tensor(images_uint8[start : start + batch_size]).to(device))
        x = x.contiguous(memory_format=torch.channels_last)
        grids = [F.adaptive_max_pool2d(f.float(), GRID).flatten(1) for f in d.features(x)]  # (B, C * 16), channel-major
        if average_cells:
            grids = [g.view(len(g), -1, GRID * GRID).mean(-1) for g in grids]
        out.append(torch.cat(grids, dim=1).cpu())
    return torch.cat(out)


def weights_identity(d: Discriminator) -> str:
    """Return a digest of D's architecture and weights: the cache identity of a D without a checkpoint."""
    from dcgan.checkpoint import digest

    return "weights:" + digest({"model": asdict(d.cfg), "state": d.state_dict()})


def discriminator_extractor(d: Discriminator, *, average_cells: bool = False, identity: str | None = None,
                            origin: str = "D", kind: str = "dfeat", spec: str | None = None,
                            device: torch.device | str | None = None, batch_size: int = 256) -> Extractor:
    """Return D's features as an extractor (full 4x4 grid, or channel means with ``average_cells``).

    ``identity`` names D's weights for the cache (a checkpoint's digest); without it the weights are
    hashed. The cache id is ``kind:identity`` for both variants: the protocol and dim, also in the key,
    tell them apart. BatchNorm runs in eval mode for every batch, D's own mode restored afterwards.
    """
    if device is not None:
        d = d.to(torch.device(device))
    identity = identity or weights_identity(d)

    def check(channels: int, size: int) -> None:
        if (d.cfg.channels, d.cfg.image_size) != (channels, size):
            raise UserError(f"the discriminator of {origin} reads {d.cfg.image_size}x{d.cfg.image_size}x{d.cfg.channels} images, "
                            f"not {size}x{size}x{channels}: use a checkpoint trained at this size")

    def batch_fn(x: torch.Tensor) -> torch.Tensor:
        with eval_mode(d):
            return d_features(d, x, len(x), average_cells)

    split = feature_split(d, average_cells)
    protocol = {"network": origin, **PROTOCOL, **({"pool": f"{PROTOCOL['pool']}, then {CELL_MEAN}"} if average_cells else {})}
    return Extractor(spec or kind, kind, sum(split), f"{kind}:{identity}", protocol, batch_fn, batch_size, check, split)
