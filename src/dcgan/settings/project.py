"""Settings of ``dcgan project``."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.settings import Settings, check, option

PERCEPTUAL = ("dfeat", "lpips", "none")


def _images(value: str | tuple[str, ...]) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(str(v) for v in value)
    return tuple(i.strip() for i in items if str(i).strip())


@dataclass(frozen=True)
class ProjectSettings(Settings):
    """Which images to project, how the code is searched for, and what the reconstruction is compared with."""

    images: str | tuple[str, ...] = option((), "image files, a folder of images, or a data SPEC (rooms:test, mnist:test, x.npz)")
    num_images: int | None = option(None, "with a data SPEC (or a folder): project this many images (default: 64 of a SPEC, "
                                          "every image of a folder)", metavar="N")
    start: int = option(0, "with a data SPEC (or a folder): index of the first image projected")
    steps: int = option(500, "Adam steps per restart")
    restarts: int = option(8, "random starts per image; the code with the lowest loss is kept")
    lr: float = option(0.1, "peak Adam learning rate on z (cosine decay to 0 over --steps)")
    pixel_weight: float = option(1.0, "weight of the pixel distance (mean squared error in [-1, 1])")
    perceptual: str = option("dfeat", "perceptual distance: dfeat (the checkpoint's own D features, no download), "
                                      "lpips (needs the lpips package and its AlexNet weights installed) or none",
                             choices=PERCEPTUAL)
    perceptual_weight: float = option(0.1, "weight of the perceptual distance (0.1 reconstructed both pixels and D features best on held-out rooms)")
    prior_mass: float = option(0.999, "normal z: keep |z| inside the shell holding this share of the prior's mass "
                                      "(uniform z always stays inside [-1, 1])")
    seed: int = option(0, "restart r starts from the code of seed SEED + r (same seed, same code)")
    baseline: int = option(1000, "random samples searched for the nearest one (the baseline column of the figure)")
    batch_size: int = option(64, "images optimised at once (each with all its restarts)")
    show: int = option(16, "images shown in the figure")

    def __post_init__(self) -> None:
        self.normalise("images", _images(self.images))
        check(bool(self.images), "give the images to project: image files, a folder, or a data SPEC such as rooms:test")
        check(self.steps >= 1 and self.restarts >= 1, "--steps and --restarts must be at least 1")
        check(self.num_images is None or self.num_images >= 1, "--num-images must be positive")
        check(self.start >= 0 and self.seed >= 0, "--start and --seed must be non-negative")
        check(self.lr > 0, "--lr must be positive")
        check(self.pixel_weight >= 0 and self.perceptual_weight >= 0, "--pixel-weight and --perceptual-weight must be non-negative")
        check(self.pixel_weight > 0 or (self.perceptual != "none" and self.perceptual_weight > 0),
              "the loss is zero: give a positive --pixel-weight, or a perceptual distance with a positive weight")
        check(self.perceptual in PERCEPTUAL, f"--perceptual must be one of {', '.join(PERCEPTUAL)}, not {self.perceptual!r}")
        check(0 < self.prior_mass < 1, "--prior-mass must be between 0 and 1 (e.g. 0.999)")
        check(self.baseline >= 0 and self.batch_size >= 1 and self.show >= 0,
              "--baseline and --show must be non-negative and --batch-size positive")
