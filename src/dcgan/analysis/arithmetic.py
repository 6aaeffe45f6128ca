"""Vector arithmetic on codes (PAPER.md section 5): y = mean(A) - mean(B) + mean(C), and its measurement.

The figure follows the paper's: each concept's exemplars with their mean code decoded, the result G(y)
in the centre of a 3x3 block whose 8 neighbours decode y plus uniform noise, and below them the same
arithmetic on pixels (mean image of A - of B + of C), the baseline that gives noisy overlaps.

The noise: the paper's U[-0.25, 0.25] is for z uniform in [-1, 1] (sd 0.58 per coordinate). With normal z
(sd 1) the same half-width moves a code relatively much less, and on a 64 px face model the 8 variations
came out indistinguishable; so ``noise`` is relative to the prior's spread (``noise_half_width``):
uniform z keeps 0.25 exactly, normal z gets 0.25 * sqrt(3) = 0.433. Results record the absolute half-width.

Measurement (``evaluate``), for a judge with at least two factors (rooms): a random *expression* picks a
property factor P with two different values p (with) and p' (without), and another factor X with two
different values x and y. Then

    A = {X=x, P=p}   B = {X=x, P=p'}   C = {X=y, P=p'}   expected result: {X=y, P=p}

("man with glasses - man without + woman without = woman with glasses"). Exemplars are generated images
the judge labels with probability >= min_prob on both factors, drawn at random from a pool of seeds; the
other factors are left free, as in the paper. A result *has the target factors* when the judge's most
likely value is y for X **and** p for P (``success``; ``success_confident`` also asks probability > 0.9
for both). Methods compared on the same expressions and exemplars:

- ``mean3`` G(mean of 3 codes per concept arithmetic), the paper's method;
- ``single`` G(z_A1 - z_B1 + z_C1), the first exemplar of each concept alone;
- ``pixel`` mean image of A - of B + of C (3 exemplars each), clamped to [0, 255];
- ``pixel_single`` the same with one exemplar per concept.

Beside each confident share, ``real_share``: the share of the results judged like the data (realness
> 0.9; None for a judge without a realness net), so that a method whose results the heads read right
but which look like no room (pixel overlaps) shows as such.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from dcgan import latent
from dcgan.analysis.common import Concept, paired_comparison, proportion, resolve_concept
from dcgan.api import Model
from dcgan.codes import looks_like_codes, read_codes
from dcgan.errors import UserError
from dcgan.judges.tasks import real_share
from dcgan.report import Result
from dcgan.settings.arithmetic import ArithmeticSettings

# Spread of each prior per coordinate relative to U[-1, 1]'s (sd 1/sqrt(3)), the prior the paper's noise was set for.
SPREAD_VS_UNIFORM = {"uniform": 1.0, "normal": math.sqrt(3.0)}


def noise_half_width(noise: float, z_dist: str) -> float:
    """Return the absolute half-width of the variations' uniform noise: ``noise`` scaled to the spread of ``z_dist``."""
    return noise * SPREAD_VS_UNIFORM[z_dist]


