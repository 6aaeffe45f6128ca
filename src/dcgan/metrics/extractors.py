"""Feature extractors behind a small registry: uint8 images -> (N, F) float32 features.

| name          | network                                                  | Fréchet distance reported as |
|---------------|----------------------------------------------------------|------------------------------|
| inception     | TensorFlow Inception pool3 (the standard; ``[fid]`` extra) | FID                          |
| judge:PATH    | penultimate layer of a judge (``dcgan judge train``)      | FD-judge                     |
| dfeat[:CKPT]  | D of the evaluated checkpoint (or of CKPT)               | FD-dfeat                     |
| random        | a fixed, seeded, untrained DCGAN discriminator           | FD-random                    |

Only ``inception`` gives FID; distances on any other network are named after it, because their values
are on another scale and must never be compared with published FIDs.

D features (``dfeat``, ``random``) start from the paper's pipeline (``dcgan.features.d_features``: every
conv layer max-pooled to 4x4) and average each channel's 16 grid cells, giving one number per channel
(448 at 32 px with ndf 64). The reason: the Fréchet distance needs an F x F covariance and an F^3 matrix
square root; the full 4x4 grid (F = 7168 at 32 px, 28672 at 64 px) would take minutes per evaluation.
``random`` follows Naeem et al. (2020), who show random-network embeddings are useful where ImageNet
features do not fit the data (digits, procedural rooms); it is cheap and needs no file, which makes it the
default for evaluation during training. Its D is fixed (seeded He initialisation, BatchNorm at its initial
identity), so its numbers compare across runs of the same image size and channels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from dcgan.errors import UserError

RANDOM_SEED = 0  # the seed of the random discriminator: fixed, so its numbers compare across runs
RANDOM_NDF = 64
DFEAT_POOL = "every conv block of D (eval-mode BatchNorm), max-pooled to 4x4, then each channel's 16 cells averaged"


@dataclass
class Extractor:
    """A frozen feature network with what identifies it (for caches) and how it reads images (for reports)."""

    spec: str  # as the user wrote it, e.g. 'judge:judges/mnist.pt'
    kind: str  # registry name: inception, judge, dfeat, random
    cache_id: str  # changes whenever the weights or the input protocol change
    protocol: dict[str, Any]  # how images become features, written into results.json
    batch_fn: Callable[[torch.Tensor], torch.Tensor]  # one batch of uint8 images -> (B, F) features
    batch_size: int = 256
    check: Callable[[int, int], None] = field(default=lambda channels, size: None)  # raises UserError on misfit

    @property
    def fd_name(self) -> str:
        """Return how the Fréchet distance on these features is reported ('FID' only for Inception)."""
        return "FID" if self.kind == "inception" else f"FD-{self.kind}"

    @property
    def kd_name(self) -> str:
        """Return how the kernel distance on these features is reported ('KID' only for Inception)."""
        return "KID" if self.kind == "inception" else f"KD-{self.kind}"

    def features(self, images_uint8: torch.Tensor, desc: str | None = None) -> torch.Tensor:
        """Return (N, F) float32 features of (N, C, S, S) uint8 images, in batches (a progress bar with ``desc``)."""
        if images_uint8.dtype != torch.uint8 or images_uint8.ndim != 4:
            raise ValueError(f"expected (N, C, S, S) uint8 images, got {tuple(images_uint8.shape)} {images_uint8.dtype}")
        self.check(images_uint8.shape[1], images_uint8.shape[-1])
        out = []
        with tqdm(total=len(images_uint8), desc=desc, unit="img", disable=desc is None, leave=False) as bar:
            for start in range(0, len(images_uint8), self.batch_size):
                batch = torch.as_tensor(images_uint8[start : start + self.batch_size])
                out.append(self.batch_fn(batch).float().cpu())
                bar.update(len(batch))
        return torch.cat(out)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:24]


def _inception(arg: str, ctx: dict[str, Any]) -> Extractor:
    from dcgan.metrics import inception

    path = inception.weights_path()
    net = inception.load_inception(path, str(ctx["device"]))
    return Extractor("inception", "inception", f"inception-2015-12-05:{inception.WEIGHTS_SHA1}:tf1-bilinear-299:x-128/128",
                     dict(inception.PROTOCOL), lambda x: inception.inception_features(net, x), batch_size=32)


def _judge(arg: str, ctx: dict[str, Any]) -> Extractor:
    from dcgan.judges import load_judge

    if not arg:
        raise UserError("--extractor judge needs the judge file: judge:PATH (train one with 'dcgan judge train')")
    path = Path(arg).expanduser()
    if not path.is_file():
        raise UserError(f"judge file not found: {path} (train one with 'dcgan judge train --data SPEC --out {path}')")
    judge = load_judge(path, ctx["device"])

    def check(channels: int, size: int) -> None:
        if (judge.channels, judge.image_size) != (channels, size):
            raise UserError(f"judge {path} reads {judge.image_size}x{judge.image_size} images with {judge.channels} channel(s), "
                            f"not {size}x{size}x{channels}: use a judge trained on data of this size")

    file_id = _file_digest(path)
    return Extractor(f"judge:{path}", "judge", f"judge:{file_id}",
                     {"network": f"judge {path.resolve()} (sha256 {file_id}...), penultimate layer ({judge.cfg.feature_dim}-d)",
                      "input": "uint8 / 127.5 - 1 at the judge's own size (no resizing)"},
                     judge.features, check=check)


def d_channel_features(d: torch.nn.Module, images_uint8: torch.Tensor) -> torch.Tensor:
    """Return (N, sum of D's channels): the paper's 4x4-pooled D features with each channel's 16 cells averaged."""
    from dcgan.features import GRID, d_features, feature_split

    feats = d_features(d, images_uint8)
    parts = feats.split(feature_split(d), dim=1)  # per layer: (N, C * 16), channel-major
    return torch.cat([p.view(len(p), -1, GRID * GRID).mean(-1) for p in parts], dim=1)


def _d_extractor(spec: str, kind: str, d: torch.nn.Module, cache_id: str, origin: str, ctx: dict[str, Any]) -> Extractor:
    d = d.to(torch.device(ctx["device"])).eval()

    def check(channels: int, size: int) -> None:
        if (d.cfg.channels, d.cfg.image_size) != (channels, size):
            raise UserError(f"the discriminator of {origin} reads {d.cfg.image_size}x{d.cfg.image_size}x{d.cfg.channels} images, "
                            f"not {size}x{size}x{channels}: use a checkpoint trained at this size")

    return Extractor(spec, kind, cache_id, {"network": origin, "features": DFEAT_POOL, "input": "uint8 / 127.5 - 1"},
                     lambda x: d_channel_features(d, x), check=check)


def _dfeat(arg: str, ctx: dict[str, Any]) -> Extractor:
    from dcgan.checkpoint import discriminator_from_checkpoint, load_checkpoint, resolve_checkpoint

    if arg:
        path = resolve_checkpoint(arg)
        payload, origin = load_checkpoint(path), f"D of {path.resolve()}"
    elif ctx.get("payload") is not None:
        payload, origin = ctx["payload"], "D of the evaluated checkpoint"
    else:
        raise UserError("--extractor dfeat needs a checkpoint here: dfeat:CKPT (a D that keeps changing, as during training, gives numbers that do not compare)")
    return _d_extractor(f"dfeat:{arg}" if arg else "dfeat", "dfeat", discriminator_from_checkpoint(payload), f"dfeat:{payload['digest']}", origin, ctx)


def random_discriminator(image_size: int, channels: int) -> torch.nn.Module:
    """Return the fixed untrained D of the ``random`` extractor: DCGAN's D with He (Kaiming) initialisation.

    Not the paper's N(0, 0.02): that shrinks activations about 5x per layer, leaving features near 1e-2 and
    distances near 1e-5 (KID then rounds to 0); He's variance-preserving init keeps features of unit scale.
    """
    from dcgan.config import ModelConfig
    from dcgan.models import LEAKY_SLOPE, Discriminator

    d = Discriminator(ModelConfig(image_size=image_size, channels=channels, ndf=RANDOM_NDF))
    gen = torch.Generator().manual_seed(RANDOM_SEED)
    with torch.no_grad():
        for m in d.modules():
            if isinstance(m, torch.nn.Conv2d):
                fan_in = m.weight[0].numel()
                gain = torch.nn.init.calculate_gain("leaky_relu", LEAKY_SLOPE)
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * gain / fan_in**0.5)
    return d.eval()


