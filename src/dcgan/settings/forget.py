"""Settings of ``dcgan forget``."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.seeds import as_seeds
from dcgan.settings import Settings, check, option


@dataclass(frozen=True)
class ForgetSettings(Settings):
    """What to forget, where its boxes come from, how the drop set is fitted and how the effect is measured."""

    object: str = option("window", "what to forget: the object the boxes show")
    boxes: str | None = option(None, "hand-drawn boxes per seed (format in the README); their seeds are the samples used",
                               metavar="JSON")
    seeds: str | tuple[int, ...] = option("0-149", "samples whose boxes train the regression, with the localiser "
                                          "(default: 0-149, the paper's 150)")
    layer: int | None = option(None, "G stage whose maps are dropped, an index into [project, blocks..., to_image] "
                               "(default: -3, the second-highest conv layer as in the paper)")
    c: float = option(1.0, "inverse L2 regularisation of the logistic regression", flag="--C", metavar="C")
    max_maps: int | None = option(None, "drop only the N maps with the largest positive weights "
                                  "(default: all with a positive weight, as in the paper)", metavar="N")
    renorm: bool = option(True, "re-estimate the BatchNorm statistics of the later layers on the dropped generator, as the "
                          "paper's batch-statistics generator did implicitly (--no-renorm keeps G's)")
    negatives: float = option(1.0, "negatives per positive, from the same images")
    eval_seeds: str | tuple[int, ...] = option("100000-100499", "fresh seeds on which the judge measures the effect")
    control_draws: int = option(3, "random drop sets of the same size, averaged, as the control")
    figure_count: int = option(10, "samples in the figure")
    seed: int = option(0, "seed of the negative positions and of the control's random maps")
    batch_size: int = option(256, "images generated at once (does not change the images)")

    def __post_init__(self) -> None:
        self.normalise("seeds", as_seeds(self.seeds))
        self.normalise("eval_seeds", as_seeds(self.eval_seeds, "eval seeds"))
        check(self.max_maps is None or self.max_maps >= 1, "--max-maps must be positive")
        check(self.c > 0 and self.negatives > 0 and self.batch_size >= 1 and self.figure_count >= 1 and self.control_draws >= 0,
              "--C, --negatives, --batch-size and --figure-count must be positive, --control-draws not negative")
