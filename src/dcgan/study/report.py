"""Figures and the Markdown table of a study: distance vs step (mean, band of +/- 1 sd over seeds) and final samples."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dcgan.settings.eval import PRDC_K

SAMPLES_PER_ROW = 8


def write_figures(out: Path, s: Any, cells: list[dict[str, Any]]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(8, 5))
    for entry in s.entries():
        curves = [c["curve"] for c in cells if c["entry"] == entry and c["curve"]]
        if not curves:
            continue
        steps = sorted({step for curve in curves for step, _ in curve})
        # Per step, the seeds evaluated there (a diverged seed stops early and leaves the band).
        values = [[v for curve in curves for st, v in curve if st == step and math.isfinite(v)] for step in steps]
        keep = [i for i, v in enumerate(values) if v]
        x = np.array([steps[i] for i in keep])
        mean = np.array([np.mean(values[i]) for i in keep])
        sd = np.array([np.std(values[i], ddof=1) if len(values[i]) > 1 else 0.0 for i in keep])
        (line,) = ax.plot(x, mean, label=f"{entry} ({len(curves)} seeds)")
        # the axis is logarithmic: a band reaching below zero is drawn down to a tenth of the mean
        ax.fill_between(x, np.maximum(mean - sd, mean / 10), mean + sd, color=line.get_color(), alpha=0.2)
    ax.set_yscale("log")  # distances of working and failed variants differ by orders of magnitude
    ax.set_xlabel("training step")
    ax.set_ylabel("Fréchet distance (lower is better, log scale)")
    ax.set_title("mean over seeds, band: +/- 1 sd")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "distance.png", dpi=120)
    plt.close(fig)
    return ["distance.png", write_samples(out, s, cells)]


def write_samples(out: Path, s: Any, cells: list[dict[str, Any]]) -> str:
    """One row per variant: its first seed's final G on codes 0..7 (the same codes for every row)."""
    import torch

    from dcgan.checkpoint import generator_from_checkpoint, load_checkpoint
    from dcgan.data.base import to_uint8
    from dcgan.images import save_grid
    from dcgan.latent import z_from_seeds
    from dcgan.models import eval_mode

    rows = []
    for entry in s.entries():
        cell = next(c for c in cells if c["entry"] == entry)
        latest = out / cell["run_dir"] / "checkpoints" / "latest.pt"
        if not latest.exists():  # diverged before its first checkpoint: a grey row says so
            rows.append(torch.zeros(SAMPLES_PER_ROW, 1 if s.data.startswith(("mnist", "fashion")) else 3, s.image_size, s.image_size))
            continue
        g = generator_from_checkpoint(load_checkpoint(latest))
        with torch.no_grad(), eval_mode(g):
            rows.append(g(z_from_seeds(range(SAMPLES_PER_ROW), g.cfg.z_dim, g.cfg.z_dist)).float())
    channels = max(r.shape[1] for r in rows)
    grid = torch.cat([r.expand(-1, channels, -1, -1) for r in rows])
    save_grid(to_uint8(grid), out / "samples.png", nrow=SAMPLES_PER_ROW)
    return "samples.png"


def _pm(m: float, sd: float) -> str:
    return "n/a" if not math.isfinite(m) else f"{m:.2f} ± {sd:.2f}"


def write_report(out: Path, doc: dict[str, Any]) -> Path:
    s = doc["settings"]
    lines = [f"# Study: {s['data']} at {s['image_size']}x{s['image_size']}, {s['max_steps']} steps, seeds {s['seeds']}", "",
             f"Distance: {doc['metric']} every {s['eval_every']} steps on {s['eval_samples']} samples; threshold "
             f"{doc['threshold']:.2f}; recall and coverage of the final samples (k = {PRDC_K} neighbours, the same features). "
             "'Failed' is defined in docs/study.md.", "",
             "| variant | success | final distance | best distance | final recall | final coverage | steps to threshold (median) "
             "| collapse warnings | diverged |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in doc["table"]:
        reach = f"{r['steps_to_threshold_median']} ({r['reached_threshold']}/{r['seeds']} seeds)" if r["reached_threshold"] else f"never (0/{r['seeds']})"
        lines.append(f"| {r['variant']} | {r['success_share']:.0%} of {r['seeds']} | {_pm(r['final_mean'], r['final_sd'])} | "
                     f"{_pm(r['best_mean'], r['best_sd'])} | {_pm(r['recall_mean'], r['recall_sd'])} | "
                     f"{_pm(r['coverage_mean'], r['coverage_sd'])} | {reach} | {r['collapse_events']} | {r['diverged']} |")
    lines += ["", "![distance against step](distance.png)", "",
              "Final samples, one row per variant in the table's order (codes 0-7, first seed):", "", "![samples](samples.png)", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
