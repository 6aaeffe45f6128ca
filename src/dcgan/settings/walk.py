"""Settings of ``dcgan walk``."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.codes import looks_like_codes, parse_code_ref
from dcgan.seeds import as_seeds
from dcgan.settings import Settings, check, option


@dataclass(frozen=True)
class WalkSettings(Settings):
    """Which codes a walk visits, how finely, and how it interpolates."""

    seeds: str | tuple[int, ...] | None = option(
        None, "the points to visit, in order, e.g. '3,17,42' (default: --points consecutive seeds per walk)")
    codes: str | None = option(None, "walk through projected real images instead of seeds, in order: 'projected.npz' or "
                                     "'projected.npz:0,3,1' (dcgan project)", metavar="CODES")
    points: int = option(9, "points per walk when --seeds is not given (default: 9, as in the paper)")
    walks: int = option(1, "independent walks; walk w visits seeds start+w*points ...")
    start_seed: int = option(0, "first seed of the first walk")
    steps: int = option(10, "frames per segment, both ends included")
    mode: str = option("auto", "interpolation: auto (slerp for normal z, lerp for uniform z; see the module help), slerp or lerp",
                       choices=("auto", "slerp", "lerp"))
    fps: float = option(8.0, "frames per second of the GIFs")

    def __post_init__(self) -> None:
        if self.seeds is not None:
            self.normalise("seeds", as_seeds(self.seeds))
            check(self.walks == 1, "--seeds gives one walk; leave out --walks (or leave out --seeds to draw several walks)")
            check(len(self.seeds) >= 2, "a walk needs at least two points: give two or more seeds")
        if self.codes is not None:
            check(self.seeds is None, "give the points as --seeds or as --codes, not both")
            check(looks_like_codes(self.codes), f"--codes takes codes from dcgan project ('projected.npz:0,1'), not {self.codes!r}")
            self.normalise("codes", parse_code_ref(self.codes).text())
            check(self.walks == 1, "--codes gives one walk; leave out --walks")
        check(self.points >= 2 and self.walks >= 1 and self.start_seed >= 0,
              "--points must be at least 2, --walks at least 1 and --start-seed non-negative")
        check(self.steps >= 2, "--steps must be at least 2 (both ends of a segment are frames)")
        check(self.mode in ("auto", "slerp", "lerp"), f"--mode must be auto, slerp or lerp, not {self.mode!r}")
        check(self.fps > 0, "--fps must be positive")

    def seed_lists(self) -> list[tuple[int, ...]]:
        """Return the seeds each walk visits, in order."""
        if self.seeds is not None:
            return [self.seeds]
        return [tuple(range(self.start_seed + w * self.points, self.start_seed + (w + 1) * self.points)) for w in range(self.walks)]
