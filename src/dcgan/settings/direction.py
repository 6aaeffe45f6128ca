"""Settings of ``dcgan direction``. ``from`` is a Python keyword, so the --from group is the field ``from_``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dcgan.codes import looks_like_codes, parse_code_ref
from dcgan.errors import UserError
from dcgan.seeds import as_seeds
from dcgan.settings import Settings, check, option
from dcgan.settings.arithmetic import ConceptValue, concept_value


def parse_scales(value: str | float | Iterable[float]) -> tuple[float, ...]:
    """Return the scales of '-1,0,0.5' (or of numbers given directly) as floats; at least one."""
    try:
        if isinstance(value, str):
            scales = tuple(float(x) for x in value.split(",") if x.strip())
        else:
            scales = tuple(float(x) for x in ([value] if isinstance(value, int | float) else value))
    except (TypeError, ValueError):
        raise UserError(f"cannot read --scales {value!r}: give numbers separated by commas, e.g. -1,0,0.5,1,2") from None
    check(bool(scales), "--scales needs at least one number")
    return scales


@dataclass(frozen=True)
class DirectionSettings(Settings):
    """The two exemplar groups, the test seeds and scales the direction is applied at, and how query groups are found."""

    from_: ConceptValue | None = option(None, "the group the direction starts at: seeds, a judge query or projected codes "
                                              "'projected.npz:0-3'", flag="--from", metavar="SEEDS_OR_QUERY")
    to: ConceptValue | None = option(None, "the group the direction points to: seeds, a judge query or projected codes",
                                     metavar="SEEDS_OR_QUERY")
    exemplars: int = option(4, "exemplars per query group, at least 4; a seed list must give at least this many, all used (default: 4)")
    seeds: str | tuple[int, ...] = option("1000-1199", "test seeds the direction is applied to (default: 1000-1199; exemplar seeds are skipped)")
    apply: str | None = option(None, "apply the direction to these codes instead of --seeds: projected real images "
                                     "'projected.npz' or 'projected.npz:0-9' (dcgan project)", metavar="CODES")
    rows: int = option(8, "test seeds shown in the grid")
    scales: str | tuple[float, ...] = option("-1,0,0.5,1,1.5,2", "multiples of d, the grid's columns")
    search_start: int = option(0, "first seed searched for query groups")
    max_seeds: int = option(20_000, "seeds searched per query at most")
    min_prob: float = option(0.9, "judge probability an exemplar must reach on every queried factor")
    seed: int = option(0, "seed of the random control direction")

    def __post_init__(self) -> None:
        self.normalise("from_", concept_value(self.from_, "from"))
        self.normalise("to", concept_value(self.to, "to"))
        check(self.from_ is not None and self.to is not None,
              "give both groups, --from and --to (seeds like 0-3 or judge queries like window=0)")
        check(self.exemplars >= 4, "--exemplars must be at least 4: directions from fewer exemplars are dominated by what else the images show")
        check(self.rows >= 1 and 0 <= self.min_prob <= 1, "--rows must be positive and --min-prob in [0, 1]")
        check(self.search_start >= 0 and self.max_seeds >= 1, "--search-start must be non-negative and --max-seeds positive")
        self.normalise("seeds", as_seeds(self.seeds, "--seeds"))
        if self.apply is not None:
            check(looks_like_codes(self.apply), f"--apply takes codes from dcgan project ('projected.npz:0,1'), not {self.apply!r}")
            self.normalise("apply", parse_code_ref(self.apply).text())
        self.normalise("scales", parse_scales(self.scales))
