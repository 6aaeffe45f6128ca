"""Settings of ``dcgan data preview``."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.settings import Settings, check, option


@dataclass(frozen=True)
class PreviewSettings(Settings):
    """Which images of a data source to show, and how."""

    spec: str = option("rooms", "rooms, rooms:test, an image folder, an .npz file, a torchvision name, fake")
    data_root: str | None = option(None, "folder holding named datasets (default: $DCGAN_DATA_ROOT or ./data)", metavar="DIR")
    image_size: int = option(64, "size to show the images at")
    count: int = option(32, "images to show")
    start: int = option(0, "first image")
    nrow: int = option(8, "tiles per row")
    labels: str | None = option(None, "labels to print, e.g. 'wall,bed' (default: all, at most 8)", metavar="A,B")
    scale: int | None = option(None, "enlarge each tile this many times (default: to at least 128 pixels)")

    def __post_init__(self) -> None:
        check(self.count >= 1 and self.start >= 0 and self.nrow >= 1, "--count and --nrow must be positive and --start not negative")
        check(self.scale is None or self.scale >= 1, "--scale must be positive")
