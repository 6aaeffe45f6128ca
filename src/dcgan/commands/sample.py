"""Generate images from a checkpoint: a grid and/or one PNG per seed.

Seed s always gives the same image, whatever the batch: G runs in eval mode, so BatchNorm uses the
running statistics gathered during training instead of the batch's own. A run trained with --ema
samples from its moving average of G (as its training grids did).

Examples:
  dcgan sample runs/00000-dcgan --seeds 0-63                      # grid into the run's analysis/sample/
  dcgan sample runs/00000-dcgan/checkpoints/epoch-0005.pt --seeds 0-999 --out-dir export/ --no-grid
  dcgan sample runs/00000-dcgan --seeds 0-63 --drop runs/00000-dcgan/analysis/forget/dropped.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dcgan.commands import add_checkpoint_argument, add_device_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_checkpoint_argument(p)
    p.add_argument("--seeds", default="0-63", help="seeds: a range '0-63', a list '3,17,42' or both (default: 0-63)")
    p.add_argument("--grid", metavar="PNG", help="where to write the grid (default: RUN/analysis/sample/seeds-A-B.png)")
    p.add_argument("--no-grid", action="store_true", help="write no grid (use with --out-dir)")
    p.add_argument("--nrow", type=int, help="images per grid row (default: square)")
    p.add_argument("--out-dir", metavar="DIR", help="also write one PNG per seed, named seed-NNNNNN.png")
    p.add_argument("--batch-size", type=int, default=256, help="images generated at once (does not change the images)")
    add_device_argument(p)
    p.add_argument("--drop", metavar="FILE", help="zero the feature maps listed in a dropped.json written by 'dcgan forget' for this checkpoint")


def run(args: argparse.Namespace) -> int:
    from dcgan.analysis.common import load_for_analysis
    from dcgan.checkpoint import run_dir_of
    from dcgan.errors import UserError
    from dcgan.images import save_each, save_grid
    from dcgan.latent import parse_seeds, z_from_seeds
    from dcgan.sampling import generate

    seeds = parse_seeds(args.seeds)
    if args.no_grid and not args.out_dir:
        raise UserError("--no-grid without --out-dir would write nothing")
    if args.batch_size < 1:
        raise UserError("--batch-size must be positive")
    loaded = load_for_analysis(args.checkpoint, args.device)
    path, payload, model, g = loaded.path, loaded.payload, loaded.model, loaded.generator
    z = z_from_seeds(seeds, model.z_dim, model.z_dist)
    if args.drop:
        from dcgan.analysis.forget import drop_maps, load_drop_file

        layer, maps, record = load_drop_file(args.drop, g, payload["digest"])
        with drop_maps(g, layer, maps, record.get("renorm")):
            images = generate(g, z, args.batch_size)
        print(f"dropped {len(maps)} feature maps of G's layer {layer} ({record.get('layer_name', '?')}), from {args.drop}")
    else:
        images = generate(g, z, args.batch_size)
    if not args.no_grid:
        grid = Path(args.grid) if args.grid else run_dir_of(path) / "analysis" / "sample" / f"seeds-{seeds[0]}-{seeds[-1]}{'-drop' if args.drop else ''}.png"
        print(f"grid: {save_grid(images, grid, args.nrow)}")
    if args.out_dir:
        save_each(images, args.out_dir, [f"seed-{s:06d}" for s in seeds])
        print(f"images: {len(seeds)} PNGs in {args.out_dir}")
    return 0
