"""Settings of ``dcgan probe``: which labelled data, which protocols, how the SVMs are fitted."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.errors import UserError
from dcgan.settings import Settings, check, option

DEFAULT_C_GRID = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # small C are cheap to fit; CIFAR-10 picked 1e-5..1e-4, MNIST 1e-2
DEFAULT_MAX_TRAIN = 5000
BASELINES = ("random", "pixels")


def _floats(value: str | tuple[float, ...], flag: str) -> tuple[float, ...]:
    if not isinstance(value, str):
        return tuple(float(v) for v in value)
    try:
        return tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise UserError(f"{flag} takes comma-separated numbers, not {value!r}") from None


def _count_or_all(value: int | str | None, flag: str) -> int | None:
    if value is None or value == "all":
        return None
    try:
        return int(value)
    except ValueError:
        raise UserError(f"{flag} takes a number or 'all', not {value!r}") from None


def _names(value: str | tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = () if value.strip() == "none" else tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(value)


@dataclass(frozen=True)
class ProbeSettings(Settings):
    """What the probe classifies, with which protocols, and how the classifier is fitted (saved with the results)."""

    train: str | None = option(None, "labelled training images, as for 'dcgan train --data' (e.g. mnist.npz); required on the command line", metavar="SPEC")
    test: str | None = option(None, "labelled test images (e.g. mnist.npz:test); used only to score the chosen SVM", metavar="SPEC")
    data_root: str | None = option(None, "folder holding named datasets (default: $DCGAN_DATA_ROOT or ./data)", metavar="DIR")
    label: str = option("label", "which label factor to classify")
    labels_per_class: int | None = option(None, "also run the few-label protocol with K labels per class", metavar="K")
    draws: int = option(10, "random label draws of the few-label protocol", metavar="R")
    val_size: int = option(10_000, "few-label protocol: validation images split off the training data once, to pick C (the paper: 10,000)")
    all_labels: bool = option(True, "run the all-labels protocol (--no-all-labels skips it; then give --labels-per-class)")
    val_fraction: float = option(0.1, "all-labels protocol: share of the training pool held out to pick C")
    max_train: int | str | None = option(DEFAULT_MAX_TRAIN, "all-labels protocol: fit on a class-stratified subsample of N training images, "
                                         "or 'all' (LinearSVC on 50,000 x 7,168 features takes hours on a few CPU cores)", metavar="N|all")
    max_test: int | None = option(None, "score on a class-stratified subsample of N test images", metavar="N")
    c_grid: str | tuple[float, ...] = option(DEFAULT_C_GRID, "C values tried on the validation split", metavar="C1,C2,...")
    max_iter: int = option(1000, "liblinear iterations per fit")
    # sklearn's default tol 1e-4 is 10x stricter than needed here: the same validation accuracy at 1.5-2.5x the
    # time, measured on MNIST D features (liblinear's own default is 0.1 / 0.01)
    tol: float = option(1e-3, "liblinear stopping tolerance")
    baselines: str | tuple[str, ...] = option(BASELINES, "comma-separated: random (random-init D), pixels; or 'none'")
    random_seed: int = option(0, "seed of the random-init D baseline")
    seed: int = option(0, "seed of splits, subsamples and label draws (the same for every feature set, so rows are paired)")
    batch_size: int = option(256, "images per forward pass during extraction (does not change the features)")
    threads: int = option(0, "CPU threads for torch and BLAS (0: their own choice; 1 is much faster on a machine busy with other jobs)")
    cache: bool = option(True, "use the on-disk feature cache (--no-cache recomputes the features)")

    def __post_init__(self) -> None:
        self.normalise("c_grid", _floats(self.c_grid, "--c-grid"))
        self.normalise("max_train", _count_or_all(self.max_train, "--max-train"))
        self.normalise("baselines", _names(self.baselines))
        check(bool(self.c_grid) and all(c > 0 for c in self.c_grid), "--c-grid needs one or more positive values")
        check(0 < self.val_fraction < 1, f"--val-fraction must be between 0 and 1, not {self.val_fraction}")
        for name in ("max_train", "max_test", "labels_per_class"):
            value = getattr(self, name)
            check(value is None or value >= 1, f"--{name.replace('_', '-')} must be positive, not {value}")
        check(self.draws >= 1 and self.val_size >= 1 and self.max_iter >= 1 and self.tol > 0,
              "--draws, --val-size, --max-iter and --tol must be positive")
        check(self.all_labels or self.labels_per_class is not None, "nothing to do: give --labels-per-class K, or drop --no-all-labels")
        unknown = sorted(set(self.baselines) - set(BASELINES))
        check(not unknown, f"unknown baseline(s) {unknown}: choose from {', '.join(BASELINES)}, or 'none'")
        check(self.batch_size >= 1 and self.threads >= 0, "--batch-size must be positive and --threads not negative")
