"""Settings of ``dcgan judge train | score | select``: one dataclass per action, validated before any data is read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dcgan.config import check_image_size
from dcgan.seeds import as_seeds
from dcgan.settings import Settings, check, option


def label_list(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """Return the factors 'a,b' (or an iterable of names) as a tuple; None or nothing named means every label."""
    if value is None:
        return None
    names = value.split(",") if isinstance(value, str) else list(value)
    return tuple(n.strip() for n in names if n.strip()) or None


@dataclass(frozen=True)
class JudgeTrainSettings(Settings):
    """What a judge learns from, how long and how wide, and when it is good enough to save."""

    data: str = option("rooms", "labelled data: rooms, an .npz with labels, an image folder with one subfolder per class, "
                       "or a torchvision name", metavar="SPEC")
    data_root: str | None = option(None, "folder holding named datasets (default: $DCGAN_DATA_ROOT or ./data)", metavar="DIR")
    labels: str | tuple[str, ...] | None = option(None, "factors to judge (default: every label the data has)", metavar="A,B")
    image_size: int = option(64, "image size the judge works at")
    channels: int | None = option(None, "1 or 3 (default: from the data)", choices=(1, 3))
    num_images: int | None = option(None, "training images (default: 16,000 for rooms, all for other data)")
    val_data: str | None = option(None, "held-out data (default: the test split, else --val-fraction of the data)", metavar="SPEC")
    val_fraction: float = option(0.1, "share held out when there is no test split")
    val_images: int = option(2000, "held-out rooms images")
    epochs: int = option(2, "passes over the training images")
    batch_size: int = option(128, "images per step")
    lr: float = option(3e-3, "peak learning rate of the one-cycle schedule")
    width: int = option(16, "channels of the first layer")
    augment: bool = option(True, "train half of each batch on mildly blurred, noised and re-lit copies, so that generated images "
                           "are judged by content (--no-augment: clean images only)")
    realness: bool = option(True, "train a realness net against synthetic noise, blobs and scrambled images, so that 'confident' "
                            "also means 'looks like the data' (--no-realness: skip it)")
    min_accuracy: float = option(0.95, "refuse to save when a head's held-out accuracy is below this")
    localiser_steps: int = option(600, "rooms only: localiser training steps of 64 images; 0 for none")
    seed: int = option(0, "seed of init and data order")
    threads: int | None = option(None, "CPU threads (default: torch's; 1 is fastest on a machine busy with other jobs)")
    out: str | None = option(None, "judge file to write (default: judges/<data>-<size>.pt); the report goes beside it as .json",
                             metavar="PT")

    def __post_init__(self) -> None:
        check_image_size(self.image_size)
        for name in ("epochs", "batch_size", "width", "val_images"):
            check(getattr(self, name) >= 1, f"--{name.replace('_', '-')} must be positive")
        check(self.num_images is None or self.num_images >= 2, "--num-images must be at least 2")
        check(0 < self.val_fraction < 1, "--val-fraction must be between 0 and 1")
        check(0 <= self.min_accuracy <= 1, "--min-accuracy must be between 0 and 1")
        check(self.localiser_steps >= 0, "--localiser-steps must not be negative")
        check(self.lr > 0, "--lr must be positive")
        check(self.channels in (None, 1, 3), "--channels must be 1 or 3")
        check(self.threads is None or self.threads >= 0, "--threads must not be negative")
        check(self.out is None or self.out.endswith(".pt"), f"--out {self.out}: give a .pt file name (the report goes beside it as .json)")
        self.normalise("labels", label_list(self.labels))


@dataclass(frozen=True)
class JudgeScoreSettings(Settings):
    """Which of a checkpoint's seeds to judge, what 'confident' means, and whether other sizes are resized."""

    seeds: str | tuple[int, ...] = option("0-999", "checkpoint seeds to generate and score")
    threshold: float = option(0.9, "'confident' means max probability above this on every head")
    resize: bool = option(False, "resize images (files or a checkpoint's samples) to the judge's size and channels instead of refusing others")
    out: str | None = option(None, "where to write the scores, with a .csv beside it (default: RUN/analysis/judge-score/results.json "
                             "for a checkpoint, ./judge-scores.json for images)", metavar="JSON")

    def __post_init__(self) -> None:
        self.normalise("seeds", as_seeds(self.seeds))
        check(0 < self.threshold < 1, "--threshold must be between 0 and 1")
        check(self.out is None or self.out.endswith(".json"), f"--out {self.out}: give a .json file name (the .csv goes beside it)")


@dataclass(frozen=True)
class JudgeSelectSettings(Settings):
    """The query, how many seeds to find and where to look, and how sure the judge must be."""

    query: str | None = option(None, "e.g. 'window=2,wall=red' or 'bed!=none,light=night' (required)")
    count: int = option(16, "seeds to find")
    start_seed: int = option(0, "first seed to try")
    max_seeds: int = option(20_000, "give up after trying this many seeds")
    min_prob: float = option(0.9, "probability each clause must reach")
    min_real: float | None = option(None, "also require realness at least this (default: not required)")
    grid: str | None = option(None, "grid of the selected samples (default: RUN/analysis/judge-select/<query>.png); "
                              "the results go beside it as .json", metavar="PNG")

    def __post_init__(self) -> None:
        check(self.query is not None, "give --query, e.g. 'window=2,wall=red'")
        check(self.count >= 1 and self.max_seeds >= 1 and self.start_seed >= 0,
              "--count and --max-seeds must be positive and --start-seed not negative")
        check(0 < self.min_prob <= 1, "--min-prob must be in (0, 1]")
        check(self.min_real is None or 0 < self.min_real <= 1, "--min-real must be in (0, 1]")
        # Parsed now so that a malformed query fails before any file is read (the parser's module brings torch).
        from dcgan.judges.query import parse_query

        self.normalise("query", ",".join(map(str, parse_query(self.query))))