def pixel_arithmetic(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Return uint8 (C, H, W) mean(a) - mean(b) + mean(c) of uint8 (k, C, H, W) image groups, clamped to [0, 255]."""
    out = a.float().mean(0) - b.float().mean(0) + c.float().mean(0)
    return out.round().clamp(0, 255).to(torch.uint8)


def pixel_mean(images: torch.Tensor) -> torch.Tensor:
    """Return the uint8 (C, H, W) mean image of uint8 (k, C, H, W) images."""
    return images.float().mean(0).round().clamp(0, 255).to(torch.uint8)


def result_codes(za: torch.Tensor, zb: torch.Tensor, zc: torch.Tensor, variations: int = 8, half_width: float = 0.25,
                 seed: int = 0) -> torch.Tensor:
    """Return (variations + 1, z_dim): y = mean(A) - mean(B) + mean(C) first, then y + U[-half_width, half_width] variations."""
    y = latent.arithmetic(za, zb, zc)
    return torch.cat([y.unsqueeze(0), latent.uniform_noise(y, variations, half_width, seed)])


@dataclass
class CodeConcept(Concept):
    """A concept given as codes of a projected.npz (real images projected by dcgan project) rather than seeds."""

    codes: list[str] = field(default_factory=list)  # a label per code: the projected image's name and row

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "codes": self.codes}

    def label(self) -> str:
        return f"codes {self.text}"


def concept_codes(name: str, given: Any, model: Model, judge: Any, count: int, start_seed: int = 0, max_seeds: int = 20_000,
                  min_prob: float = 0.9) -> tuple[Concept, torch.Tensor]:
    """Return a concept and its (k, z_dim) codes: seeds or a judge query (see ``resolve_concept``), or a codes reference.

    Codes of a projected.npz are used as given, however few: one projected photo per concept is the point of projecting.
    """
    if looks_like_codes(given):
        codes = read_codes(given, model)
        return CodeConcept(name, codes.source, [], codes=codes.labels), codes.z
    concept = resolve_concept(name, given, model, judge, count, start_seed, max_seeds, min_prob)
    return concept, model.codes(concept.seeds)


# ---------------------------------------------------------------------------------------------------
# Measured: random expressions (X with P) - (X without P) + (Y without P) -> (Y with P).


@dataclass(frozen=True)
class Expression:
    """One random expression; values are indices into the judge's value names."""

    p_factor: str
    p_with: int
    p_without: int
    x_factor: str
    x: int
    y: int

    def concepts(self) -> dict[str, dict[str, int]]:
        """Return the judged values each concept's exemplars must have, and the expected result."""
        return {"a": {self.x_factor: self.x, self.p_factor: self.p_with},
                "b": {self.x_factor: self.x, self.p_factor: self.p_without},
                "c": {self.x_factor: self.y, self.p_factor: self.p_without},
                "target": {self.x_factor: self.y, self.p_factor: self.p_with}}

    def text(self, names: dict[str, list[str]]) -> str:
        """Return 'X=x,P=p - X=x,P=p' + ... = ...' in the judge's value names."""
        def q(d: dict[str, int]) -> str:
            return ",".join(f"{f}={names[f][v]}" for f, v in d.items())
        c = self.concepts()
        return f"({q(c['a'])}) - ({q(c['b'])}) + ({q(c['c'])}) -> ({q(c['target'])})"


def confident_labels(probs: dict[str, torch.Tensor], min_prob: float) -> dict[str, torch.Tensor]:
    """Return {factor: (N,) judged value, or -1 where its probability is below ``min_prob``}."""
    out = {}
    for f, p in probs.items():
        top, arg = p.max(1)
        out[f] = torch.where(top >= min_prob, arg, torch.full_like(arg, -1))
    return out


def draw_expressions(labels: dict[str, torch.Tensor], sizes: dict[str, int], count: int, exemplars: int,
                     seed: int = 0, max_tries: int = 100) -> list[tuple[Expression, dict[str, torch.Tensor]]]:
    """Return up to ``count`` random expressions with ``exemplars`` pool indices per concept (a, b, c), all distinct expressions.

    ``labels`` are a pool's confident labels (``confident_labels``); an expression is kept only when every
    concept has enough matching pool images.
    """
    factors = [f for f in labels if sizes[f] >= 2]
    if len(factors) < 2:
        raise UserError("vector-arithmetic evaluation needs a judge with at least two factors of two or more values "
                        "(e.g. a rooms judge); this one has " + ", ".join(labels))
    gen = torch.Generator().manual_seed(seed)

    def pick(n: int, k: int = 1) -> list[int]:
        return torch.randperm(n, generator=gen)[:k].tolist()

    out: list[tuple[Expression, dict[str, torch.Tensor]]] = []
    seen: set[Expression] = set()
    for _ in range(count * max_tries):
        if len(out) == count:
            break
        p_factor, x_factor = (factors[i] for i in pick(len(factors), 2))
        p_with, p_without = pick(sizes[p_factor], 2)
        x, y = pick(sizes[x_factor], 2)
        expr = Expression(p_factor, p_with, p_without, x_factor, x, y)
        if expr in seen:
            continue
        chosen = {}
        for name, want in expr.concepts().items():
            if name == "target":
                continue
            ok = torch.ones(len(labels[p_factor]), dtype=torch.bool)
            for f, v in want.items():
                ok &= labels[f] == v
            idx = ok.nonzero().flatten()
            if len(idx) < exemplars:
                break
            chosen[name] = idx[torch.randperm(len(idx), generator=gen)[:exemplars]]
        else:
            seen.add(expr)
            out.append((expr, chosen))
    return out


def evaluate(model: Model, judge: Any, count: int = 50, exemplars: int = 3, pool: int = 2000,
             pool_start: int = 0, min_prob: float = 0.9, seed: int = 0) -> tuple[dict[str, Any], torch.Tensor]:
    """Score ``count`` random expressions with each method; return (results, preview images (rows, 6, C, H, W))."""
    seeds = list(range(pool_start, pool_start + pool))
    pool_z = model.codes(seeds)
    pool_images = model.decode(pool_z)
    names = judge.value_names
    labels = confident_labels(judge.predict(pool_images), min_prob)
    drawn = draw_expressions(labels, {f: len(v) for f, v in names.items()}, count, exemplars, seed)
    if not drawn:
        raise UserError(f"no expression has {exemplars} exemplars per concept among {pool} pool seeds judged with probability "
                        f">= {min_prob}: use a larger --pool, a lower --min-prob, or a better-trained model")
    methods = ("mean3", "single", "pixel", "pixel_single")
    outputs: dict[str, list[torch.Tensor]] = {m: [] for m in methods}
    previews = []
    for _, idx in drawn:
        za, zb, zc = (pool_z[idx[k]] for k in "abc")
        ia, ib, ic = (pool_images[idx[k]] for k in "abc")
        codes = torch.stack([latent.arithmetic(za, zb, zc), za[0] - zb[0] + zc[0], *(zz.mean(0) for zz in (za, zb, zc))])
        decoded = model.decode(codes)
        outputs["mean3"].append(decoded[0])
        outputs["single"].append(decoded[1])
        outputs["pixel"].append(pixel_arithmetic(ia, ib, ic))
        outputs["pixel_single"].append(pixel_arithmetic(ia[:1], ib[:1], ic[:1]))
        previews.append(torch.stack([decoded[2], decoded[3], decoded[4], decoded[0], decoded[1], outputs["pixel"][-1]]))
    per_method: dict[str, Any] = {}
    hits: dict[str, list[bool]] = {}
    per_expression: list[dict[str, Any]] = [
        {"expression": e.text(names), **asdict(e), "seeds": {k: [seeds[i] for i in v.tolist()] for k, v in idx.items()}}
        for e, idx in drawn]
    for m in methods:
        probs = judge.predict(torch.stack(outputs[m]))
        ok, ok_conf, ok_p, ok_x = [], [], [], []
        for i, (expr, _) in enumerate(drawn):
            target = expr.concepts()["target"]
            right = {f: int(probs[f][i].argmax()) == v for f, v in target.items()}
            sure = {f: float(probs[f][i, v]) > 0.9 for f, v in target.items()}
            ok.append(all(right.values()))
            ok_conf.append(all(sure.values()))
            ok_p.append(right[expr.p_factor])
            ok_x.append(right[expr.x_factor])
            per_expression[i][m] = {"judged": judge.describe(probs, i), "success": ok[-1], "success_confident": ok_conf[-1]}
        hits[m] = ok
        per_method[m] = {"success": proportion(sum(ok), len(ok)), "success_confident": proportion(sum(ok_conf), len(ok)),
                         "property_right": proportion(sum(ok_p), len(ok)), "other_factor_right": proportion(sum(ok_x), len(ok)),
                         "judged_confidently": proportion(int(judge.confident(probs).sum()), len(ok)),
                         "real_share": real_share(probs)}
    results = {
        "expressions": len(drawn), "requested": count, "exemplars": exemplars, "pool": {"seeds": [seeds[0], seeds[-1]], "min_prob": min_prob},
        "definition": "success: the judge's most likely values of the result are the expected ones for both factors of the "
                      "expression (P=p and X=y); success_confident: both with probability > 0.9",
        "methods": per_method,
        "mean3_vs_single": paired_comparison(hits["mean3"], hits["single"]),
        "mean3_vs_pixel": paired_comparison(hits["mean3"], hits["pixel"]),
        "per_expression": per_expression,
    }
    return results, torch.stack(previews)


# ---------------------------------------------------------------------------------------------------
# The tool: the figure's arithmetic and, on request, the measurement.


@dataclass
class ArithmeticResult(Result):
    """The concepts, their exemplars and decoded means, G(y) and its variations, the pixel baseline; the measurement."""

    tool = "arithmetic"
    concepts: list[Concept] = field(default_factory=list)  # A, B, C; empty when only --evaluate was asked for
    exemplar_images: list[torch.Tensor] = field(default_factory=list, repr=False)  # per concept: uint8 (k, C, H, W)
    means: torch.Tensor | None = field(default=None, repr=False)  # uint8 (3, C, H, W): G(mean code) of A, B, C
    codes: torch.Tensor | None = field(default=None, repr=False)  # (variations + 1, z_dim): y, then its variations
    images: torch.Tensor | None = field(default=None, repr=False)  # uint8 G(codes): G(y) first
    pixel: torch.Tensor | None = field(default=None, repr=False)  # uint8 (4, C, H, W): mean A, mean B, mean C, A - B + C
    noise_half_width: float | None = None  # absolute half-width of the variations' noise
    judged: dict[str, Any] | None = None  # what the judge sees in G(y), its variations and the pixel result
    evaluation: dict[str, Any] | None = None
    previews: torch.Tensor | None = field(default=None, repr=False)  # uint8 (rows, 6, C, H, W), see report.arithmetic
    judge: str | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"judge": self.judge}
        if self.concepts:
            out["figure"] = {"concepts": [c.to_dict() for c in self.concepts], "noise_half_width": self.noise_half_width,
                             "noise_definition": "variations are y + U[-noise_half_width, noise_half_width] per coordinate; "
                                                 "noise_half_width = settings.noise * sd(z prior) / sd(U[-1, 1])",
                             "y_norm": float(self.codes[0].norm()), "judged": self.judged}
        if self.evaluation is not None:
            out["evaluation"] = self.evaluation
        return out

    def lines(self) -> list[str]:
        out = []
        if self.judged is not None:
            j = self.judged
            out.append(f"G(y) judged: {j['result']}; pixel-space result judged: {j['pixel']}")
            sure = f"{j['confident']['count']} of {j['confident']['n']} of G(y) and its variations judged confidently"
            if j["real_share"] is None:
                out.append(f"  {sure}; realness unknown: the judge has no realness net")
            else:
                out.append(f"  {sure}, {100 * j['real_share']:.1f}% judged like the data "
                           f"(pixel-space result: {'yes' if j['pixel_real_share'] else 'no'})")
        ev = self.evaluation
        if ev is None:
            return out
        n = ev["expressions"]
        out.append(f"{n} random expressions (X with P) - (X without P) + (Y without P) -> (Y with P); share judged to have both target values:")
        for m, r in ev["methods"].items():
            s = r["success"]
            real = "" if r["real_share"] is None else f", like the data {100 * r['real_share']:.1f}%"
            out.append(f"  {m:<13} {100 * s['share']:5.1f}%  (95% CI {100 * s['ci95'][0]:.1f}-{100 * s['ci95'][1]:.1f}; "
                       f"property right {100 * r['property_right']['share']:.1f}%, other factor right {100 * r['other_factor_right']['share']:.1f}%; "
                       f"judged confidently {100 * r['judged_confidently']['share']:.1f}%{real})")
        if any(r["real_share"] is None for r in ev["methods"].values()):
            out.append("  realness unknown: the judge has no realness net, so results that look like no image may count")
        c = ev["mean3_vs_single"]
        out.append(f"  3-exemplar means beat single exemplars on {c['first_only']} expressions, lost on {c['second_only']} "
                   f"(sign test p = {c['p_value']:.3g})")
        if n < ev["requested"]:
            out.append(f"  note: only {n} of {ev['requested']} expressions had enough exemplars in the pool; use a larger --pool")
        return out


