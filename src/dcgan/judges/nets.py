"""The judge's networks and the configs that rebuild them from a judge file with no flags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dcgan.config import check_image_size

REAL_FACTOR = "real"  # the one factor of a realness net: is the image like the training data?
REAL_VALUES = ("no", "yes")


@dataclass(frozen=True)
class JudgeConfig:
    """Shape of a judge network; stored in the judge file so it rebuilds with no flags."""

    image_size: int
    channels: int
    factors: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]  # names of each factor's values, in label order
    width: int = 16  # channels of the first layer; doubles per down-sampling block, capped at 8x
    feature_dim: int = 256  # size of the penultimate features

    def __post_init__(self) -> None:
        check_image_size(self.image_size)
        if len(self.factors) != len(self.values) or not self.factors:
            raise ValueError("a judge needs at least one factor, each with its value names")


def realness_config(image_size: int, channels: int, width: int = 16, feature_dim: int = 64) -> JudgeConfig:
    """Return the config of a realness net: a judge net with one two-valued head, 'real' = no | yes."""
    return JudgeConfig(image_size, channels, (REAL_FACTOR,), (REAL_VALUES,), width, feature_dim)


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class JudgeNet(nn.Module):
    """(B, C, S, S) in [-1, 1] -> penultimate features (B, F) -> one logit vector per factor."""

    def __init__(self, cfg: JudgeConfig) -> None:
        super().__init__()
        self.cfg = cfg
        blocks: list[nn.Module] = [_conv(cfg.channels, cfg.width)]
        c = cfg.width
        size = cfg.image_size
        while size > 4:  # stride-2 convolutions down to 4x4, as D does
            c_out = min(c * 2, cfg.width * 8)
            blocks.append(_conv(c, c_out, 2))
            c, size = c_out, size // 2
        self.trunk = nn.Sequential(*blocks)
        # Flattening the 4x4 map (not pooling it) keeps where things are: needed to count windows.
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(c * 16, cfg.feature_dim), nn.ReLU(inplace=True))
        self.heads = nn.ModuleList(nn.Linear(cfg.feature_dim, len(v)) for v in cfg.values)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.trunk(x))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f = self.features(x)
        return [head(f) for head in self.heads]


@dataclass(frozen=True)
class LocaliserConfig:
    """Shape of a localiser network (a small U-Net giving one mask per object kind)."""

    image_size: int
    channels: int
    objects: tuple[str, ...]
    width: int = 16


class LocaliserNet(nn.Module):
    """(B, C, S, S) in [-1, 1] -> (B, len(objects), S, S) mask logits.

    A small U-Net that predicts at half resolution and upsamples bilinearly: 4x cheaper than working at
    full resolution, and the masks of 64x64 rooms lose little (held-out IoU in the judge report).
    """

    def __init__(self, cfg: LocaliserConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        depth = min(3, int(np.log2(cfg.image_size)) - 3)
        widths = [w * min(2**i, 4) for i in range(depth + 1)]  # at S/2, S/4, S/8, S/16
        self.stem = nn.Sequential(_conv(cfg.channels, w // 2), _conv(w // 2, w, 2))
        self.down = nn.ModuleList(_conv(a, b, 2) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.up = nn.ModuleList(_conv(b + a, a) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.out = nn.Conv2d(w, len(cfg.objects), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in reversed(self.up):
            skip = skips.pop()
            x = up(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1))
        return F.interpolate(self.out(x), size=size, mode="bilinear", align_corners=False)
