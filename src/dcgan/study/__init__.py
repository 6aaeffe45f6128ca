"""Ablation study of the architecture guidelines: every variant x seed trained with the same budget (docs/study.md).

Each cell is a normal run folder (``OUT/cells/VARIANT/seed-N/00000-cell``), so every tool opens it. A cell
whose ``cell.json`` exists finished (or diverged) and is reused (if it was trained with the same settings);
a cell stopped midway is trained again from scratch, so an interrupted study continues where it stopped.
Cells run one after another, ``parallel`` at a time as local processes through :mod:`concurrent.futures`,
or as cluster jobs through submitit (:mod:`dcgan.study.cluster`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from dcgan.errors import UserError
from dcgan.report import write_json
from dcgan.settings.study import StudySettings, parse_entry

CELL_FILE = "cell.json"
FINAL_FILE = "final.json"  # precision/recall/density/coverage of a cell's final G (cached beside cell.json)
IMPROVE_SHARE = 0.9  # a cell failed when its final distance is not at least 10% below its first evaluation
FAIL_COVERAGE = 0.05  # ... or when its final samples cover almost none of the real images (a collapse the distance can miss)
WARN_AFTER = 3  # dcgan.metrics.tracking warns of a collapse after this many degraded evaluations in a row


def cell_dir(out: Path, entry: str, seed: int) -> Path:
    return out / "cells" / entry.replace("=", "-") / f"seed-{seed}"


def run_config(s: StudySettings, entry: str, seed: int, folder: Path, threads: int) -> Any:
    from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig

    variant, overrides = parse_entry(entry)
    return RunConfig(
        data=DataConfig(spec=s.data, data_root=s.data_root, image_size=s.image_size, num_images=s.num_images),
        model=ModelConfig(image_size=s.image_size, z_dim=s.z_dim, ngf=s.ngf, ndf=s.ndf, variant=variant),
        train=TrainConfig(batch_size=s.batch_size, max_steps=s.max_steps, seed=seed, out=str(folder), name="cell",
                          eval_every=s.eval_every, eval_samples=s.eval_samples, eval_extractor=s.eval_extractor,
                          log_every=min(50, s.eval_every), num_fixed_samples=16, **overrides),
    )


def train_cell(s: StudySettings, entry: str, seed: int, threads: int) -> dict[str, Any]:
    """Train one cell (unless it finished before) and return its cell.json record."""
    folder = cell_dir(Path(s.out), entry, seed)
    marker = folder / CELL_FILE
    expected = _comparable(run_config(s, entry, seed, folder, threads).to_dict())
    if marker.exists():
        record = json.loads(marker.read_text())
        if record.get("config") != expected:  # reusing it would mix budgets or data within one table
            raise UserError(f"{folder} was trained with other settings than this study's ({_difference(record.get('config'), expected)}): "
                            "run the study with the settings it was started with, or give a new --out")
        return record
    import torch

    from dcgan.train import Diverged, train

    if folder.exists():  # a cell stopped midway: start it again so every finished cell had the same budget
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    torch.set_num_threads(threads)
    cfg = run_config(s, entry, seed, folder, threads)
    status, message = "finished", ""
    try:
        run_dir = train(cfg)
    except Diverged as exc:
        status, message = "diverged", str(exc)
        run_dir = next(folder.glob("*-cell"))
    record = {"entry": entry, "seed": seed, "status": status, "message": message, "run_dir": str(run_dir.relative_to(folder.parent.parent.parent)),
              "config": expected}
    write_json(marker, record)  # atomic: a cell killed while writing its marker is retrained, never half-read
    return record


def _comparable(cfg: dict[str, Any]) -> dict[str, Any]:
    """The settings that make two cells comparable (not where the cell lives or how fast it runs)."""
    train = {k: v for k, v in cfg["train"].items() if k not in ("out", "device", "precision", "channels_last", "compile", "cuda_graphs")}
    return {"data": cfg["data"], "model": cfg["model"], "train": train}


def _difference(stored: dict[str, Any] | None, expected: dict[str, Any]) -> str:
    if not stored:
        return "its cell.json records none"
    diffs = [f"{section}.{k} {stored.get(section, {}).get(k)!r} vs {v!r}" for section, values in expected.items()
             for k, v in values.items() if stored.get(section, {}).get(k) != v]
    return "; ".join(diffs[:3]) or "settings differ"


def _threads(parallel: int) -> int:
    return max(1, (os.cpu_count() or 1) // parallel)


def run_cells(s: StudySettings) -> list[dict[str, Any]]:
    """Train every cell not yet finished; return the cell records in (entry, seed) order."""
    jobs = [(entry, seed) for entry in s.entries() for seed in s.seed_list()]
    if s.launcher != "local":
        from dcgan.study.cluster import run_with_submitit

        return run_with_submitit(s, jobs)
    if s.parallel == 1:
        return [train_cell(s, entry, seed, _threads(1)) for entry, seed in jobs]
    # spawn: a forked child would inherit torch's thread pools of the parent, which deadlocks on some platforms
    with ProcessPoolExecutor(max_workers=s.parallel, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(train_cell, s, entry, seed, _threads(s.parallel)) for entry, seed in jobs]
        return [f.result() for f in futures]


def final_scores(s: StudySettings, records: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, float]]:
    """Return precision, recall, density and coverage of every finished cell's final G, keyed by (entry, seed).

    The same fixed seeds, extractor and reference subset as the training-time evaluation (``--eval-samples``
    of each), with k-nearest-neighbour manifolds (prdc); the data and the reference features are prepared
    once for all cells. Each cell's numbers are cached in its ``final.json``, so a continued study scores
    only the cells it has not scored.
    """
    out = Path(s.out)
    protocol = {"extractor": s.eval_extractor, "samples": s.eval_samples, "metrics": "prdc"}
    scores: dict[tuple[str, int], dict[str, float]] = {}
    todo = []
    for record in records:
        path = cell_dir(out, record["entry"], record["seed"]) / FINAL_FILE
        cached = json.loads(path.read_text()) if path.exists() else {}
        if cached.get("protocol") == protocol:
            scores[record["entry"], record["seed"]] = cached["results"]
        elif record["status"] == "finished":
            todo.append((record, path))
    if not todo:
        return scores
    import dcgan
    from dcgan.data import load_data
    from dcgan.features import build_extractor, cached_features
    from dcgan.metrics.evaluate import compute_metrics
    from dcgan.metrics.reference import select_reference

    first = dcgan.load(out / todo[0][0]["run_dir"])
    data = load_data(run_config(s, todo[0][0]["entry"], todo[0][0]["seed"], out, 1).data)
    extractor = build_extractor(s.eval_extractor, channels=first.channels, image_size=first.image_size, device=first.device)
    ref_images, selection = select_reference(data.images, s.eval_samples)
    ref = cached_features(extractor, ref_images, {"data": data.description, "selection": selection}).tensor()
    from tqdm import tqdm

    for record, path in tqdm(todo, desc="final precision/recall/coverage", unit="cell", leave=False):
        model = dcgan.load(out / record["run_dir"])
        results = compute_metrics(("prdc",), extractor.features(model.sample(range(s.eval_samples))), ref, extractor)
        write_json(path, {"protocol": protocol, "reference": selection, "results": results})
        scores[record["entry"], record["seed"]] = results
    return scores


def cell_summary(out: Path, record: dict[str, Any], final: dict[str, float] | None = None) -> dict[str, Any]:
    """Read a cell's evaluations from its metrics.jsonl: the curve, final/best distance, collapse warnings, failure."""
    from dcgan.runs import read_metrics

    evals = [r for r in read_metrics(out / record["run_dir"]) if "eval_value" in r]
    curve = [(r["step"], float(r["eval_value"])) for r in evals]
    values = [v for _, v in curve]
    final_value = values[-1] if values and record["status"] == "finished" else math.nan
    collapses = sum(r.get("eval_worse_streak") == WARN_AFTER for r in evals)
    reasons = []
    if record["status"] == "diverged":
        reasons.append("diverged (NaN or infinite loss or weight)")
    if not values or not all(math.isfinite(v) for v in values):
        reasons.append("no finite distance")
    elif not final_value <= IMPROVE_SHARE * values[0]:
        reasons.append(f"final distance not {1 - IMPROVE_SHARE:.0%} below the first evaluation")
    if evals and evals[-1].get("eval_worse_streak", 0) >= WARN_AFTER:
        reasons.append("collapse warning active at the end")
    scores = final or {}
    if scores.get("coverage", math.inf) < FAIL_COVERAGE:
        reasons.append(f"final coverage below {FAIL_COVERAGE}: the samples cover almost none of the real images")
    return {"entry": record["entry"], "seed": record["seed"], "status": record["status"], "run_dir": record["run_dir"],
            "curve": curve, "final": final_value, "best": min(values) if values else math.nan, "collapse_events": collapses,
            **{f"final_{k}": scores.get(k, math.nan) for k in ("precision", "recall", "density", "coverage")},
            "failed": bool(reasons), "why_failed": reasons}


