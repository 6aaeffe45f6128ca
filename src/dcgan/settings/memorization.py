"""Settings of ``dcgan memorization``: which training and held-out images, how many samples, the near-copy threshold."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.settings import Settings, check, option


@dataclass(frozen=True)
class MemorizationSettings(Settings):
    """Where the nearest training images are searched, for how many samples, and what counts as a near-copy."""

    data: str | None = option(None, "the training data to search (default: what the run was trained on)", metavar="SPEC")
    data_root: str | None = option(None, "where named datasets live (default: the run's, else $DCGAN_DATA_ROOT or ./data)", metavar="DIR")
    train_images: int | None = option(None, "search only the first N training images (default: all the run used)", metavar="N")
    heldout: str | None = option(None, "held-out real images (default: the data's test split; for a folder, its last --samples images, "
                                 "then left out of the training set)", metavar="SPEC")
    samples: int = option(1000, "generated images (seeds 0..N-1) and held-out images compared")
    quantile: float = option(0.01, "near-copy threshold: this quantile of the held-out distances")
    pairs: int = option(32, "closest pairs shown per space")
    chunk: int = option(2048, "training images compared at once (memory only)")

    def __post_init__(self) -> None:
        check(self.samples >= 10 and 0 < self.quantile < 1 and self.pairs >= 1 and self.chunk >= 1,
              "--samples must be at least 10, --quantile in (0, 1), --pairs and --chunk positive")
        check(self.train_images is None or self.train_images >= 1, "--train-images must be positive")
