"""A data source at a glance: its first images with their labels written under each tile."""

from __future__ import annotations

from typing import Any

from dcgan.config import DataConfig
from dcgan.data import load_data
from dcgan.errors import UserError
from dcgan.settings.data import PreviewSettings


def preview(settings: PreviewSettings | None = None, **options: Any) -> tuple[Any, str]:
    """Return (a PIL grid of the chosen images, each captioned with its labels; the data's description)."""
    from dcgan.images import labelled_grid

    s = PreviewSettings.build(settings, **options)
    data = load_data(DataConfig(spec=s.spec, data_root=s.data_root, image_size=s.image_size, num_images=s.start + s.count))
    if s.start >= len(data):
        raise UserError(f"--start {s.start} is past the end of {data.description}")
    data = data.subset(slice(s.start, s.start + s.count))
    names = list(data.labels)
    if s.labels:
        names = [n.strip() for n in s.labels.split(",") if n.strip()]
        missing = [n for n in names if n not in data.labels]
        if missing:
            raise UserError(f"no labels {', '.join(missing)} in {data.description}: it has {', '.join(data.labels) or 'none'}")
    captions = [[_caption(data, n, i) for n in names[:8]] for i in range(len(data))]
    scale = s.scale or max(1, -(-128 // data.image_size))
    return labelled_grid(data.images, captions, s.nrow, scale), data.description


def _caption(data: Any, name: str, index: int) -> str:
    value = int(data.labels[name][index])
    value_names = data.label_names.get(name) or []
    shown = value_names[value] if 0 <= value < len(value_names) else str(value)
    return shown if name == "label" else f"{name}={shown}"
