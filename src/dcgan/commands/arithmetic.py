"""Vector arithmetic on codes (the paper's figure 7): y = mean(A) - mean(B) + mean(C), decoded.

Each concept is a group of exemplars, given as seeds (--a 3,17,42) or as a judge query
(--a "window=1,wall=red": the first seeds from --search-start whose image the judge finds matching,
with probability >= --min-prob). Codes are averaged per concept (3 exemplars by default, as in the paper).
Writes figure.png: each concept's exemplars and their decoded mean, G(y) in the centre of a 3x3 block with
8 variations y + U[-0.25, 0.25], and the same arithmetic on pixels as the baseline.

--evaluate N (needs a judge with >= 2 factors, e.g. rooms): N random expressions
(X with P) - (X without P) + (Y without P), each expected to give (Y with P); reports the share of results
the judge finds to have the target values of both factors, for 3-exemplar means, single exemplars and
pixel-space arithmetic, on the same expressions (evaluation.png shows the first rows).

Examples:
  dcgan arithmetic RUN --a 3,17,42 --b 5,8,13 --c 21,34,55
  dcgan arithmetic RUN --judge rooms-64.pt --a "window=2,wall=red" --b "window=0,wall=red" --c "window=0,wall=blue"
  dcgan arithmetic RUN --judge rooms-64.pt --evaluate 100
"""

from __future__ import annotations

import argparse

from dcgan.commands import add_checkpoint_argument, add_device_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_checkpoint_argument(p)
    for name in "abc":
        sign = {"a": "+", "b": "-", "c": "+"}[name]
        p.add_argument(f"--{name}", metavar="SEEDS_OR_QUERY", help=f"concept {name.upper()} ({sign}): seeds '3,17,42' or a judge query 'window=1,wall=red'")
    p.add_argument("--exemplars", type=int, default=3, help="exemplars per query concept, and the least a seed list must give (all given seeds are used; default: 3, as in the paper)")
    p.add_argument("--judge", metavar="JUDGE", help="judge file: selects query concepts, judges the results; needed for --evaluate")
    p.add_argument("--variations", type=int, default=8, help="noisy variations around G(y) (default: 8)")
    p.add_argument("--noise", type=float, default=0.25, help="half-width of the uniform noise of the variations (default: 0.25)")
    p.add_argument("--evaluate", type=int, metavar="N", help="also measure N random expressions with the judge (>= 50 recommended)")
    p.add_argument("--pool", type=int, default=2000, help="--evaluate: seeds generated and judged to draw exemplars from (default: 2000)")
    p.add_argument("--pool-start", type=int, default=0, help="--evaluate: first pool seed (default: 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise variations and of the random expressions (default: 0)")
    p.add_argument("--search-start", type=int, default=0, help="first seed searched for query concepts (default: 0)")
    p.add_argument("--max-seeds", type=int, default=20_000, help="seeds searched per query at most (default: 20000)")
    p.add_argument("--min-prob", type=float, default=0.9, help="judge probability an exemplar must reach on every queried factor (default: 0.9)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: RUN/analysis/arithmetic/, plus the checkpoint name unless latest.pt)")
    add_device_argument(p)


def run(args: argparse.Namespace) -> int:
    import torch

    from dcgan.analysis.arithmetic import (
        evaluate,
        pixel_arithmetic,
        pixel_mean,
        result_codes,
        save_evaluation_preview,
        save_figure,
    )
    from dcgan.analysis.common import (
        announce,
        load_for_analysis,
        open_judge,
        output_dir,
        proportion,
        resolve_concept,
        write_results,
    )
    from dcgan.errors import UserError
    from dcgan.latent import concept_mean, z_from_seeds
    from dcgan.sampling import generate

    given = [getattr(args, n) for n in "abc"]
    if any(given) and not all(given):
        raise UserError("give all three concepts --a, --b and --c (y = mean(A) - mean(B) + mean(C))")
    if not any(given) and not args.evaluate:
        raise UserError("nothing to do: give concepts --a --b --c, or --evaluate N with --judge")
    if args.exemplars < 1 or args.variations < 0 or args.noise < 0 or not 0 <= args.min_prob <= 1:
        raise UserError("--exemplars must be positive, --variations and --noise non-negative, --min-prob in [0, 1]")
    if args.evaluate is not None and (args.evaluate < 1 or args.pool < 2):
        raise UserError("--evaluate needs a positive number of expressions and --pool at least 2")
    if args.evaluate and not args.judge:
        raise UserError("--evaluate needs --judge JUDGE.pt to say what the results show")
    loaded = load_for_analysis(args.checkpoint, args.device)
    model = loaded.model
    judge = open_judge(args.judge, model, next(loaded.generator.parameters()).device) if args.judge else None
    folder = output_dir(loaded.path, "arithmetic", args.out)
    results = {**loaded.describe(), "judge": args.judge, "exemplars": args.exemplars}
    figures = []

    if all(given):
        concepts = [resolve_concept(n, t, loaded, judge, args.exemplars, args.search_start, args.max_seeds, args.min_prob)
                    for n, t in zip("abc", given, strict=True)]
        codes = [z_from_seeds(c.seeds, model.z_dim, model.z_dist) for c in concepts]
        exemplars = [generate(loaded.generator, z) for z in codes]
        means = generate(loaded.generator, torch.stack([concept_mean(z) for z in codes]))
        z_out = result_codes(*codes, args.variations, args.noise, args.seed)
        out = generate(loaded.generator, z_out)
        pixel = torch.stack([*(pixel_mean(e) for e in exemplars), pixel_arithmetic(*exemplars)])
        figures.append(save_figure(folder / "figure.png", concepts, exemplars, means, out, pixel))
        entry = {"concepts": [c.to_dict() for c in concepts], "variations": args.variations, "noise": args.noise, "seed": args.seed,
                 "y_norm": float(z_out[0].norm())}
        if judge is not None:
            probs = judge.predict(out)
            pix = judge.predict(pixel[-1:])
            entry["judged"] = {"result": judge.describe(probs, 0), "variations": [judge.describe(probs, i) for i in range(1, len(out))],
                               "pixel": judge.describe(pix, 0), "confident": proportion(int(judge.confident(probs).sum()), len(out))}
            print(f"G(y) judged: {entry['judged']['result']}; pixel-space result judged: {entry['judged']['pixel']}")
        results["figure"] = entry

    if args.evaluate:
        evaluation, previews = evaluate(loaded.generator, model, judge, args.evaluate, args.exemplars, args.pool, args.pool_start,
                                        args.min_prob, args.seed)
        figures.append(save_evaluation_preview(folder / "evaluation.png", previews))
        results["evaluation"] = evaluation
        n = evaluation["expressions"]
        print(f"{n} random expressions (X with P) - (X without P) + (Y without P) -> (Y with P); share judged to have both target values:")
        for m, r in evaluation["methods"].items():
            s = r["success"]
            print(f"  {m:<13} {100 * s['share']:5.1f}%  (95% CI {100 * s['ci95'][0]:.1f}-{100 * s['ci95'][1]:.1f}; "
                  f"property right {100 * r['property_right']['share']:.1f}%, other factor right {100 * r['other_factor_right']['share']:.1f}%)")
        c = evaluation["mean3_vs_single"]
        print(f"  3-exemplar means beat single exemplars on {c['first_only']} expressions, lost on {c['second_only']} (sign test p = {c['p_value']:.3g})")
        if n < args.evaluate:
            print(f"  note: only {n} of {args.evaluate} expressions had enough exemplars in the pool; use a larger --pool")
    announce(figures, write_results(folder, results))
    return 0
