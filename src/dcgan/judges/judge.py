"""Using trained judges: per-factor probabilities, realness, features and localiser masks of uint8 images."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from dcgan.data.base import to_unit_range
from dcgan.errors import UserError
from dcgan.judges.nets import JudgeNet, LocaliserNet

CONFIDENT = 0.9  # "confidently judged": max probability above this on every head, realness included


def check_images(images: torch.Tensor, size: int, channels: int, what: str) -> None:
    """Raise a UserError unless ``images`` is uint8 (N, channels, size, size)."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
        raise UserError(f"{what} takes uint8 image tensors (N, C, H, W)")
    n, c, h, w = images.shape
    if (h, w) != (size, size):
        raise UserError(
            f"{what} was trained on {size}x{size} images but got {h}x{w}: train one at this size "
            f"(dcgan judge train --image-size {h} ...) or resize the images to {size}x{size} (--resize)"
        )
    if c != channels:
        raise UserError(f"{what} was trained on {channels}-channel images but got {c} channels")


def _batched(fn: Callable[[torch.Tensor], Any], images: torch.Tensor, batch_size: int, device: torch.device) -> list[Any]:
    out = []
    for start in range(0, len(images), batch_size):
        out.append(fn(to_unit_range(images[start : start + batch_size].to(device))))
    return out


class Probs(dict[str, torch.Tensor]):
    """``Judge.predict`` output: {factor: (N, K) probabilities}, plus ``real``.

    ``real`` is the (N,) probability that each image looks like the judge's training data, or None
    for a judge without a realness net. It rides along as an attribute, not a key, so code that loops
    over the factors keeps working, and ``Judge.confident(probs)`` can still check it.
    """

    def __init__(self, probs: Mapping[str, torch.Tensor], real: torch.Tensor | None = None) -> None:
        super().__init__(probs)
        self.real = real


