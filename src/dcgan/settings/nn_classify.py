"""Settings of ``dcgan nn-classify`` (the paper's MNIST appendix): a 1-nearest-neighbour classifier built from samples."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.settings import Settings, check, option


@dataclass(frozen=True)
class NnClassifySettings(Settings):
    """How many class-conditional samples form the classifier's training set, and which real images test it."""

    test: str = option("mnist:test", "labelled real images the classifier is tested on (a data SPEC with a split, as for dcgan train)",
                       metavar="SPEC")
    data_root: str | None = option(None, "folder holding named datasets (default: $DCGAN_DATA_ROOT or ./data)", metavar="DIR")
    samples: int = option(50000, "generated samples in the classifier's training set, split evenly over the classes (the paper: 50K and 10M)")
    test_images: int | None = option(None, "test on at most this many real images (default: all of the split)")
    real: str | None = option(None, "also classify with this many real labelled images instead of samples (a SPEC such as mnist:train): "
                              "the paper's 'real data' row", metavar="SPEC")
    start_seed: int = option(0, "first seed of the codes: class k's samples use seeds start, start+1, ... (each class the same codes)")
    chunk: int = option(1024, "samples drawn and compared with every test image at once (memory: chunk x test images floats); "
                              "the samples are never held all at once")
    batch_size: int = option(512, "samples generated per forward pass of G (does not change them)")

    def __post_init__(self) -> None:
        check(self.samples >= 1, f"--samples must be positive, not {self.samples}")
        check(self.test_images is None or self.test_images >= 1, f"--test-images must be positive, not {self.test_images}")
        check(self.chunk >= 1 and self.batch_size >= 1, "--chunk and --batch-size must be positive")
        check(self.start_seed >= 0, f"--start-seed must not be negative, not {self.start_seed}")
