"""Directions in the latent space (the paper's "turn" vector): d = mean(to) - mean(from), added to any code.

Measured with a judge: the *target* is what the 'to' exemplars have and the 'from' exemplars lack, per
factor a set of allowed values: from a query, the values its conditions allow on each factor it names
('window=2' -> window in {2}; 'bed!=none' -> bed in {red, blue}); from seeds, each factor whose most
common judged value differs between the two groups, with the 'to' group's value. A test seed *flips*
when, at scale 1, every target factor is judged (argmax) at an allowed value **and** every other factor
keeps the value it had at scale 0. Seeds already at the target at scale 0 cannot flip and are left out.
A random direction of the same length is scored the same way, as the control. Beside the flips: the
share of those seeds' images judged like the data (realness > 0.9) at each scale, and ``real_share`` at
scale 1, so that a direction that pushes codes off the data cannot look good through garbage (None
for a judge without a realness net).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from dcgan.analysis.arithmetic import concept_codes
from dcgan.analysis.common import Concept, proportion
from dcgan.api import Model
from dcgan.codes import read_codes
from dcgan.errors import UserError
from dcgan.judges.tasks import judged_real
from dcgan.report import Result
from dcgan.settings.direction import DirectionSettings


def mean_difference(z_from: torch.Tensor, z_to: torch.Tensor) -> torch.Tensor:
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
                  confident: torch.Tensor | None = None, real: torch.Tensor | None = None) -> dict[str, Any]:
    """Return flip shares from judged labels {factor: (N, len(scales))}; scales must contain 0 and 1.

    ``confident`` (N,) marks seeds whose scale-0 image the judge labels confidently; the shares are then
    also given for those seeds alone, where the judge's verdicts on the other factors are reliable.
    ``real`` (N, len(scales)) marks images judged like the data; without it (no realness net) the real shares are None.
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

    def real_at(j: int) -> float | None:  # share of the eligible seeds' images at scale j judged like the data
        return float(real[:, j][eligible].float().mean()) if real is not None and n else None

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
        "real_share": real_at(i1),
        "kept_by_factor": {f: float((lab[:, i1] == lab[:, i0])[eligible].float().mean()) if n else None
                           for f, lab in labels_by_scale.items() if f not in targets},
        "by_scale": [{"scale": s, "at_target": float(at_target(j)[eligible].float().mean()) if n else None,
                      "others_kept": float(others_kept(j)[eligible].float().mean()) if n else None,
                      "real_share": real_at(j)} for j, s in enumerate(scales)],
        **extra,
    }


# ---------------------------------------------------------------------------------------------------
# The tool.


@dataclass
class DirectionResult(Result):
    """The two groups and their images, the direction, the grid z + s d of the first test seeds, and the judged flips."""

    tool = "direction"
    groups: list[Concept] = field(default_factory=list)  # from, to
    exemplar_images: list[torch.Tensor] = field(default_factory=list, repr=False)  # per group: uint8 (k, C, H, W)
    direction: torch.Tensor | None = field(default=None, repr=False)  # (z_dim,) mean(to) - mean(from)
    test_seeds: list[int] = field(default_factory=list)  # --seeds without the exemplar seeds (empty with --apply)
    applied: list[str] = field(default_factory=list)  # with --apply: a label per projected code the direction is applied to
    grid: torch.Tensor | None = field(default=None, repr=False)  # uint8 (rows, scales, C, H, W)
    measurement: dict[str, Any] | None = None
    judge: str | None = None

    @property
    def grid_seeds(self) -> list[int]:
        return self.test_seeds[: len(self.grid)] if self.grid is not None and not self.applied else []

    def summary(self) -> dict[str, Any]:
        out = {"from": self.groups[0].to_dict(), "to": self.groups[1].to_dict(), "direction_norm": float(self.direction.norm()),
               "test_seeds": len(self.test_seeds), "grid_seeds": self.grid_seeds, "judge": self.judge, "measurement": self.measurement}
        if self.applied:
            out["applied_to"] = {"codes": self.settings.apply, "count": len(self.applied),
                                 "grid_rows": self.applied[: len(self.grid)] if self.grid is not None else []}
        return out

    def lines(self) -> list[str]:
        m = self.measurement
        if m is None:
            return []
        target_text = ", ".join(f"{k} in {{{'|'.join(v)}}}" for k, v in m["targets"].items())
        f, r = m["flip_share"], m["random_direction"]["flip_share"]
        if not f["n"]:
            return [f"target {target_text}: every test seed is already at the target; nothing to flip"]
        out = [f"target {target_text}: {100 * f['share']:.1f}% of {f['n']} seeds flip at scale 1 with other factors kept "
               f"(target reached {100 * m['target_reached']['share']:.1f}%, others kept {100 * m['others_kept']['share']:.1f}%); "
               f"random direction of equal length: {100 * (r['share'] or 0):.1f}%"]
        real, real_random = m["real_share"], m["random_direction"]["real_share"]
        if real is None:
            out.append("  realness unknown: the judge has no realness net, so garbage at scale 1 may count as a flip")
        else:
            out.append(f"  judged like the data at scale 1: {100 * real:.1f}% of those seeds' images "
                       f"(random direction: {100 * (real_random or 0):.1f}%)")
        c = m["confident_seeds"]
        if c["eligible"]:
            out.append(f"  over the {c['eligible']} of those seeds whose image is judged confidently: {100 * c['flip_share']['share']:.1f}% flip "
                       f"(target reached {100 * c['target_reached']['share']:.1f}%, others kept {100 * c['others_kept']['share']:.1f}%)")
        return out