class Judge:
    """A trained judge: per-factor probabilities, realness and penultimate features of uint8 images."""

    def __init__(self, net: JudgeNet, report: dict[str, Any] | None = None, localiser: Localiser | None = None,
                 path: Path | None = None, realness: JudgeNet | None = None) -> None:
        self.net = net.eval()
        self.cfg = net.cfg
        self.report = report or {}
        self.localiser = localiser
        self.path = path
        self.real_net = realness.eval() if realness is not None else None

    @property
    def factors(self) -> list[str]:
        """Return the factor names, one per head."""
        return list(self.cfg.factors)

    @property
    def value_names(self) -> dict[str, list[str]]:
        """Return {factor: names of its values}."""
        return {f: list(v) for f, v in zip(self.cfg.factors, self.cfg.values, strict=True)}

    @property
    def image_size(self) -> int:
        return self.cfg.image_size

    @property
    def channels(self) -> int:
        return self.cfg.channels

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def has_realness(self) -> bool:
        """Whether this judge can tell images like its training data from others (judges trained before it cannot)."""
        return self.real_net is not None

    def to(self, device: torch.device | str) -> Judge:
        """Move the judge (its realness net and localiser too) to ``device``; return self."""
        self.net.to(device)
        if self.real_net is not None:
            self.real_net.to(device)
        if self.localiser is not None:
            self.localiser.to(device)
        return self

    def _name(self) -> str:
        return f"judge {self.path}" if self.path else "this judge"

    def check(self, images: torch.Tensor) -> None:
        """Raise a UserError unless ``images`` fit this judge (size, channels, uint8)."""
        check_images(images, self.image_size, self.channels, self._name())

    @torch.inference_mode()
    def predict(self, images: torch.Tensor, batch_size: int = 256) -> Probs:
        """Return {factor: (N, K) float32 probabilities} for uint8 (N, C, S, S) images, with ``.real`` (see Probs)."""
        self.check(images)
        parts = _batched(lambda x: [F.softmax(o.float(), 1).cpu() for o in self.net(x)], images, batch_size, self.device)
        probs = {f: torch.cat([p[i] for p in parts]) for i, f in enumerate(self.factors)}
        return Probs(probs, self.realness(images, batch_size))

    @torch.inference_mode()
    def realness(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor | None:
        """Return the (N,) probability that each uint8 image looks like the training data; None without a realness net."""
        if self.real_net is None:
            return None
        self.check(images)
        net = self.real_net
        return torch.cat(_batched(lambda x: F.softmax(net(x)[0].float(), 1)[:, 1].cpu(), images, batch_size, self.device))

    @torch.inference_mode()
    def features(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Return (N, feature_dim) float32 penultimate features of uint8 images (for feature-space metrics)."""
        self.check(images)
        return torch.cat(_batched(lambda x: self.net.features(x).float().cpu(), images, batch_size, self.device))

    def real_of(self, probs: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
        """Return the realness that ``probs`` carry (None when this judge has none).

        A judge with a realness net refuses probabilities that lost it (a rebuilt dict): silently
        skipping the check would call garbage confident again.
        """
        real = getattr(probs, "real", None)
        if real is None and self.has_realness:
            raise ValueError("these probabilities carry no realness: pass Judge.predict output itself (a Probs), not a copy")
        return real

    def confident(self, images_or_probs: torch.Tensor | Mapping[str, torch.Tensor], threshold: float = CONFIDENT) -> torch.Tensor:
        """Return (N,) bool: the max probability exceeds ``threshold`` on every head, and so does realness when known."""
        probs = images_or_probs if isinstance(images_or_probs, Mapping) else self.predict(images_or_probs)
        ok = torch.stack([p.max(1).values > threshold for p in probs.values()]).all(0)
        real = self.real_of(probs)
        return ok if real is None else ok & (real > threshold)

    def labels(self, probs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Return {factor: (N,) int64 most likely value} from ``predict`` output."""
        return {f: p.argmax(1) for f, p in probs.items()}

    def describe(self, probs: Mapping[str, torch.Tensor], i: int) -> str:
        """Return 'wall=red window=2 ...' for image ``i`` of ``predict`` output."""
        names = self.value_names
        return " ".join(f"{f}={names[f][int(p[i].argmax())]}" for f, p in probs.items())


class Localiser:
    """A trained localiser: per-pixel probability masks of each object kind (rooms: window, bed, rug)."""

    def __init__(self, net: LocaliserNet, report: dict[str, Any] | None = None) -> None:
        self.net = net.eval()
        self.cfg = net.cfg
        self.report = report or {}

    @property
    def objects(self) -> list[str]:
        return list(self.cfg.objects)

    def to(self, device: torch.device | str) -> Localiser:
        self.net.to(device)
        return self

    @torch.inference_mode()
    def masks(self, images: torch.Tensor, batch_size: int = 128) -> dict[str, torch.Tensor]:
        """Return {object: (N, H, W) float32 probability that the pixel shows that object}."""
        check_images(images, self.cfg.image_size, self.cfg.channels, "the localiser")
        device = next(self.net.parameters()).device
        parts = torch.cat(_batched(lambda x: torch.sigmoid(self.net(x).float()).cpu(), images, batch_size, device))
        return {name: parts[:, i] for i, name in enumerate(self.objects)}

    def boxes(self, images: torch.Tensor, threshold: float = 0.5, min_pixels: int = 4) -> list[dict[str, list[tuple[int, int, int, int]]]]:
        """Return per image {object: [(x0, y0, x1, y1), ...]}: boxes of connected mask regions (x1, y1 exclusive)."""
        from scipy import ndimage

        masks = self.masks(images)
        out: list[dict[str, list[tuple[int, int, int, int]]]] = [{} for _ in range(len(images))]
        for name, m in masks.items():
            binary = (m > threshold).numpy()
            for i in range(len(images)):
                labelled, _ = ndimage.label(binary[i])
                found = []
                for k, sl in enumerate(ndimage.find_objects(labelled), start=1):
                    if sl is not None and (labelled[sl] == k).sum() >= min_pixels:
                        found.append((sl[1].start, sl[0].start, sl[1].stop, sl[0].stop))
                out[i][name] = found
        return out
