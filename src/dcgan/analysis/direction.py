"""Directions in the latent space (the paper's "turn" vector): d = mean(to) - mean(from), added to any code.

Measured with a judge: the *target* is what the 'to' exemplars have and the 'from' exemplars lack, per
factor a set of allowed values: from a query, the values its conditions allow on each factor it names
('window=2' -> window in {2}; 'bed!=none' -> bed in {red, blue}); from seeds, each factor whose most
common judged value differs between the two groups, with the 'to' group's value. A test seed *flips*
when, at scale 1, every target factor is judged (argmax) at an allowed value **and** every other factor
keeps the value it had at scale 0. Seeds already at the target at scale 0 cannot flip and are left out.
A random direction of the same length is scored the same way, as the control.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from dcgan.analysis.common import proportion


def direction(z_from: torch.Tensor, z_to: torch.Tensor) -> torch.Tensor:
    """Return the (z_dim,) direction mean(z_to) - mean(z_from) of two (k, z_dim) exemplar groups."""
    return z_to.mean(0) - z_from.mean(0)


def apply_direction(z: torch.Tensor, d: torch.Tensor, scales: Sequence[float]) -> torch.Tensor:
    """Return (N, len(scales), z_dim): each code z_i + s * d for every scale s."""
    s = torch.as_tensor(list(scales), dtype=z.dtype).view(1, -1, 1)
    return z.unsqueeze(1) + s * d.view(1, 1, -1)


def random_like(d: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Return a random direction with the same length as ``d`` (the control)."""
    r = torch.randn(d.shape, generator=torch.Generator().manual_seed(seed))
    return r * (d.norm() / r.norm())


def targets_from_query(judge: Any, query: str) -> dict[str, set[int]]:
    """Return {factor: allowed value indices} that the conditions of a judge query ask for."""
    from dcgan.judges import parse_query

    names = judge.value_names
    out: dict[str, set[int]] = {}
    for cond in parse_query(query):
        values = {names[cond.factor].index(v) for v in cond.values}
        allowed = set(range(len(names[cond.factor]))) - values if cond.negate else values
        out[cond.factor] = out.get(cond.factor, allowed) & allowed
    return out


def targets_from_exemplars(labels_from: dict[str, torch.Tensor], labels_to: dict[str, torch.Tensor]) -> dict[str, set[int]]:
    """Return {factor: {the 'to' group's most common value}} for factors whose most common value differs between the groups."""
    out = {}
    for f in labels_to:
        a, b = int(labels_from[f].mode().values), int(labels_to[f].mode().values)
        if a != b:
            out[f] = {b}
    return out


def measure_flips(labels_by_scale: dict[str, torch.Tensor], scales: Sequence[float], targets: dict[str, set[int]],
                  confident: torch.Tensor | None = None) -> dict[str, Any]:
    """Return flip shares from judged labels {factor: (N, len(scales))}; scales must contain 0 and 1.

    ``confident`` (N,) marks seeds whose scale-0 image the judge labels confidently; the shares are then
    also given for those seeds alone, where the judge's verdicts on the other factors are reliable.
    """
    scales = [float(s) for s in scales]
    i0, i1 = scales.index(0.0), scales.index(1.0)

    def at_target(j: int) -> torch.Tensor:
        ok = torch.ones(len(next(iter(labels_by_scale.values()))), dtype=torch.bool)
        for f, allowed in targets.items():
            ok &= torch.isin(labels_by_scale[f][:, j], torch.tensor(sorted(allowed)))
        return ok

    def others_kept(j: int) -> torch.Tensor:
        ok = torch.ones(len(next(iter(labels_by_scale.values()))), dtype=torch.bool)
        for f, lab in labels_by_scale.items():
            if f not in targets:
                ok &= lab[:, j] == lab[:, i0]
        return ok

    eligible = ~at_target(i0)
    n = int(eligible.sum())
    reached, kept = at_target(i1) & eligible, others_kept(i1) & eligible
    extra = {}
    if confident is not None:
        sure = eligible & confident
        extra["confident_seeds"] = {"eligible": int(sure.sum()), "flip_share": proportion(int((reached & kept & sure).sum()), int(sure.sum())),
                                    "target_reached": proportion(int((reached & sure).sum()), int(sure.sum())),
                                    "others_kept": proportion(int((kept & sure).sum()), int(sure.sum()))}
    return {
        "seeds": len(eligible), "eligible": n, "already_at_target": len(eligible) - n,
        "flip_share": proportion(int((reached & kept).sum()), n),
        "target_reached": proportion(int(reached.sum()), n),
        "others_kept": proportion(int(kept.sum()), n),
        "kept_by_factor": {f: float((lab[:, i1] == lab[:, i0])[eligible].float().mean()) if n else None
                           for f, lab in labels_by_scale.items() if f not in targets},
        "by_scale": [{"scale": s, "at_target": float(at_target(j)[eligible].float().mean()) if n else None,
                      "others_kept": float(others_kept(j)[eligible].float().mean()) if n else None} for j, s in enumerate(scales)],
        **extra,
    }
