"""Settings of ``dcgan arithmetic``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dcgan.codes import looks_like_codes, parse_code_ref
from dcgan.seeds import as_seeds, looks_like_seeds
from dcgan.settings import Settings, check, option

ConceptValue = str | tuple[int, ...]  # a judge query ('window=1,wall=red'), exemplar seeds, or codes 'projected.npz:0,1'


def concept_value(value: str | int | Iterable[int] | None, name: str) -> ConceptValue | None:
    """Return a concept as given: seed text or a seed list as a tuple of seeds (checked now), a judge query as text,
    a codes reference ('projected.npz:0,1', from dcgan project) as its normalised text (the file is read later)."""
    if looks_like_codes(value):
        return parse_code_ref(value).text()
    if value is None or (isinstance(value, str) and not looks_like_seeds(value)):
        return value.strip() if isinstance(value, str) else None
    return as_seeds(value, f"--{name} seeds")


def _concept(name: str, sign: str) -> ConceptValue | None:
    return option(None, f"concept {name.upper()} ({sign}): seeds '3,17,42', a judge query 'window=1,wall=red', "
                        "or projected codes 'projected.npz:0,1,2' (dcgan project)",
                  metavar="SEEDS_OR_QUERY")


@dataclass(frozen=True)
class ArithmeticSettings(Settings):
    """The three concepts of y = mean(A) - mean(B) + mean(C), the variations around G(y), and the measurement."""

    a: ConceptValue | None = _concept("a", "+")
    b: ConceptValue | None = _concept("b", "-")
    c: ConceptValue | None = _concept("c", "+")
    exemplars: int = option(3, "exemplars per query concept, and the least a seed list must give "
                               "(all given seeds are used; default: 3, as in the paper)")
    variations: int = option(8, "noisy variations around G(y)")
    noise: float = option(0.25, "half-width of the uniform noise of the variations, relative to the spread of z: 0.25 gives "
                                "the paper's U[-0.25, 0.25] for uniform z and U[-0.433, 0.433] for normal z (sd 1, not 0.58); "
                                "results.json records the absolute half-width")
    evaluate: int | None = option(None, "also measure N random expressions with the judge (>= 50 recommended)", metavar="N")
    pool: int = option(2000, "--evaluate: seeds generated and judged to draw exemplars from")
    pool_start: int = option(0, "--evaluate: first pool seed")
    seed: int = option(0, "seed of the noise variations and of the random expressions")
    search_start: int = option(0, "first seed searched for query concepts")
    max_seeds: int = option(20_000, "seeds searched per query at most")
    min_prob: float = option(0.9, "judge probability an exemplar must reach on every queried factor")

    def __post_init__(self) -> None:
        for name in "abc":
            self.normalise(name, concept_value(getattr(self, name), name))
        given = [getattr(self, n) is not None for n in "abc"]
        check(all(given) or not any(given), "give all three concepts --a, --b and --c (y = mean(A) - mean(B) + mean(C))")
        check(any(given) or bool(self.evaluate), "nothing to do: give concepts --a --b --c, or --evaluate N with --judge")
        check(self.exemplars >= 1 and self.variations >= 0 and self.noise >= 0 and 0 <= self.min_prob <= 1,
              "--exemplars must be positive, --variations and --noise non-negative, --min-prob in [0, 1]")
        check(self.evaluate is None or (self.evaluate >= 1 and self.pool >= 2),
              "--evaluate needs a positive number of expressions and --pool at least 2")
        check(not self.evaluate or self.exemplars >= 2, "--exemplars must be at least 2 to compare means with single exemplars")
        check(self.search_start >= 0 and self.pool_start >= 0 and self.max_seeds >= 1,
              "--search-start and --pool-start must be non-negative and --max-seeds positive")

    @property
    def concepts(self) -> list[tuple[str, ConceptValue]]:
        """Return [(name, concept)] of A, B and C, or [] when only the measurement was asked for."""
        return [(n, getattr(self, n)) for n in "abc"] if self.a is not None else []
