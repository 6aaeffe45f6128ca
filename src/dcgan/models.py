"""DCGAN generator and discriminator for any power-of-two size from 16 to 256 (PAPER.md section 1).

The recipe: no pooling (strided and transposed convolutions only); BatchNorm everywhere except G's
output and D's input; no hidden fully connected layers (G's first layer projects z to 4x4 as a 4x4
transposed convolution on a 1x1 input, D's last layer is a 4x4 convolution to one logit); ReLU in G
with Tanh on the output, LeakyReLU(0.2) in D. D returns the logit; the sigmoid lives in the loss,
which is the numerically stable way to compute the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from dcgan.config import ModelConfig

LEAKY_SLOPE = 0.2
INIT_STD = 0.02


@contextmanager
def eval_mode(net: nn.Module) -> Iterator[nn.Module]:
    """Run ``net`` in eval mode (BatchNorm on running statistics, so each image is independent of its
    batch), then restore the mode it had: callers may be mid-training."""
    was_training = net.training
    net.eval()
    try:
        yield net
    finally:
        net.train(was_training)


def num_blocks(image_size: int) -> int:
    """Return how many factor-2 resolution changes separate 4x4 from ``image_size``."""
    return int(math.log2(image_size)) - 2


def _conv_padding(kernel_size: int) -> tuple[int, int]:
    """Return (padding, output_padding) that make a stride-2 conv exactly halve / double the size."""
    return (1, 0) if kernel_size == 4 else (2, 1)


class Generator(nn.Module):
    """z (B, z_dim) or (B, z_dim, 1, 1) -> images (B, C, S, S) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n = num_blocks(cfg.image_size)
        widths = [cfg.ngf * 2 ** (n - 1 - i) for i in range(n)]  # 64x64, ngf 64: 512, 256, 128, 64
        pad, out_pad = _conv_padding(cfg.kernel_size)
        k = cfg.kernel_size
        # Project z to 4x4: a transposed conv on a 1x1 input is a matrix multiply plus reshape.
        self.project = nn.Sequential(
            nn.ConvTranspose2d(cfg.z_dim, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.ConvTranspose2d(c_in, c_out, k, 2, pad, output_padding=out_pad, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            )
            for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
        )
        # Output layer: no BatchNorm (guideline), Tanh.
        self.to_image = nn.Sequential(
            nn.ConvTranspose2d(widths[-1], cfg.channels, k, 2, pad, output_padding=out_pad, bias=False),
            nn.Tanh(),
        )

    def layers(self) -> list[nn.Module]:
        """Return the conv stages in order, from the projection of z to the output layer."""
        return [self.project, *self.blocks, self.to_image]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.view(z.shape[0], -1, 1, 1)  # (B, z_dim, 1, 1)
        for layer in self.layers():
            x = layer(x)
        return x  # (B, C, S, S)


class Discriminator(nn.Module):
    """images (B, C, S, S) in [-1, 1] -> one logit per image (B,)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n = num_blocks(cfg.image_size)
        widths = [cfg.ndf * 2**i for i in range(n)]  # 64x64, ndf 64: 64, 128, 256, 512
        pad, _ = _conv_padding(cfg.kernel_size)
        k = cfg.kernel_size
        blocks = []
        for i, c_out in enumerate(widths):
            c_in = cfg.channels if i == 0 else widths[i - 1]
            layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, 2, pad, bias=False)]
            if i > 0:  # no BatchNorm on D's input layer (guideline)
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(blocks)
        # 4x4 feature map -> one logit: the flattened last conv, no hidden linear layer.
        self.head = nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return every conv block's activation, from the first (S/2) to the last (4x4)."""
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)[-1]).flatten()  # (B,)


def init_weights(module: nn.Module) -> None:
    """Paper init: conv weights N(0, 0.02); BatchNorm gain N(1, 0.02) and bias 0 (official code)."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, INIT_STD)
        nn.init.zeros_(module.bias)


def build_models(cfg: ModelConfig, seed: int | None = None) -> tuple[Generator, Discriminator]:
    """Return freshly initialised (G, D); with ``seed`` the init is reproducible without touching global RNG."""
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        g, d = Generator(cfg), Discriminator(cfg)
        g.apply(init_weights)
        d.apply(init_weights)
    return g, d
