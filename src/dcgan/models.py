"""DCGAN generator and discriminator for any power-of-two size from 16 to 256 (PAPER.md section 1).

The recipe: no pooling (strided and transposed convolutions only); BatchNorm everywhere except G's
output and D's input; no hidden fully connected layers (G's first layer projects z to 4x4 as a 4x4
transposed convolution on a 1x1 input, D's last layer is a 4x4 convolution to one logit); ReLU in G
with Tanh on the output, LeakyReLU(0.2) in D. D returns the logit; the sigmoid lives in the loss,
which is the numerically stable way to compute the same thing.

``ModelConfig.variant`` builds the ablations of docs/study.md instead, each breaking one guideline; the
default, ``dcgan``, is the recipe above and keeps its parameter names, so older checkpoints still load.

``ModelConfig.conditional`` (the paper's MNIST appendix, as its official MNIST code): a one-hot class label
is joined to z as extra channels, and to D's input and every D block's input (and its head's) as constant
feature maps. The join is a parameter-free :class:`LabelJoin` placed inside the stages, so tools that walk
``Generator.layers()`` or read ``Discriminator.features`` keep working on conditional nets.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

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


FC_HIDDEN_WIDTH = 16  # fc-hidden: the hidden layer has 16 x the base width (1024 units at ngf/ndf 64)
MLP_G_WIDTH = 1200  # mlp: Goodfellow et al. (2014)'s MNIST generator, two ReLU layers of 1200 units
MLP_D_WIDTH, MLP_D_PIECES = 240, 5  # ... and its discriminator, two maxout layers of 240 units with 5 pieces


class Maxout(nn.Module):
    """A linear layer to ``width * pieces`` outputs, keeping the largest of each unit's ``pieces`` (Goodfellow et al. 2013)."""

    def __init__(self, c_in: int, width: int, pieces: int) -> None:
        super().__init__()
        self.width, self.pieces = width, pieces
        self.linear = nn.Linear(c_in, width * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.shape[0], self.width, self.pieces).amax(dim=-1)  # (B, width)


class LabelJoin(nn.Module):
    """Append a one-hot label to (B, C, H, W) maps as K constant maps, or to (B, F) vectors as K entries.

    The labels of the current call are set by the net's ``forward`` (``given``); without them G uses
    ``label`` when set (``dcgan.load(..., label=K)``), else image i of a batch is class i mod K (balanced
    classes, deterministic: what training grids, BatchNorm re-estimation and evaluation use); D, which
    never needs to invent a label, joins zeros (no class information) so its features are defined.
    """

    def __init__(self, num_classes: int, invent: bool) -> None:
        super().__init__()
        self.num_classes, self.invent = num_classes, invent
        self.label: int | None = None
        self.current: torch.Tensor | None = None  # (B,) int64 labels of the call in progress

    @contextmanager
    def given(self, labels: torch.Tensor | None) -> Iterator[None]:
        """Use ``labels`` for the joins of one forward pass (nested passes keep the outer labels)."""
        outer = self.current
        if labels is not None:
            self.current = labels
        try:
            yield
        finally:
            self.current = outer

    def one_hot(self, batch: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        labels = self.current
        if labels is None and self.invent:
            labels = (torch.full((batch,), self.label, device=device) if self.label is not None
                      else torch.arange(batch, device=device) % self.num_classes)
        if labels is None:
            return torch.zeros(batch, self.num_classes, device=device, dtype=dtype)
        if len(labels) != batch:
            raise ValueError(f"{len(labels)} labels for a batch of {batch}")
        return nn.functional.one_hot(labels.to(device).long(), self.num_classes).to(dtype)  # (B, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.one_hot(x.shape[0], x.device, x.dtype)
        if x.ndim == 4:
            y = y[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])  # (B, K, H, W)
        return torch.cat([x, y], dim=1)


def _join(join: LabelJoin | None) -> list[nn.Module]:
    return [join] if join is not None else []


def _g_norm(cfg: ModelConfig, channels: int) -> list[nn.Module]:
    """BatchNorm for a hidden G layer, unless the variant drops it."""
    return [] if cfg.variant == "no-bn" else [nn.BatchNorm2d(channels)]


