"""Settings of ``dcgan visualize``."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.errors import UserError
from dcgan.seeds import as_seeds
from dcgan.settings import Settings, check, option


def as_units(value: str | int | tuple[int, ...], flag: str) -> tuple[int, ...]:
    """Return feature-map numbers from '0-5', '3,17' or ints, each once, in the order given."""
    try:
        return tuple(dict.fromkeys(as_seeds(value, flag)))
    except UserError:
        raise UserError(f"cannot read {flag} {value!r}: use a range '0-5', a list '3,17,42' or both") from None


@dataclass(frozen=True)
class VisualizeSettings(Settings):
    """Which real images are searched, which D layer and units are shown, and whether the pointing game is scored."""

    data: str | None = option(None, "real images to search, as for 'dcgan train --data' (default: the checkpoint's training data)",
                              metavar="SPEC")
    data_root: str | None = option(None, "folder holding named datasets (default: the checkpoint's, else $DCGAN_DATA_ROOT or ./data)",
                                   metavar="DIR")
    num_images: int = option(2000, "images searched for each unit's strongest responses", metavar="N")
    layer: int = option(-1, "D conv layer: 0 is the first, -1 the last")
    units: str | tuple[int, ...] = option("0-5", "feature maps to show: a range '0-5', a list '3,17' or both "
                                          "(default: 0-5, the paper's first six)")
    top_k: int = option(8, "images shown per unit, strongest first; also used by the pointing game", metavar="K")
    pointing_units: str | tuple[int, ...] = option("all", "units scored by the pointing game on rooms: 'all' or a range/list")
    pointing: bool = option(True, "score the pointing game on rooms data (--no-pointing skips it)")
    random_seed: int = option(0, "seed of the randomly initialised D shown beside the trained one")
    batch_size: int = option(128, "images per forward/backward pass (does not change the results)")

    def __post_init__(self) -> None:
        self.normalise("units", as_units(self.units, "--units"))
        if not (isinstance(self.pointing_units, str) and self.pointing_units.strip() == "all"):
            self.normalise("pointing_units", as_units(self.pointing_units, "--pointing-units"))
        else:
            self.normalise("pointing_units", "all")
        check(self.num_images >= 1 and self.top_k >= 1 and self.batch_size >= 1,
              "--num-images, --top-k and --batch-size must be positive")
