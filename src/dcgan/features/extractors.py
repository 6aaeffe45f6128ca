"""Builders of every feature space, behind one registry of specs: uint8 images -> (N, dim) float32.

| spec          | network                                                  | Fréchet distance reported as |
|---------------|----------------------------------------------------------|------------------------------|
| inception     | TensorFlow Inception pool3 (the standard; ``[fid]`` extra) | FID                          |
| judge:PATH    | penultimate layer of a judge (``dcgan judge train``)      | FD-judge                     |
| dfeat[:CKPT]  | D of the evaluated checkpoint (or of CKPT)               | FD-dfeat                     |
| random        | a fixed, seeded, untrained DCGAN discriminator           | FD-random                    |
| pixels        | the raw pixel values (a baseline)                        | FD-pixels                    |

Only ``inception`` gives FID; distances on any other network are named after it, because their values
are on another scale and must never be compared with published FIDs.

The registry's D features (``dfeat``, ``random``) are the channel-averaged variant of the paper's
features (``features.discriminator``): they feed an F x F covariance. Tools that want the full 4x4 grid
(the probe, the memorisation check) call ``discriminator_extractor`` themselves.
``random`` follows Naeem et al. (2020), who show random-network embeddings are useful where ImageNet
features do not fit the data (digits, procedural rooms); it is cheap and needs no file, which makes it the
default for evaluation during training. Its D is fixed (seeded He initialisation, BatchNorm at its initial
identity), so its numbers compare across runs of the same image size and channels.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from dcgan.errors import UserError
from dcgan.features.base import Extractor, file_digest
from dcgan.features.discriminator import discriminator_extractor

RANDOM_SEED = 0  # the seed of the random discriminator: fixed, so its numbers compare across runs
RANDOM_NDF = 64


def pixel_features(images_uint8: torch.Tensor) -> torch.Tensor:
    """Return (N, C*H*W) float32 raw pixel values (0..255): the baseline every feature set must beat."""
    return torch.as_tensor(images_uint8).reshape(len(images_uint8), -1).float()


def pixels_extractor(channels: int, image_size: int) -> Extractor:
    """Return raw pixels as an extractor; never cached (a float copy of the data is slower to read than to make)."""

    def check(c: int, size: int) -> None:
        if (c, size) != (channels, image_size):
            raise UserError(f"pixel features were set up for {image_size}x{image_size}x{channels} images, not {size}x{size}x{c}")

    return Extractor("pixels", "pixels", channels * image_size**2, "pixels", {"network": "none", "input": "uint8 values as float32"},
                     pixel_features, check=check, worth_caching=False)


def judge_extractor(judge: Any, device: torch.device | str = "cpu") -> Extractor:
    """Return a judge's penultimate features, from a judge file or a loaded Judge; its file digest is the cache identity."""
    if isinstance(judge, str | Path):
        from dcgan.judges import load_judge

        path = Path(judge).expanduser()
        if not path.is_file():
            raise UserError(f"judge file not found: {path} (train one with 'dcgan judge train --data SPEC --out {path}')")
        judge = load_judge(path, device)
    path = Path(judge.path) if getattr(judge, "path", None) else None
    if path is not None and path.is_file():
        file_id, what = file_digest(path)[:24], f"judge {path.resolve()}"
    else:  # a judge that never was a file: its weights identify it
        from dcgan.checkpoint import digest

        file_id, what = digest(judge.net.state_dict())[:24], "an in-memory judge"

    def check(channels: int, size: int) -> None:
        if (judge.channels, judge.image_size) != (channels, size):
            raise UserError(f"{what} reads {judge.image_size}x{judge.image_size} images with {judge.channels} channel(s), "
                            f"not {size}x{size}x{channels}: use a judge trained on data of this size")

    dim = judge.cfg.feature_dim
    return Extractor(f"judge:{path}", "judge", dim, f"judge:{file_id}",
                     {"network": f"{what} (sha256 {file_id}...), penultimate layer ({dim}-d)",
                      "input": "uint8 / 127.5 - 1 at the judge's own size (no resizing)"},
                     judge.features, check=check)


def inception_extractor(device: torch.device | str = "cpu") -> Extractor:
    """Return the standard FID network's 2048 pool features (the weights come with the ``[fid]`` extra)."""
    from dcgan.features import inception

    net = inception.load_inception(inception.weights_path(), str(device))
    return Extractor("inception", "inception", inception.FEATURE_DIM,
                     f"inception-2015-12-05:{inception.WEIGHTS_SHA1}:tf1-bilinear-299:x-128/128",
                     dict(inception.PROTOCOL), lambda x: inception.inception_features(net, x), batch_size=32)


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


def _inception(arg: str, ctx: dict[str, Any]) -> Extractor:
    if arg:
        raise UserError(f"--extractor inception takes no argument, got inception:{arg}")
    return inception_extractor(ctx["device"])


def _judge(arg: str, ctx: dict[str, Any]) -> Extractor:
    if not arg:
        raise UserError("--extractor judge needs the judge file: judge:PATH (train one with 'dcgan judge train')")
    return judge_extractor(arg, ctx["device"])


def _dfeat(arg: str, ctx: dict[str, Any]) -> Extractor:
    from dcgan.checkpoint import discriminator_from_checkpoint, load_checkpoint, resolve_checkpoint

    if arg:
        path = resolve_checkpoint(arg)
        payload, origin = load_checkpoint(path), f"D of {path.resolve()}"
    elif ctx.get("payload") is not None:
        payload, origin = ctx["payload"], "D of the evaluated checkpoint"
    else:
        raise UserError("--extractor dfeat needs a checkpoint here: dfeat:CKPT (a D that keeps changing, as during training, gives numbers that do not compare)")
    return discriminator_extractor(discriminator_from_checkpoint(payload), average_cells=True, identity=payload["digest"],
                                   origin=origin, kind="dfeat", spec=f"dfeat:{arg}" if arg else "dfeat", device=ctx["device"])


def _random(arg: str, ctx: dict[str, Any]) -> Extractor:
    from dcgan.checkpoint import digest

    if arg:
        raise UserError(f"--extractor random takes no argument, got random:{arg}")
    d = random_discriminator(ctx["image_size"], ctx["channels"])
    origin = f"untrained DCGAN discriminator (ndf {RANDOM_NDF}, He init, seed {RANDOM_SEED})"
    # cache id 'random:<weights digest>': checkpoints store it, and a resumed run keeps its best only if it is unchanged
    return discriminator_extractor(d, average_cells=True, identity=digest(d.state_dict())[:24], origin=origin, kind="random",
                                   device=ctx["device"])


def _pixels(arg: str, ctx: dict[str, Any]) -> Extractor:
    if arg:
        raise UserError(f"--extractor pixels takes no argument, got pixels:{arg}")
    return pixels_extractor(ctx["channels"], ctx["image_size"])


# name -> (factory(argument after ':', context), help)
EXTRACTORS: dict[str, tuple[Callable[[str, dict[str, Any]], Extractor], str]] = {
    "inception": (_inception, "TensorFlow Inception pool features: the standard FID (needs pip install 'dcgan[fid]')"),
    "judge": (_judge, "judge:PATH, a judge's penultimate features (reported as FD-judge)"),
    "dfeat": (_dfeat, "dfeat or dfeat:CKPT, the discriminator's features (reported as FD-dfeat)"),
    "random": (_random, "a fixed untrained discriminator's features, cheap and file-free (reported as FD-random)"),
    "pixels": (_pixels, "raw pixel values, a baseline (reported as FD-pixels)"),
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
