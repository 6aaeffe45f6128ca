"""Files of ``dcgan judge``: the judge file and its report, the scores (JSON and CSV), the selection (grid and JSON).

Each writer returns {what: path} of the files it wrote, in the order the command prints them. The library
calls in :mod:`dcgan.judges.tasks` write nothing, so whatever they refuse leaves no file behind.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from dcgan.errors import UserError
from dcgan.report import make_folder, output_folder, results_record, write_json


def judge_file(settings) -> Path:
    """Return where a trained judge goes: ``settings.out``, else judges/<data name>-<size>.pt."""
    if settings.out:
        return Path(settings.out)
    from dcgan.data import split_spec

    source, _ = split_spec(settings.data)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(source).stem or source)
    return Path("judges") / f"{name}-{settings.image_size}.pt"


def write_training(result) -> dict[str, Path]:
    """Write the report (always) and the judge (only when it passed); a judge that failed raises UserError after its report.

    The report of a refused judge is kept on purpose: it is what says which head fell short and by how much.
    """
    from dcgan.judges import save_judge

    path = judge_file(result.settings)
    report_path = path.with_suffix(".json")
    make_folder(path.parent)
    refusal = result.refusal(report_path)
    if refusal is not None:
        write_json(report_path, {**result.report, "saved": False})
        raise UserError(refusal)
    written = {"judge": save_judge(path, result.judge)}
    written["report"] = write_json(report_path, {**result.report, "saved": True})
    return written


def write_scores(result, out: str | Path | None = None) -> dict[str, Path]:
    """Write the scores as JSON (results.json's layout) and one CSV row per image beside it; return their paths.

    Default place: RUN/analysis/judge-score/results.json for a checkpoint (the analysis folder rule), else ./judge-scores.json.
    """
    checkpoint = result.source.get("checkpoint")
    if out is not None:
        path = Path(out)
    elif checkpoint is not None:
        path = output_folder(result.tool, checkpoint) / "results.json"
    else:
        path = Path("judge-scores.json")
    folder = make_folder(path.parent)
    table = path.with_suffix(".csv")
    factors = list(result.stats["factors"])
    try:
        with table.open("w", newline="") as f:
            rows = csv.writer(f)
            rows.writerow(["name", "confident", "real", *factors, *(f"p_{factor}" for factor in factors)])
            for image in result.images:
                rows.writerow([image["name"], int(image["confident"]), "" if image["real"] is None else image["real"],
                               *(image["labels"][factor] for factor in factors), *(max(image["probs"][factor]) for factor in factors)])
    except OSError as exc:
        raise UserError(f"cannot write {table}: {exc.strerror or exc}") from None
    return {"results": write_json(path, results_record(result, [table], folder)), "table": table}


def write_selection(result, grid: str | Path | None = None) -> dict[str, Path]:
    """Write the grid of the selected samples and the selection as JSON beside it; return their paths.

    Default place: RUN/analysis/judge-select/<query>.png with results.json; a given grid gets <grid>.json.
    """
    from dcgan.images import save_grid

    if grid is not None:
        png = Path(grid)
        record = png.with_suffix(".json")
    else:
        folder = output_folder(result.tool, result.source["checkpoint"])
        png = folder / f"{re.sub(r'[^A-Za-z0-9_.=-]+', '_', result.settings.query)}.png"
        record = folder / "results.json"
    folder = make_folder(png.parent)
    try:
        save_grid(result.images, png)
    except OSError as exc:
        raise UserError(f"cannot write {png}: {exc.strerror or exc}") from None
    return {"grid": png, "results": write_json(record, results_record(result, [png], folder))}