def _mean_sd(xs: list[float]) -> tuple[float, float]:
    xs = [x for x in xs if math.isfinite(x)]
    if not xs:
        return math.nan, math.nan
    m = sum(xs) / len(xs)
    return m, (math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0)


def first_crossing(curve: list[tuple[int, float]], threshold: float) -> int | None:
    return next((step for step, v in curve if v <= threshold), None)


def summarise(s: StudySettings, cells: list[dict[str, Any]]) -> dict[str, Any]:
    entries = s.entries()
    by = {e: [c for c in cells if c["entry"] == e] for e in entries}
    threshold = s.threshold
    if threshold is None:
        finals = sorted(c["final"] for c in by[entries[0]] if math.isfinite(c["final"]))
        threshold = finals[len(finals) // 2] if finals else math.nan
    table = []
    for e in entries:
        rows = by[e]
        steps = [first_crossing(c["curve"], threshold) for c in rows]
        reached = [x for x in steps if x is not None]
        fm, fsd = _mean_sd([c["final"] for c in rows])
        bm, bsd = _mean_sd([c["best"] for c in rows])
        rm, rsd = _mean_sd([c.get("final_recall", math.nan) for c in rows])
        cm, csd = _mean_sd([c.get("final_coverage", math.nan) for c in rows])
        table.append({"variant": e, "seeds": len(rows), "success_share": sum(not c["failed"] for c in rows) / len(rows),
                      "final_mean": fm, "final_sd": fsd, "best_mean": bm, "best_sd": bsd,
                      "recall_mean": rm, "recall_sd": rsd, "coverage_mean": cm, "coverage_sd": csd,
                      "steps_to_threshold_median": sorted(reached)[len(reached) // 2] if reached else None,
                      "reached_threshold": len(reached), "collapse_events": sum(c["collapse_events"] for c in rows),
                      "diverged": sum(c["status"] == "diverged" for c in rows)})
    return {"threshold": threshold, "table": table}


def study(s: StudySettings) -> Path:
    """Train (or reuse) every cell, then write study.json, report.md, distance.png and samples.png into ``s.out``."""
    out = Path(s.out)
    out.mkdir(parents=True, exist_ok=True)
    records = run_cells(s)
    scores = final_scores(s, records)
    cells = [cell_summary(out, r, scores.get((r["entry"], r["seed"]))) for r in records]
    summary = summarise(s, cells)
    from dcgan.study.report import write_figures, write_report

    figures = write_figures(out, s, cells)
    doc = {"settings": dataclasses.asdict(s), "metric": _metric_name(out, cells), **summary, "cells": cells, "figures": figures}
    write_json(out / "study.json", doc)  # atomic, and strict JSON: a distance that does not exist is null, not NaN
    write_report(out, doc)
    return out


def _metric_name(out: Path, cells: list[dict[str, Any]]) -> str:
    from dcgan.runs import read_metrics

    for c in cells:
        for r in read_metrics(out / c["run_dir"]):
            if "eval_metric" in r:
                return str(r["eval_metric"])
    raise UserError(f"no cell of {out} has an evaluation: was --eval-every larger than --max-steps?")
