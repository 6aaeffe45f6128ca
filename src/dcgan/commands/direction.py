"""A direction in the latent space (the paper's "turn" vector): d = mean(to) - mean(from), added to any code.

--from and --to are groups of at least 4 exemplars, as seeds (--from 0-3) or judge queries
(--from window=0 --to window=2: the first matching seeds). Writes grid.png (rows = --seeds, columns =
codes z + s d for each of --scales) and exemplars.png. With --judge, results.json holds the share of test
seeds whose judged factor flips to the target at scale 1 while every other factor keeps its value (seeds
already at the target left out), the same for a random direction of equal length (the control), and the
share at the target per scale.

Examples:
  dcgan direction RUN --judge rooms-64.pt --from window=0 --to window=2
  dcgan direction RUN --judge rooms-64.pt --from light=day --to light=night --scales 0,0.5,1,1.5 --seeds 0-299
  dcgan direction RUN --from 3,8,11,20 --to 5,7,9,40
"""

from __future__ import annotations

import argparse

from dcgan.commands import add_checkpoint_argument, add_device_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_checkpoint_argument(p)
    p.add_argument("--from", dest="from_", required=True, metavar="SEEDS_OR_QUERY", help="the group the direction starts at: seeds or a judge query")
    p.add_argument("--to", required=True, metavar="SEEDS_OR_QUERY", help="the group the direction points to: seeds or a judge query")
    p.add_argument("--exemplars", type=int, default=4, help="exemplars per query group, at least 4; a seed list must give at least this many, all used (default: 4)")
    p.add_argument("--seeds", default="1000-1199", help="test seeds the direction is applied to (default: 1000-1199; exemplar seeds are skipped)")
    p.add_argument("--rows", type=int, default=8, help="test seeds shown in the grid (default: 8)")
    p.add_argument("--scales", default="-1,0,0.5,1,1.5,2", help="multiples of d, the grid's columns (default: -1,0,0.5,1,1.5,2)")
    p.add_argument("--judge", metavar="JUDGE", help="judge file: selects query groups and measures the flips")
    p.add_argument("--search-start", type=int, default=0, help="first seed searched for query groups (default: 0)")
    p.add_argument("--max-seeds", type=int, default=20_000, help="seeds searched per query at most (default: 20000)")
    p.add_argument("--min-prob", type=float, default=0.9, help="judge probability an exemplar must reach on every queried factor (default: 0.9)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random control direction (default: 0)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: RUN/analysis/direction/, plus the checkpoint name unless latest.pt)")
    add_device_argument(p)


def _scales(text: str) -> list[float]:
    from dcgan.errors import UserError

    try:
        scales = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"cannot read --scales {text!r}: give numbers separated by commas, e.g. -1,0,0.5,1,2") from None
    if not scales:
        raise UserError("--scales needs at least one number")
    return scales