def _random(arg: str, ctx: dict[str, Any]) -> Extractor:
    from dcgan.checkpoint import digest

    if arg:
        raise UserError(f"--extractor random takes no argument, got random:{arg}")
    d = random_discriminator(ctx["image_size"], ctx["channels"])
    cache_id = f"random:{digest(d.state_dict())[:24]}"
    origin = f"untrained DCGAN discriminator (ndf {RANDOM_NDF}, He init, seed {RANDOM_SEED})"
    return _d_extractor("random", "random", d, cache_id, origin, ctx)


# name -> (factory(argument after ':', context), help)
EXTRACTORS: dict[str, tuple[Callable[[str, dict[str, Any]], Extractor], str]] = {
    "inception": (_inception, "TensorFlow Inception pool features: the standard FID (needs pip install 'dcgan[fid]')"),
    "judge": (_judge, "judge:PATH, a judge's penultimate features (reported as FD-judge)"),
    "dfeat": (_dfeat, "dfeat or dfeat:CKPT, the discriminator's features (reported as FD-dfeat)"),
    "random": (_random, "a fixed untrained discriminator's features, cheap and file-free (reported as FD-random)"),
}


def build_extractor(spec: str, *, channels: int, image_size: int, payload: dict[str, Any] | None = None,
                    device: torch.device | str = "cpu") -> Extractor:
    """Return the extractor ``spec`` names, for images of ``channels`` x ``image_size``^2.

    ``payload`` is the checkpoint being evaluated (what a bare ``dfeat`` refers to).
    """
    name, _, arg = spec.partition(":")
    if name not in EXTRACTORS:
        raise UserError(f"unknown extractor {spec!r}: use one of " + "; ".join(help_ for _, help_ in EXTRACTORS.values()))
    extractor = EXTRACTORS[name][0](arg, {"channels": channels, "image_size": image_size, "payload": payload, "device": device})
    extractor.check(channels, image_size)
    return extractor
