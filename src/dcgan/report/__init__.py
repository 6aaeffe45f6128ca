"""Writers: a tool's result -> its figures and ``results.json``, in one output folder chosen by one rule.

Every analysis function returns a :class:`Result` and writes nothing; :func:`save` is the one writer. It
picks the folder (:func:`output_folder`), asks the tool's figure writer (``dcgan.report.<tool>.write``) for
its files, then writes ``results.json``: the tool, its settings, the model it ran on and its measurements.

Output folder rule: ``RUN/analysis/<tool>/`` for a run folder or its ``latest.pt``; for any other checkpoint
(``epoch-0001.pt``, ``best.pt``) ``RUN/analysis/<tool>/<checkpoint name>/``, so analyses of two snapshots
of one run (the paper's epoch 1 and epoch 5) never overwrite each other. ``out`` overrides it.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from dcgan.errors import UserError


@dataclass
class Result:
    """Base of every tool's result: what it measured (``summary``), what it ran with, and where it came from."""

    tool: ClassVar[str]  # names the writer module dcgan.report.<tool> and the analysis/<tool>/ folder

    settings: Any  # the tool's Settings dataclass, recorded in results.json
    source: dict[str, Any]  # Model.describe() of the model analysed (or what the tool read)

    def summary(self) -> dict[str, Any]:
        """Return the measurements as JSON-ready data (results.json holds them beside the settings)."""
        return {}

    def lines(self) -> list[str]:
        """Return a few human-readable lines about the result (the command line prints them)."""
        return []


@dataclass
class Saved:
    """What :func:`save` wrote."""

    folder: Path
    figures: list[Path] = field(default_factory=list)
    results: Path | None = None

    def announce(self) -> None:
        """Print where the figures and the measurements went (the last lines of every tool)."""
        for fig in self.figures:
            print(f"figure: {fig}")
        if self.results is not None:
            print(f"results: {self.results}")
        print(f"folder: {self.folder}")


def output_folder(tool: str, checkpoint: str | Path | None, out: str | Path | None = None) -> Path:
    """Return the folder a tool's result goes to (not created): ``out``, or the per-checkpoint analysis folder."""
    if out is not None:
        return Path(out)
    if checkpoint is None:
        raise UserError(f"{tool}: give an output folder (--out DIR): this result comes from no checkpoint")
    from dcgan.checkpoint import LATEST, run_dir_of

    path = Path(checkpoint)
    folder = run_dir_of(path) / "analysis" / tool
    return folder if path.name == LATEST else folder / path.stem


def make_folder(folder: Path) -> Path:
    """Create ``folder`` (and parents) or raise one clear UserError naming the path and the cause."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"cannot write into {folder}: a file of that name exists (or one of its parents is a file)") from None
    except OSError as exc:
        raise UserError(f"cannot create {folder}: {exc.strerror or exc}") from None
    if not folder.is_dir():
        raise UserError(f"cannot write into {folder}: it is not a folder")
    return folder


def plain(obj: Any) -> Any:
    """Return ``obj`` as JSON-ready data: tensors and arrays as lists, paths as text, non-finite floats as None."""
    if hasattr(obj, "tolist") and callable(obj.tolist):  # torch tensors, numpy arrays and scalars
        return plain(obj.tolist())
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return plain(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON atomically (a temporary file renamed over the old one); return the path."""
    from dcgan.checkpoint import atomic_write_bytes

    try:
        atomic_write_bytes(path, (json.dumps(plain(data), indent=2) + "\n").encode())
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def results_record(result: Result, figures: Sequence[Path], folder: Path) -> dict[str, Any]:
    """Return what results.json holds: tool, settings, source, figures (relative) and the measurements."""
    from dcgan import __version__

    return {"tool": result.tool, "dcgan_version": __version__, "settings": plain(result.settings), "source": result.source,
            "figures": [str(f.relative_to(folder)) if f.is_relative_to(folder) else str(f) for f in figures],
            **result.summary()}


def save(result: Result, out: str | Path | None = None) -> Saved:
    """Write a result's figures and results.json; return the paths. ``out`` defaults to the per-checkpoint folder."""
    folder = make_folder(output_folder(result.tool, result.source.get("checkpoint"), out))
    writer = importlib.import_module(f"dcgan.report.{result.tool}")
    try:
        figures = list(writer.write(result, folder))
    except OSError as exc:
        raise UserError(f"cannot write the {result.tool} figures into {folder}: {exc.strerror or exc}") from None
    return Saved(folder, figures, write_json(folder / "results.json", results_record(result, figures, folder)))