def run(args: argparse.Namespace) -> int:
    import torch

    from dcgan.analysis.common import (
        announce,
        load_for_analysis,
        open_judge,
        output_dir,
        resolve_concept,
        save_titled_grid,
        write_results,
    )
    from dcgan.analysis.direction import (
        apply_direction,
        direction,
        measure_flips,
        random_like,
        targets_from_exemplars,
        targets_from_query,
    )
    from dcgan.errors import UserError
    from dcgan.latent import parse_seeds, z_from_seeds
    from dcgan.sampling import generate

    if args.exemplars < 4:
        raise UserError("--exemplars must be at least 4: directions from fewer exemplars are dominated by what else the images show")
    if args.rows < 1 or not 0 <= args.min_prob <= 1:
        raise UserError("--rows must be positive and --min-prob in [0, 1]")
    scales = _scales(args.scales)
    test_seeds = parse_seeds(args.seeds)
    loaded = load_for_analysis(args.checkpoint, args.device)
    model = loaded.model
    judge = open_judge(args.judge, model, next(loaded.generator.parameters()).device) if args.judge else None
    groups = [resolve_concept(n, t, loaded, judge, args.exemplars, args.search_start, args.max_seeds, args.min_prob)
              for n, t in (("from", args.from_), ("to", args.to))]
    used = set(groups[0].seeds) | set(groups[1].seeds)
    test_seeds = [s for s in test_seeds if s not in used]
    if not test_seeds:
        raise UserError("every test seed is an exemplar: give other --seeds")
    z_from, z_to = (z_from_seeds(g.seeds, model.z_dim, model.z_dist) for g in groups)
    d = direction(z_from, z_to)
    folder = output_dir(loaded.path, "direction", args.out)

    shown = z_from_seeds(test_seeds[: args.rows], model.z_dim, model.z_dist)
    grid_images = generate(loaded.generator, apply_direction(shown, d, scales).flatten(0, 1))
    figures = [save_titled_grid(folder / "grid.png", grid_images, len(scales),
                                f"{args.from_} -> {args.to}: z + s d, s = {', '.join(f'{s:g}' for s in scales)}")]
    ex = generate(loaded.generator, torch.cat([z_from, z_to]))
    figures.append(save_titled_grid(folder / "exemplars.png", ex, args.exemplars, f"from ({args.from_}) | to ({args.to})"))
    results = {**loaded.describe(), "from": groups[0].to_dict(), "to": groups[1].to_dict(), "exemplars": args.exemplars,
               "scales": scales, "direction_norm": float(d.norm()), "grid_seeds": test_seeds[: args.rows], "judge": args.judge}

    if judge is not None:
        measure_scales = sorted(set(scales) | {0.0, 1.0})
        z = z_from_seeds(test_seeds, model.z_dim, model.z_dist)

        def judged(direction_vector: torch.Tensor, which: list[float]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
            """Return judged labels {factor: (N, scales)} and whether each scale-0 image is judged confidently."""
            images = generate(loaded.generator, apply_direction(z, direction_vector, which).flatten(0, 1))
            probs = judge.predict(images)
            sure = judge.confident(probs).view(len(z), len(which))[:, which.index(0.0)]
            return {f: p.argmax(1).view(len(z), len(which)) for f, p in probs.items()}, sure

        if groups[1].query:
            targets = targets_from_query(judge, groups[1].query)
            source = f"the query {groups[1].query!r}"
        else:
            ex_labels = {f: p.argmax(1) for f, p in judge.predict(ex).items()}
            targets = targets_from_exemplars({f: v[: args.exemplars] for f, v in ex_labels.items()},
                                             {f: v[args.exemplars :] for f, v in ex_labels.items()})
            source = "the factors whose most common judged value differs between the exemplar groups"
            if not targets:
                raise UserError("the judge sees no factor whose most common value differs between --from and --to exemplars: nothing to measure")
        names = judge.value_names
        labels, sure = judged(d, measure_scales)
        measured = measure_flips(labels, measure_scales, targets, sure)
        labels, sure = judged(random_like(d, args.seed), [0.0, 1.0])
        control = measure_flips(labels, [0.0, 1.0], targets, sure)
        results["measurement"] = {
            "targets": {f: [names[f][v] for v in sorted(a)] for f, a in targets.items()}, "targets_from": source,
            "definition": "flip: at scale 1 every target factor is judged (argmax) at an allowed value and every other factor keeps "
                          "its scale-0 value; seeds already at the target at scale 0 are left out",
            **measured,
            "random_direction": {k: control[k] for k in ("eligible", "flip_share", "target_reached", "others_kept", "kept_by_factor",
                                                         "confident_seeds")},
        }
        f, r = measured["flip_share"], control["flip_share"]
        target_text = ", ".join(f"{k} in {{{'|'.join(v)}}}" for k, v in results["measurement"]["targets"].items())
        if f["n"]:
            print(f"target {target_text}: {100 * f['share']:.1f}% of {f['n']} seeds flip at scale 1 with other factors kept "
                  f"(target reached {100 * measured['target_reached']['share']:.1f}%, others kept {100 * measured['others_kept']['share']:.1f}%); "
                  f"random direction of equal length: {100 * (r['share'] or 0):.1f}%")
            c = measured["confident_seeds"]
            if c["eligible"]:
                print(f"  over the {c['eligible']} of those seeds whose image is judged confidently: {100 * c['flip_share']['share']:.1f}% flip "
                      f"(target reached {100 * c['target_reached']['share']:.1f}%, others kept {100 * c['others_kept']['share']:.1f}%)")
        else:
            print(f"target {target_text}: every test seed is already at the target; nothing to flip")
    announce(figures, write_results(folder, results))
    return 0
