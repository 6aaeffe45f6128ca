"""Summaries of judged images: confident share, share judged like the data, value histograms and missing values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from dcgan.judges.judge import CONFIDENT, Judge


def summarise(judge: Judge, probs: Mapping[str, torch.Tensor], threshold: float = CONFIDENT) -> dict[str, Any]:
    """Return the confident share, the share judged like the data, each factor's value histogram (argmax) and missing values.

    ``real_share`` (realness above ``threshold``) is None for a judge without a realness net: such a
    judge cannot tell garbage from data, so its confident share may count garbage.
    """
    names = judge.value_names
    n = len(next(iter(probs.values())))
    real = judge.real_of(probs)
    out: dict[str, Any] = {"images": n, "threshold": threshold,
                           "confident_share": float(judge.confident(probs, threshold).float().mean()),
                           "real_share": None if real is None else float((real > threshold).float().mean()),
                           "factors": {}}
    for f, p in probs.items():
        counts = torch.bincount(p.argmax(1), minlength=len(names[f])).tolist()
        out["factors"][f] = {
            "histogram": dict(zip(names[f], counts, strict=True)),
            "missing": [v for v, c in zip(names[f], counts, strict=True) if c == 0],
            "confident_share": float((p.max(1).values > threshold).float().mean()),
        }
    out["all_values_present"] = not any(v["missing"] for v in out["factors"].values())
    return out


def format_summary(summary: Mapping[str, Any]) -> str:
    """Return a few readable lines of ``summarise`` output."""
    t = summary["threshold"]
    real = summary.get("real_share")
    if real is None:
        head = (f"{summary['images']} images, {100 * summary['confident_share']:.1f}% confidently judged "
                f"(max probability > {t} on every head); realness unknown: this judge has no realness check, "
                "so garbage can count as confident (retrain it with 'dcgan judge train')")
    else:
        head = (f"{summary['images']} images, {100 * summary['confident_share']:.1f}% confidently judged "
                f"(max probability > {t} on every head and realness > {t}); {100 * real:.1f}% judged like the data")
    lines = [head]
    for f, s in summary["factors"].items():
        hist = ", ".join(f"{k} {v}" for k, v in s["histogram"].items())
        lines.append(f"  {f:<8} {hist}  (confident {100 * s['confident_share']:.1f}%)" + (f"  MISSING {', '.join(s['missing'])}" if s["missing"] else ""))
    return "\n".join(lines)
