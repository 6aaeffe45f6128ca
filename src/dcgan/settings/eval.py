"""Settings of ``dcgan eval``: which numbers, on which features, from how many images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dcgan.errors import UserError
from dcgan.settings import Settings, check, option

METRIC_NAMES = ("fid", "kid", "prdc")  # dcgan.metrics.evaluate.METRICS computes each
PRDC_K = 5  # nearest neighbours defining each point's ball (Naeem et al. 2020 recommend 5)


def parse_metrics(text: str | Sequence[str]) -> tuple[str, ...]:
    """Return the metric names in 'fid,kid,prdc' (or a sequence), checked, duplicates dropped."""
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = [n for n in names if n not in METRIC_NAMES]
    if unknown or not names:
        raise UserError(f"unknown metric(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(METRIC_NAMES)}")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class EvalSettings(Settings):
    """What ``dcgan eval`` measures and on how many images."""

    metrics: str | tuple[str, ...] = option(METRIC_NAMES, "comma-separated: fid, kid, prdc")
    extractor: str = option("inception", "features: inception (the standard FID) | judge:PATH | dfeat[:CKPT] | random | pixels",
                            metavar="NAME")
    num_samples: int = option(5000, "generated images, seeds SEED..SEED+N-1 (FID is biased upwards for small N: compare only equal N)",
                              metavar="N")
    num_ref: int | None = option(None, "real images, a fixed random subset (default: as many as --num-samples)", metavar="N")
    seed: int = option(0, "first latent seed; also seeds KID's subsets")
    data: str | None = option(None, "reference images (same SPECs as dcgan train; default: the run's training data)", metavar="SPEC")
    data_root: str | None = option(None, "folder holding named datasets (default: the run's, else $DCGAN_DATA_ROOT or ./data)", metavar="DIR")
    batch_size: int = option(256, "images generated at once (does not change the numbers)")

    def __post_init__(self) -> None:
        self.normalise("metrics", parse_metrics(self.metrics))
        check(self.num_samples >= 2 and (self.num_ref is None or self.num_ref >= 2), "--num-samples and --num-ref must be at least 2")
        fewest = min(self.num_samples, self.num_ref or self.num_samples)
        check("prdc" not in self.metrics or fewest >= PRDC_K + 2, f"prdc with k={PRDC_K} needs at least {PRDC_K + 2} samples in each set")
        check(self.seed >= 0 and self.batch_size >= 1, "--seed must be non-negative and --batch-size positive")
