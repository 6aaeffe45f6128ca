"""Sampling: decode seeds with a trained G (optionally with a forgetting drop applied)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from dcgan.api import Model
from dcgan.report import Result
from dcgan.settings.sample import SampleSettings


@dataclass
class SampleResult(Result):
    """The decoded images, one per seed, and the drop applied (if any)."""

    tool = "sample"
    images: torch.Tensor = field(default=None, repr=False)  # uint8 (N, C, H, W)
    dropped: dict[str, Any] | None = None  # {layer, layer_name, maps, file} when a drop file was applied

    def summary(self) -> dict[str, Any]:
        return {"seeds": list(self.settings.seeds), "dropped": self.dropped}

    def lines(self) -> list[str]:
        if not self.dropped:
            return []
        d = self.dropped
        return [f"dropped {len(d['maps'])} feature maps of G's layer {d['layer']} ({d['layer_name']}), from {d['file']}"]


def sample(model: Model, settings: SampleSettings | None = None, **options: Any) -> SampleResult:
    """Return the images of ``settings.seeds`` (seed s always gives the same image), with a drop file's maps zeroed if given."""
    settings = SampleSettings.build(settings, **options)
    z = model.codes(settings.seeds)
    if settings.drop is None:
        return SampleResult(settings, model.describe(), model.decode(z, settings.batch_size))
    from dcgan.analysis.forget import drop_maps, load_drop_file

    layer, maps, record = load_drop_file(settings.drop, model.generator, model.payload["digest"])
    with drop_maps(model.generator, layer, maps, record.get("renorm")):
        images = model.decode(z, settings.batch_size)
    dropped = {"layer": layer, "layer_name": record.get("layer_name", "?"), "maps": maps, "file": str(settings.drop)}
    return SampleResult(settings, model.describe(), images, dropped)
