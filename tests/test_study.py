"""dcgan study: 2 variants x 2 seeds x a few steps; a second call reuses every finished cell."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dcgan.errors import UserError
from dcgan.settings.study import StudySettings, parse_entry
from dcgan.study import FAIL_COVERAGE, cell_dir, cell_summary, first_crossing, study, summarise


def _settings(out: Path, **kw: object) -> StudySettings:
    base = dict(data="rooms", image_size=16, num_images=32, variants="dcgan,beta1=0.9", seeds="0-1", max_steps=4, eval_every=2,
                eval_samples=16, batch_size=16, z_dim=8, ngf=4, ndf=4, out=str(out))
    base.update(kw)
    return StudySettings(**base)  # type: ignore[arg-type]


def test_entries_are_variants_or_training_changes() -> None:
    assert parse_entry("pooling") == ("pooling", {})
    assert parse_entry("lr=1e-3") == ("dcgan", {"lr": 1e-3})
    for bad, match in (("resnet", "unknown study variant"), ("epochs=3", "cannot vary"), ("lr=fast", "not a number")):
        with pytest.raises(UserError, match=match):
            parse_entry(bad)
    with pytest.raises(UserError, match="twice"):
        StudySettings(variants="dcgan,dcgan")
    with pytest.raises(UserError, match="no cell would be evaluated"):
        StudySettings(max_steps=10, eval_every=20)


def test_first_crossing_and_threshold() -> None:
    assert first_crossing([(2, 9.0), (4, 5.0), (6, 3.0)], 5.0) == 4
    assert first_crossing([(2, 9.0)], 5.0) is None
    s = StudySettings(variants="dcgan,no-bn", seeds="0-2")
    cells = [{"entry": e, "seed": i, "curve": [(1, 10.0), (2, f)], "final": f, "best": f, "failed": f > 9, "collapse_events": 0,
              "status": "finished"} for e, fs in (("dcgan", (2.0, 4.0, 6.0)), ("no-bn", (9.5, 3.0, math.nan))) for i, f in enumerate(fs)]
    summary = summarise(s, cells)
    assert summary["threshold"] == 4.0  # median final distance of the first variant
    dc, nb = summary["table"]
    assert (dc["final_mean"], dc["final_sd"]) == (4.0, 2.0)
    assert dc["success_share"] == 1.0 and nb["success_share"] == pytest.approx(2 / 3)
    assert (dc["reached_threshold"], nb["reached_threshold"]) == (2, 1)


def test_a_cell_whose_final_samples_cover_almost_nothing_failed(tmp_path: Path) -> None:
    run = tmp_path / "cells" / "dcgan" / "seed-0" / "00000-cell"
    run.mkdir(parents=True)
    evals = [{"step": 2, "eval_metric": "FD-random", "eval_value": 10.0}, {"step": 4, "eval_metric": "FD-random", "eval_value": 5.0}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in evals))
    record = {"entry": "dcgan", "seed": 0, "status": "finished", "run_dir": "cells/dcgan/seed-0/00000-cell"}
    healthy = cell_summary(tmp_path, record, {"precision": 0.9, "recall": 0.5, "density": 1.0, "coverage": FAIL_COVERAGE})
    collapsed = cell_summary(tmp_path, record, {"precision": 0.9, "recall": 0.0, "density": 3.0, "coverage": FAIL_COVERAGE / 2})
    assert not healthy["failed"] and healthy["final_coverage"] == FAIL_COVERAGE
    assert collapsed["failed"] and collapsed["why_failed"] == [f"final coverage below {FAIL_COVERAGE}: the samples cover almost none of the real images"]
    assert math.isnan(cell_summary(tmp_path, record)["final_recall"]) and not cell_summary(tmp_path, record)["failed"]


def test_study_writes_report_and_reuses_finished_cells(tmp_path: Path) -> None:
    s = _settings(tmp_path / "st")
    out = study(s)
    doc = json.loads((out / "study.json").read_text())
    assert [r["variant"] for r in doc["table"]] == ["dcgan", "beta1=0.9"]
    assert len(doc["cells"]) == 4 and all(len(c["curve"]) == 2 for c in doc["cells"])
    for name in ("report.md", "distance.png", "samples.png"):
        assert (out / name).stat().st_size > 0
    assert "| beta1=0.9 |" in (out / "report.md").read_text()
    # Each cell is a normal run folder with the study's settings.
    cfg = json.loads((cell_dir(out, "beta1=0.9", 1) / "00000-cell" / "config.json").read_text())
    assert cfg["train"]["beta1"] == 0.9 and cfg["train"]["seed"] == 1 and cfg["train"]["max_steps"] == 4
    ckpts = {c: (cell_dir(out, c[0], c[1]) / "00000-cell" / "checkpoints" / "latest.pt").stat().st_mtime_ns
             for c in (("dcgan", 0), ("dcgan", 1), ("beta1=0.9", 0), ("beta1=0.9", 1))}
    # The final samples' precision/recall/density/coverage: what dcgan eval says with the study's extractor and sample count.
    import dcgan
    from dcgan.analysis import evaluate

    first = doc["cells"][0]
    direct = evaluate(dcgan.load(out / first["run_dir"]), metrics="prdc", extractor="random", num_samples=16).results
    assert (first["final_recall"], first["final_coverage"]) == (direct["recall"], direct["coverage"])
    assert "final coverage" in (out / "report.md").read_text()
    finals = {c: (cell_dir(out, *c) / "final.json").stat().st_mtime_ns for c in ckpts}
    # Stop one cell midway (no cell.json): a second call trains (and scores) only that one.
    (cell_dir(out, "dcgan", 1) / "cell.json").unlink()
    again = json.loads((study(s) / "study.json").read_text())
    for cell, mtime in ckpts.items():
        now = (cell_dir(out, *cell) / "00000-cell" / "checkpoints" / "latest.pt").stat().st_mtime_ns
        assert (now == mtime) == (cell != ("dcgan", 1)), cell
        assert ((cell_dir(out, *cell) / "final.json").stat().st_mtime_ns == finals[cell]) == (cell != ("dcgan", 1)), cell
    assert [c["final"] for c in again["cells"]] == pytest.approx([c["final"] for c in doc["cells"]])  # same seed, same result


def test_parallel_processes(tmp_path: Path) -> None:
    out = study(_settings(tmp_path / "par", variants="no-bn", seeds="0-1", parallel=2))
    doc = json.loads((out / "study.json").read_text())
    assert [c["seed"] for c in doc["cells"]] == [0, 1] and all(c["status"] == "finished" for c in doc["cells"])


def test_finished_cells_from_other_settings_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "st"
    study(_settings(out, variants="dcgan", seeds="0"))
    with pytest.raises(UserError, match="trained with other settings"):
        study(_settings(out, variants="dcgan", seeds="0", max_steps=6))


def test_submitit_local_executor(tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    out = tmp_path / "sub"
    doc = json.loads((study(_settings(out, variants="dcgan", seeds="0-1", launcher="submitit-local", parallel=2)) / "study.json").read_text())
    assert [c["seed"] for c in doc["cells"]] == [0, 1] and all(c["status"] == "finished" for c in doc["cells"])
    assert list((out / "submitit").glob("*_log.out"))  # the jobs ran through submitit (its logs), not in this process
    # Same cells as a local run: the launcher changes where a cell trains, not what it learns.
    local = json.loads((study(_settings(tmp_path / "loc", variants="dcgan", seeds="0-1")) / "study.json").read_text())
    assert [c["final"] for c in doc["cells"]] == pytest.approx([c["final"] for c in local["cells"]])
    with pytest.raises(UserError, match="--launcher must be"):
        _settings(out, launcher="pbs")
