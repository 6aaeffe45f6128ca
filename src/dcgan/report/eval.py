"""Writer of ``eval``: the numbers are all in results.json, so there are no figures."""

from __future__ import annotations

from pathlib import Path


def write(result, folder: Path) -> list[Path]:
    """Write nothing besides results.json (which ``dcgan.report.save`` writes); return no figures."""
    return []