def _d_act(cfg: ModelConfig) -> nn.Module:
    return nn.ReLU(inplace=True) if cfg.variant == "relu-d" else nn.LeakyReLU(LEAKY_SLOPE, inplace=True)


class Generator(nn.Module):
    """z (B, z_dim) or (B, z_dim, 1, 1) -> images (B, C, S, S) in [-1, 1].

    Every variant has the same three stages, ``project`` (z to the first hidden layer), ``blocks`` and
    ``to_image``, so the tools that walk ``layers()`` see one shape; ``cfg.variant`` chooses what is inside.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.join = LabelJoin(cfg.num_classes, invent=True) if cfg.conditional else None
        k_extra = cfg.num_classes if cfg.conditional else 0  # one-hot channels joined to z
        if cfg.variant == "mlp":
            self._build_mlp(cfg, k_extra)
            return
        n = num_blocks(cfg.image_size)
        widths = [cfg.ngf * 2 ** (n - 1 - i) for i in range(n)]  # 64x64, ngf 64: 512, 256, 128, 64
        pad, out_pad = _conv_padding(cfg.kernel_size)
        k = cfg.kernel_size
        bias = cfg.variant == "no-bn"  # BatchNorm's shift replaces a bias; without it the convs need their own
        project: list[nn.Module] = _join(self.join)
        if cfg.variant == "fc-hidden":  # one fully connected hidden layer right after z
            hidden = FC_HIDDEN_WIDTH * cfg.ngf
            project += [nn.Flatten(), nn.Linear(cfg.z_dim + k_extra, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                        nn.Unflatten(1, (hidden, 1, 1))]
        z_channels = FC_HIDDEN_WIDTH * cfg.ngf if cfg.variant == "fc-hidden" else cfg.z_dim + k_extra
        # Project to 4x4: a transposed conv on a 1x1 input is a matrix multiply plus reshape.
        project += [nn.ConvTranspose2d(z_channels, widths[0], 4, 1, 0, bias=bias), *_g_norm(cfg, widths[0]), nn.ReLU(inplace=True)]
        self.project = nn.Sequential(*project)

        def up(c_in: int, c_out: int) -> list[nn.Module]:
            if cfg.variant == "pooling":  # resize then a stride-1 conv, instead of a learned (transposed, strided) upsampling
                return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias)]
            return [nn.ConvTranspose2d(c_in, c_out, k, 2, pad, output_padding=out_pad, bias=bias)]

        self.blocks = nn.ModuleList(
            nn.Sequential(*up(c_in, c_out), *_g_norm(cfg, c_out), nn.ReLU(inplace=True))
            for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
        )
        # Output layer: no BatchNorm (guideline; the bn-everywhere ablation adds one), Tanh.
        out_bn = [nn.BatchNorm2d(cfg.channels)] if cfg.variant == "bn-everywhere" else []
        self.to_image = nn.Sequential(*up(widths[-1], cfg.channels), *out_bn, nn.Tanh())

    def _build_mlp(self, cfg: ModelConfig, k_extra: int) -> None:
        w, pixels = MLP_G_WIDTH, cfg.channels * cfg.image_size**2
        self.project = nn.Sequential(*_join(self.join), nn.Flatten(), nn.Linear(cfg.z_dim + k_extra, w), nn.ReLU(inplace=True))
        self.blocks = nn.ModuleList([nn.Sequential(nn.Linear(w, w), nn.ReLU(inplace=True))])
        # Tanh rather than the original sigmoid: our images live in [-1, 1].
        self.to_image = nn.Sequential(nn.Linear(w, pixels), nn.Tanh(), nn.Unflatten(1, (cfg.channels, cfg.image_size, cfg.image_size)))

    def layers(self) -> list[nn.Module]:
        """Return the stages in order, from the projection of z to the output layer."""
        return [self.project, *self.blocks, self.to_image]

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``labels`` (B,) int: the classes of a conditional G (see :class:`LabelJoin` when omitted); ignored otherwise."""
        x = z.view(z.shape[0], -1, 1, 1)  # (B, z_dim, 1, 1)
        with self.join.given(labels) if self.join is not None else nullcontext():
            for layer in self.layers():
                x = layer(x)
        return x  # (B, C, S, S)


