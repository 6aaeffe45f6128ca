"""Walk through the latent space: decode paths through a series of random codes (the paper's figure 4).

Each walk visits --points codes (seeds; the paper uses 9) and goes from one to the next in --steps frames,
both ends included. Written per walk: walk-NN.png (one row per segment) and walk-NN.gif (the whole path,
looping). With --judge, results.json also holds, per walk and pooled: the share of frames judged
confidently, and "returns" (flicker: along a segment, how often a factor's judged value changes to a
value it already had, e.g. red -> blue -> red), also counted over confidently judged frames only, and
for the same frames shuffled within each segment (the control). Smooth walks: a high confident share,
few returns, far fewer than shuffled.

Interpolation (--mode): slerp keeps codes at a typical norm. For normal z a straight line (lerp) sags to
0.71 of the typical norm half-way, where G was never trained, so slerp is the default. For uniform z in
[-1, 1] lerp stays inside the cube but sags in norm too (to ~0.65), while slerp keeps the norm but pushes
~5% of the coordinates slightly outside the cube half-way; we recommend slerp there as well (the default):
on our rooms models the judged quality of the frames was the same either way (README: measured).
results.json records how typical each walk's codes are (norm ratio; share outside the cube).

Examples:
  dcgan walk runs/00000-dcgan                                     # 9 random points (seeds 0-8), 10 steps
  dcgan walk runs/00000-dcgan --walks 10 --judge judges/rooms-64.pt  # 10 walks, measured
  dcgan walk runs/00000-dcgan --seeds 3,17,42,7 --steps 16 --mode lerp
"""

from __future__ import annotations

import argparse

from dcgan.commands import add_checkpoint_argument, add_device_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_checkpoint_argument(p)
    p.add_argument("--seeds", help="the points to visit, in order, e.g. '3,17,42' (default: --points consecutive seeds per walk)")
    p.add_argument("--points", type=int, default=9, help="points per walk when --seeds is not given (default: 9, as in the paper)")
    p.add_argument("--walks", type=int, default=1, help="independent walks; walk w visits seeds start+w*points ... (default: 1)")
    p.add_argument("--start-seed", type=int, default=0, help="first seed of the first walk (default: 0)")
    p.add_argument("--steps", type=int, default=10, help="frames per segment, both ends included (default: 10)")
    p.add_argument("--mode", choices=("auto", "slerp", "lerp"), default="auto",
                   help="interpolation: auto = slerp (for normal and uniform z; see the module help), or lerp")
    p.add_argument("--judge", metavar="JUDGE", help="a judge file (dcgan judge train) to measure the walks with")
    p.add_argument("--fps", type=float, default=8.0, help="frames per second of the GIFs (default: 8)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: RUN/analysis/walk/, plus the checkpoint name unless latest.pt)")
    add_device_argument(p)


def run(args: argparse.Namespace) -> int:
    from dcgan.analysis.common import announce, load_for_analysis, open_judge, output_dir, write_results
    from dcgan.analysis.walk import judge_walk, save_walk_gif, save_walk_grid, summarise_walks, walk_codes
    from dcgan.errors import UserError
    from dcgan.latent import default_mode, parse_seeds, path_typicality, z_from_seeds
    from dcgan.sampling import generate

    if args.seeds:
        if args.walks != 1:
            raise UserError("--seeds gives one walk; leave out --walks (or leave out --seeds to draw several walks)")
        walks = [parse_seeds(args.seeds)]
    else:
        if args.points < 2 or args.walks < 1 or args.start_seed < 0:
            raise UserError("--points must be at least 2, --walks at least 1 and --start-seed non-negative")
        walks = [list(range(args.start_seed + w * args.points, args.start_seed + (w + 1) * args.points)) for w in range(args.walks)]
    if len(walks[0]) < 2:
        raise UserError("a walk needs at least two points: give two or more seeds")
    if args.fps <= 0:
        raise UserError("--fps must be positive")
    loaded = load_for_analysis(args.checkpoint, args.device)
    model = loaded.model
    judge = open_judge(args.judge, model, next(loaded.generator.parameters()).device) if args.judge else None
    mode = default_mode(model.z_dist) if args.mode == "auto" else args.mode
    folder = output_dir(loaded.path, "walk", args.out)

    figures, per_walk = [], []
    for w, seeds in enumerate(walks):
        z = walk_codes(seeds, model.z_dim, model.z_dist, args.steps, mode)  # (S, T, z_dim)
        images = generate(loaded.generator, z.flatten(0, 1)).view(*z.shape[:2], model.channels, model.image_size, model.image_size)
        figures += [save_walk_grid(images, folder / f"walk-{w:02d}.png"), save_walk_gif(images, folder / f"walk-{w:02d}.gif", args.fps)]
        entry = {"seeds": seeds, "grid": figures[-2].name, "gif": figures[-1].name, "typicality": path_typicality(z, model.z_dist)}
        if judge is not None:
            entry["judge"] = judge_walk(judge, images, seed=w)
        per_walk.append(entry)

    results = {**loaded.describe(), "mode": mode, "steps": args.steps, "points": len(walks[0]), "walks": per_walk,
               "typicality_endpoints": path_typicality(z_from_seeds(sorted({s for w in walks for s in w}), model.z_dim, model.z_dist), model.z_dist),
               "judge": str(args.judge) if judge is not None else None}
    if judge is not None:
        results["summary"] = summarise_walks([w["judge"] for w in per_walk])
        s = results["summary"]
        print(f"{s['walks']} walk(s), {s['segments']} segments, {s['frames']} frames ({mode}): "
              f"{100 * s['confident_share']:.1f}% judged confidently; {s['returns_per_segment']:.2f} returns per segment "
              f"({100 * s['segments_with_returns']:.1f}% of segments flicker; {s['confident_returns_per_segment']:.2f} over confident "
              f"frames only; {s['shuffled_returns_per_segment']:.2f} with the frames shuffled); {s['changes_per_segment']:.2f} changes "
              f"per segment for {s['ends_differ_per_segment']:.2f} factors whose ends differ")
    announce(figures, write_results(folder, results))
    return 0