def arithmetic(model: Model, settings: ArithmeticSettings | None = None, *, judge: Any = None, **options: Any) -> ArithmeticResult:
    """Return y = mean(A) - mean(B) + mean(C) decoded with its variations and pixel baseline, and/or the judged measurement.

    Concepts are seed lists ([1, 2, 3] or '1,2,3'), judge queries ('window=1,wall=red', which need ``judge``) or codes of
    real images projected by :func:`dcgan.analysis.project` ('projected.npz:0,1,2').
    """
    settings = ArithmeticSettings.build(settings, **options)
    if settings.evaluate and judge is None:
        raise UserError("--evaluate needs --judge JUDGE.pt to say what the results show")
    result = ArithmeticResult(settings, model.describe(), judge=getattr(judge, "source", "judge") if judge is not None else None)
    if settings.concepts:
        s = settings
        found = [concept_codes(n, given, model, judge, s.exemplars, s.search_start, s.max_seeds, s.min_prob) for n, given in s.concepts]
        result.concepts = [c for c, _ in found]
        codes = [z for _, z in found]
        result.exemplar_images = [model.decode(z) for z in codes]
        result.means = model.decode(torch.stack([latent.concept_mean(z) for z in codes]))
        result.noise_half_width = noise_half_width(s.noise, model.z_dist)
        result.codes = result_codes(*codes, s.variations, result.noise_half_width, s.seed)
        result.images = model.decode(result.codes)
        result.pixel = torch.stack([*(pixel_mean(e) for e in result.exemplar_images), pixel_arithmetic(*result.exemplar_images)])
        if judge is not None:
            probs, pix = judge.predict(result.images), judge.predict(result.pixel[-1:])
            result.judged = {"result": judge.describe(probs, 0), "variations": [judge.describe(probs, i) for i in range(1, len(result.images))],
                             "pixel": judge.describe(pix, 0), "confident": proportion(int(judge.confident(probs).sum()), len(result.images)),
                             "real_share": real_share(probs), "pixel_real_share": real_share(pix)}
    if settings.evaluate:
        s = settings
        result.evaluation, result.previews = evaluate(model, judge, s.evaluate, s.exemplars, s.pool, s.pool_start, s.min_prob, s.seed)
    return result