class Discriminator(nn.Module):
    """images (B, C, S, S) in [-1, 1] -> one logit per image (B,).

    Every variant has ``blocks`` (whose activations ``features`` returns) and a ``head`` to one logit.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # Conditional: the one-hot label joins the input of every block and of the head (one shared, parameter-free module).
        self.join = LabelJoin(cfg.num_classes, invent=False) if cfg.conditional else None
        kx = cfg.num_classes if cfg.conditional else 0
        j = _join(self.join)
        if cfg.variant == "mlp":
            # No dropout (the 2014 model had it): every variant here trains without it, so only the architecture differs.
            w, p = MLP_D_WIDTH, MLP_D_PIECES
            self.blocks = nn.ModuleList([nn.Sequential(nn.Flatten(), *j, Maxout(cfg.channels * cfg.image_size**2 + kx, w, p)),
                                         nn.Sequential(*j, Maxout(w + kx, w, p))])
            self.head = nn.Sequential(*j, nn.Linear(w + kx, 1))
            return
        n = num_blocks(cfg.image_size)
        widths = [cfg.ndf * 2**i for i in range(n)]  # 64x64, ndf 64: 64, 128, 256, 512
        pad, _ = _conv_padding(cfg.kernel_size)
        k = cfg.kernel_size
        bias = cfg.variant == "no-bn"
        blocks = []
        for i, c_out in enumerate(widths):
            c_in = (cfg.channels if i == 0 else widths[i - 1]) + kx
            if cfg.variant == "pooling":  # stride-1 conv, then average pooling does the downsampling
                layers: list[nn.Module] = [*j, nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias)]
            else:
                layers = [*j, nn.Conv2d(c_in, c_out, k, 2, pad, bias=bias)]
            # No BatchNorm on D's input layer (guideline); bn-everywhere adds it, no-bn has none.
            if cfg.variant != "no-bn" and (i > 0 or cfg.variant == "bn-everywhere"):
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(_d_act(cfg))
            if cfg.variant == "pooling":
                layers.append(nn.AvgPool2d(2))
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(blocks)
        if cfg.variant == "fc-hidden":  # one fully connected hidden layer before the output
            hidden = FC_HIDDEN_WIDTH * cfg.ndf
            self.head: nn.Module = nn.Sequential(*j, nn.Flatten(), nn.Linear((widths[-1] + kx) * 16, hidden, bias=False),
                                                 nn.BatchNorm1d(hidden), _d_act(cfg), nn.Linear(hidden, 1))
        else:
            # 4x4 feature map -> one logit: the flattened last conv, no hidden linear layer.
            self.head = nn.Sequential(*j, nn.Conv2d(widths[-1] + kx, 1, 4, 1, 0, bias=False)) if j else nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)

    def _labelled(self, labels: torch.Tensor | None) -> AbstractContextManager[None]:
        return self.join.given(labels) if self.join is not None else nullcontext()

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Return every block's activation, from the first (S/2) to the last (4x4; for mlp, (B, 240) vectors).

        ``labels`` (B,): the classes of a conditional D; without them it sees zeros instead of a one-hot label.
        """
        feats = []
        with self._labelled(labels):
            for block in self.blocks:
                x = block(x)
                feats.append(x)
        return feats

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        with self._labelled(labels):
            return self.head(self.features(x)[-1]).flatten()  # (B,)


def init_weights(module: nn.Module) -> None:
    """Paper init: conv (and linear) weights N(0, 0.02); BatchNorm gain N(1, 0.02) and bias 0 (official code)."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
        nn.init.normal_(module.weight, 1.0, INIT_STD)
        nn.init.zeros_(module.bias)


def build_models(cfg: ModelConfig, seed: int | None = None) -> tuple[Generator, Discriminator]:
    """Return freshly initialised (G, D); with ``seed`` the init is reproducible without touching global RNG."""
    if cfg.conditional and cfg.num_classes < 2:
        raise ValueError("a conditional model needs num_classes >= 2 (dcgan.train sets it from the data's labels)")
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        g, d = Generator(cfg), Discriminator(cfg)
        g.apply(init_weights)
        d.apply(init_weights)
    return g, d
