"""Vector arithmetic on codes (PAPER.md section 5): y = mean(A) - mean(B) + mean(C), and its measurement.

The figure follows the paper's: each concept's exemplars with their mean code decoded, the result G(y)
in the centre of a 3x3 block whose 8 neighbours decode y + U[-0.25, 0.25] noise, and below them the same
arithmetic on pixels (mean image of A - of B + of C), the baseline that gives noisy overlaps.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from dcgan.analysis.common import paired_comparison, proportion, save_titled_grid, show_grid
from dcgan.errors import UserError
from dcgan.latent import arithmetic, uniform_noise


def pixel_arithmetic(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Return uint8 (C, H, W) mean(a) - mean(b) + mean(c) of uint8 (k, C, H, W) image groups, clamped to [0, 255]."""
    out = a.float().mean(0) - b.float().mean(0) + c.float().mean(0)
    return out.round().clamp(0, 255).to(torch.uint8)


def pixel_mean(images: torch.Tensor) -> torch.Tensor:
    """Return the uint8 (C, H, W) mean image of uint8 (k, C, H, W) images."""
    return images.float().mean(0).round().clamp(0, 255).to(torch.uint8)


def result_codes(za: torch.Tensor, zb: torch.Tensor, zc: torch.Tensor, variations: int = 8, noise: float = 0.25,
                 seed: int = 0) -> torch.Tensor:
    """Return (variations + 1, z_dim): y = mean(A) - mean(B) + mean(C) first, then y + U[-noise, noise] variations."""
    y = arithmetic(za, zb, zc)
    return torch.cat([y.unsqueeze(0), uniform_noise(y, variations, noise, seed)])


def save_figure(path: Path, concepts: Sequence[Any], exemplars: Sequence[torch.Tensor], means: torch.Tensor,
                results: torch.Tensor, pixel: torch.Tensor) -> Path:
    """Draw the paper-style figure: exemplars + decoded mean per concept, 3x3 results (centre G(y)), pixel baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = max(len(e) for e in exemplars)
    fig = plt.figure(figsize=(2.2 + 1.1 * (k + 1) + 3.6, 6.4))
    spec = fig.add_gridspec(4, 2, width_ratios=[k + 1, 3.2])
    signs = ["", "minus ", "plus "]
    for i, (concept, ex) in enumerate(zip(concepts, exemplars, strict=True)):
        ax = fig.add_subplot(spec[i, 0])
        label = concept.query or f"seeds {','.join(map(str, concept.seeds))}"
        show_grid(ax, torch.cat([ex, means[i : i + 1]]), len(ex) + 1, f"{signs[i]}{concept.name.upper()}: {label}  |  G(mean z)")
    # Centre of the 3x3 block is G(y); the 8 around it are the noisy variations.
    order = [1, 2, 3, 4, 0, 5, 6, 7, 8] if len(results) == 9 else list(range(len(results)))
    show_grid(fig.add_subplot(spec[0:3, 1]), results[order], 3 if len(results) == 9 else len(results),
          "= G(y), centre; y + U[-0.25, 0.25] around it")
    show_grid(fig.add_subplot(spec[3, 0]), pixel, len(pixel), "pixel space: mean A, mean B, mean C  |  A - B + C")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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


def evaluate(generator: torch.nn.Module, model: Any, judge: Any, count: int = 50, exemplars: int = 3, pool: int = 2000,
             pool_start: int = 0, min_prob: float = 0.9, seed: int = 0) -> tuple[dict[str, Any], torch.Tensor]:
    """Score ``count`` random expressions with each method; return (results, preview images (rows, 6, C, H, W))."""
    from dcgan.latent import z_from_seeds
    from dcgan.sampling import generate

    if exemplars < 2:
        raise UserError("--exemplars must be at least 2 to compare means with single exemplars")
    seeds = list(range(pool_start, pool_start + pool))
    pool_z = z_from_seeds(seeds, model.z_dim, model.z_dist)
    pool_images = generate(generator, pool_z)
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
        codes = torch.stack([arithmetic(za, zb, zc), za[0] - zb[0] + zc[0], *(zz.mean(0) for zz in (za, zb, zc))])
        decoded = generate(generator, codes)
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
                         "judged_confidently": proportion(int(judge.confident(probs).sum()), len(ok))}
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


def save_evaluation_preview(path: Path, previews: torch.Tensor, rows: int = 8) -> Path:
    """Save the first ``rows`` expressions: G(mean A), G(mean B), G(mean C), mean3 result, single result, pixel result."""
    shown = previews[:rows]
    return save_titled_grid(path, shown.flatten(0, 1), shown.shape[1],
                            "G(mean A) | G(mean B) | G(mean C) || 3-exemplar result | single | pixel", width=7.0)