def judged_labels(model: Model, judge: Any, z: torch.Tensor, d: torch.Tensor,
                  scales: list[float]) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor | None]:
    """Return the judged labels {factor: (N, scales)} of G(z + s d), whether each scale-0 image is judged confidently,
    and which images (N, scales) are judged like the data (None without a realness net)."""
    probs = judge.predict(model.decode(apply_direction(z, d, scales).flatten(0, 1)))
    sure = judge.confident(probs).view(len(z), len(scales))[:, scales.index(0.0)]
    real = judged_real(probs)
    return ({f: p.argmax(1).view(len(z), len(scales)) for f, p in probs.items()}, sure,
            None if real is None else real.view(len(z), len(scales)))


def measure(model: Model, judge: Any, settings: DirectionSettings, groups: list[Concept], exemplar_images: list[torch.Tensor],
            d: torch.Tensor, z: torch.Tensor) -> dict[str, Any]:
    """Return the flip measurement of ``d`` over the test codes ``z`` and of a random direction of its length (the control)."""
    if groups[1].query:
        targets = targets_from_query(judge, groups[1].query)
        source = f"the query {groups[1].query!r}"
    else:
        labels = [{f: p.argmax(1) for f, p in judge.predict(images).items()} for images in exemplar_images]
        targets = targets_from_exemplars(*labels)
        source = "the factors whose most common judged value differs between the exemplar groups"
        if not targets:
            raise UserError("the judge sees no factor whose most common value differs between --from and --to exemplars: nothing to measure")
    scales = sorted(set(settings.scales) | {0.0, 1.0})
    labels, sure, real = judged_labels(model, judge, z, d, scales)
    measured = measure_flips(labels, scales, targets, sure, real)
    labels, sure, real = judged_labels(model, judge, z, random_like(d, settings.seed), [0.0, 1.0])
    control = measure_flips(labels, [0.0, 1.0], targets, sure, real)
    names = judge.value_names
    return {
        "targets": {f: [names[f][v] for v in sorted(a)] for f, a in targets.items()}, "targets_from": source,
        "definition": "flip: at scale 1 every target factor is judged (argmax) at an allowed value and every other factor keeps "
                      "its scale-0 value; seeds already at the target at scale 0 are left out",
        **measured,
        "random_direction": {k: control[k] for k in ("eligible", "flip_share", "target_reached", "others_kept", "real_share",
                                                     "kept_by_factor", "confident_seeds")},
    }


def direction(model: Model, settings: DirectionSettings | None = None, *, judge: Any = None, **options: Any) -> DirectionResult:
    """Return d = mean(to) - mean(from) applied to the test seeds at each scale; with a judge, the share of seeds it flips.

    Groups are seed lists ([0, 1, 2, 3] or '0-3'), judge queries ('window=2', which need ``judge``) or projected codes
    ('projected.npz:0-3'); in Python the --from group is ``from_`` (``from`` is a keyword). ``apply='projected.npz'``
    applies the direction to projected real images (dcgan project) instead of the test seeds.
    """
    s = DirectionSettings.build(settings, **options)
    found = [concept_codes(n, given, model, judge, s.exemplars, s.search_start, s.max_seeds, s.min_prob)
             for n, given in (("from", s.from_), ("to", s.to))]
    groups = [c for c, _ in found]
    z_from, z_to = (z for _, z in found)
    if s.apply is not None:  # projected real images instead of test seeds
        applied = read_codes(s.apply, model)
        test_seeds, test_z = [], applied.z
    else:
        used = set(groups[0].seeds) | set(groups[1].seeds)
        test_seeds = [t for t in s.seeds if t not in used]
        if not test_seeds:
            raise UserError("every test seed is an exemplar: give other --seeds")
        test_z = model.codes(test_seeds)
    d = mean_difference(z_from, z_to)
    shown = test_z[: s.rows]
    grid = model.decode(apply_direction(shown, d, s.scales).flatten(0, 1))
    result = DirectionResult(s, model.describe(), groups, [model.decode(z_from), model.decode(z_to)], d, test_seeds,
                             applied.labels if s.apply is not None else [], grid.view(len(shown), len(s.scales), *grid.shape[1:]),
                             judge=getattr(judge, "source", "judge") if judge is not None else None)
    if judge is not None:
        result.measurement = measure(model, judge, s, groups, result.exemplar_images, d, test_z)
    return result
