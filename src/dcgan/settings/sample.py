"""Settings of ``dcgan sample``."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.seeds import as_seeds
from dcgan.settings import Settings, check, option


@dataclass(frozen=True)
class SampleSettings(Settings):
    """Which seeds to decode and what to write."""

    seeds: str | tuple[int, ...] = option("0-63", "seeds: a range '0-63', a list '3,17,42' or both")
    nrow: int | None = option(None, "images per grid row (default: square)")
    grid: bool = option(True, "write no grid (use with --each)")
    each: bool = option(False, "also write one PNG per seed, images/seed-NNNNNN.png")
    batch_size: int = option(256, "images generated at once (does not change the images)")
    drop: str | None = option(None, "zero the feature maps listed in a dropped.json written by 'dcgan forget' for this checkpoint",
                              metavar="FILE")

    def __post_init__(self) -> None:
        self.normalise("seeds", as_seeds(self.seeds))
        check(self.grid or self.each, "--no-grid without --each would write nothing")
        check(self.batch_size >= 1, "--batch-size must be positive")
        check(self.nrow is None or self.nrow >= 1, "--nrow must be positive")
