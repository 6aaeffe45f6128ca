"""Writer of ``probe``: the table as plain text beside results.json (which holds every chosen C and score)."""

from __future__ import annotations

from pathlib import Path


def write(result, folder: Path) -> list[Path]:
    """Write table.txt (one row per feature set); return its path."""
    path = folder / "table.txt"
    path.write_text(result.table + "\n")
    return [path]
