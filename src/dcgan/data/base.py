"""The common currency of all data sources: uint8 image tensors plus optional labels."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from dcgan.errors import UserError

RESIZE_CHUNK = 4096  # images resized per chunk, to bound the float copy made while resizing


@dataclass
class ImageData:
    """A decoded dataset: (N, C, S, S) uint8 images (maybe memory-mapped) and per-image integer labels."""

    images: torch.Tensor
    labels: dict[str, torch.Tensor] = field(default_factory=dict)  # factor -> (N,) int64
    label_names: dict[str, list[str]] = field(default_factory=dict)  # factor -> name of each value
    description: str = ""
    skipped: int = 0  # unreadable files left out

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W) uint8, got {tuple(self.images.shape)} {self.images.dtype}")
        for name, values in self.labels.items():
            if len(values) != len(self.images):
                raise ValueError(f"label {name!r} has {len(values)} entries for {len(self.images)} images")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    def subset(self, index: torch.Tensor | slice) -> ImageData:
        """Return the images and labels at ``index`` (a copy for tensors of indices)."""
        return ImageData(
            self.images[index],
            {k: v[index] for k, v in self.labels.items()},
            dict(self.label_names),
            self.description,
            self.skipped,
        )


def centre_crop_square(images: torch.Tensor) -> torch.Tensor:
    """Return the central square of (N, C, H, W) images."""
    h, w = images.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return images[..., top : top + s, left : left + s]


def convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Return (N, channels, H, W) uint8: grey is repeated to RGB, RGB becomes ITU-R 601 luma."""
    have = images.shape[1]
    if have == channels:
        return images
    if have == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    if have == 3 and channels == 1:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    raise UserError(f"cannot convert {have}-channel images to {channels} channels")


def fit_images(images: torch.Tensor, size: int, channels: int | None = None) -> torch.Tensor:
    """Return uint8 (N, C, size, size): centre-cropped to square, resized (antialiased bilinear), channels converted."""
    images = centre_crop_square(images)
    if channels is not None:
        images = convert_channels(images, channels)
    if images.shape[-1] == size:
        return images.contiguous()
    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, len(images), RESIZE_CHUNK):
        chunk = images[start : start + RESIZE_CHUNK].float()
        resized = F.interpolate(chunk, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start : start + RESIZE_CHUNK] = resized.round().clamp(0, 255).to(torch.uint8)
    return out


def to_unit_range(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Map uint8 [0, 255] images to [-1, 1] floats (done on the device, inside the step)."""
    return images.to(dtype).div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Map [-1, 1] images back to uint8 [0, 255]."""
    return images.detach().float().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
