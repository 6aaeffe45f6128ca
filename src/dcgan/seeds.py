"""Seed lists as users write them ('0-63', '3,17,42'): parsed without torch, so settings and --help stay light."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dcgan.errors import UserError


def seed_ranges(text: str) -> list[tuple[int, int]]:
    """Parse '0-63', '3,17,42' or '0-9,100' into (first, last) ranges, unexpanded, so a caller can bound a huge range cheaply."""
    ranges: list[tuple[int, int]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match or (match[2] is not None and int(match[2]) < int(match[1])):
            raise UserError(f"cannot read seeds {text!r}: use a range '0-63', a list '3,17,42' or both '0-9,100'")
        ranges.append((int(match[1]), int(match[2] or match[1])))
    if not ranges:
        raise UserError(f"no seeds in {text!r}")
    return ranges


def parse_seeds(text: str) -> list[int]:
    """Parse '0-63', '3,17,42' or '0-9,100' into a list of non-negative seeds."""
    return [seed for first, last in seed_ranges(text) for seed in range(first, last + 1)]


def looks_like_seeds(text: str) -> bool:
    """Return True when ``text`` is a seed list ('3,17,42', '0-9') rather than a judge query ('window=1')."""
    return bool(re.fullmatch(r"[\d\s,-]+", text)) and any(ch.isdigit() for ch in text)


def as_seeds(value: str | int | Iterable[int], what: str = "seeds") -> tuple[int, ...]:
    """Return seeds from a CLI string, one int or an iterable of ints (the Python API's forms), refusing negatives."""
    if isinstance(value, str):
        return tuple(parse_seeds(value))
    items = [value] if isinstance(value, int) else list(value)
    if not items:
        raise UserError(f"no {what} given")
    try:
        seeds = tuple(int(s) for s in items)
    except (TypeError, ValueError):
        raise UserError(f"{what} must be integers, not {items[:3]!r}") from None
    if min(seeds) < 0:
        raise UserError(f"{what} must be non-negative, not {min(seeds)}")
    return seeds


def seed_text(seeds: Iterable[int]) -> str:
    """Return seeds in the short form users write: consecutive runs as 'a-b' ('0-63', '3,17,40-42')."""
    parts: list[str] = []
    run: list[int] = []
    for s in seeds:
        if run and s == run[-1] + 1:
            run.append(s)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [s]
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(parts)
