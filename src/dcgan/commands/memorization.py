"""Memorisation check: nearest training images of generated samples, against those of held-out real images.

For --samples generated images (seeds 0..N-1) and as many held-out real images, finds the nearest training
image in pixel space (RMS difference, pixel values on a [0, 1] scale) and in a feature space (D's features
of this checkpoint, or a judge's with --judge). Held-out images show how far a genuinely new image lies
from the training set. A sample is flagged as a near-copy when it is closer than the --quantile (1%) point
of the held-out distances; about quantile x N flags are expected by chance.

Writes pairs-pixel.png and pairs-features.png (the closest sample | nearest-training-image pairs, flagged
samples framed in red), distances.png (histograms of both distance sets with the threshold) and results.json.
Run it on the epoch-1 and epoch-5 checkpoints of a run to see whether longer training moves samples
towards training images (each checkpoint file gets its own folder).

Examples:
  dcgan memorization runs/00000-dcgan/checkpoints/epoch-0001.pt           # the run's own training data
  dcgan memorization runs/00001-mnist/checkpoints/epoch-0005.pt --data ../shared/data/mnist.npz
  dcgan memorization RUN --judge rooms-64.pt --samples 2000 --train-images 20000
"""

from __future__ import annotations

import argparse

from dcgan.commands import add_checkpoint_argument, add_device_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_checkpoint_argument(p)
    p.add_argument("--data", metavar="SPEC", help="the training data to search (default: what the run was trained on)")
    p.add_argument("--data-root", metavar="DIR", help="where named datasets live (default: $DCGAN_DATA_ROOT or ./data)")
    p.add_argument("--train-images", type=int, help="search only the first N training images (default: all the run used)")
    p.add_argument("--heldout", metavar="SPEC", help="held-out real images (default: the data's test split; for a folder, its last --samples images, "
                   "then left out of the training set)")
    p.add_argument("--samples", type=int, default=1000, help="generated images (seeds 0..N-1) and held-out images compared (default: 1000)")
    p.add_argument("--judge", metavar="JUDGE", help="use this judge's features as the feature space (default: D's features of the checkpoint)")
    p.add_argument("--quantile", type=float, default=0.01, help="near-copy threshold: this quantile of held-out distances (default: 0.01)")
    p.add_argument("--pairs", type=int, default=32, help="closest pairs shown per space (default: 32)")
    p.add_argument("--chunk", type=int, default=2048, help="training images compared at once (memory only; default: 2048)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: RUN/analysis/memorization/, plus the checkpoint name unless latest.pt)")
    add_device_argument(p)


def _load(args: argparse.Namespace, run_cfg, model):
    """Return (train images, description, held-out images, description)."""
    from pathlib import Path

    from dcgan.config import DataConfig
    from dcgan.data import load_data, split_spec

    spec = args.data or run_cfg.data.spec
    num = args.train_images or (run_cfg.data.num_images if spec == run_cfg.data.spec else None)
    root = args.data_root or (run_cfg.data.data_root if spec == run_cfg.data.spec else None)

    def cfg(s: str, n: int | None) -> DataConfig:
        return DataConfig(spec=s, data_root=root, image_size=model.image_size, channels=model.channels, num_images=n)

    source, _ = split_spec(spec)
    carve = not args.heldout and Path(source).expanduser().is_dir()
    train = load_data(cfg(spec, None if carve else num))
    if carve:
        if len(train) <= args.samples:
            from dcgan.errors import UserError

            raise UserError(f"{spec} holds {len(train)} images: too few to hold out {args.samples}; lower --samples or give --heldout")
        held_images = train.images[-args.samples :]
        train_images = train.images[: len(train) - args.samples][:num] if num else train.images[: len(train) - args.samples]
        return train_images, train.description, held_images, f"the last {args.samples} images of {spec}, left out of the search"
    held = load_data(cfg(args.heldout or f"{source}:test", args.samples))
    return train.images, train.description, held.images[: args.samples], held.description


def run(args: argparse.Namespace) -> int:
    from dcgan.analysis.common import announce, load_for_analysis, open_judge, output_dir, write_results
    from dcgan.analysis.memorization import (
        compare,
        nearest_neighbours,
        pixel_embed,
        save_histograms,
        save_pairs,
    )
    from dcgan.checkpoint import discriminator_from_checkpoint, run_config
    from dcgan.errors import UserError
    from dcgan.features import d_features
    from dcgan.latent import z_from_seeds
    from dcgan.sampling import generate

    if args.samples < 10 or not 0 < args.quantile < 1 or args.pairs < 1 or args.chunk < 1:
        raise UserError("--samples must be at least 10, --quantile in (0, 1), --pairs and --chunk positive")
    if args.train_images is not None and args.train_images < 1:
        raise UserError("--train-images must be positive")
    loaded = load_for_analysis(args.checkpoint, args.device)
    model = loaded.model
    device = next(loaded.generator.parameters()).device
    train, train_text, held, held_text = _load(args, run_config(loaded.payload), model)
    if len(held) < 10:
        raise UserError(f"only {len(held)} held-out images in {held_text}: need at least 10")
    if args.judge:
        judge = open_judge(args.judge, model, device)
        embed, space = judge.features, f"judge features ({args.judge})"
    else:
        d = discriminator_from_checkpoint(loaded.payload, device)
        embed, space = (lambda x: d_features(d, x)), "D features of this checkpoint (every conv layer max-pooled to 4x4)"
    samples = generate(loaded.generator, z_from_seeds(range(args.samples), model.z_dim, model.z_dist))
    print(f"{args.samples} samples and {len(held)} held-out images ({held_text}) against {len(train)} training images ({train_text})")

    folder = output_dir(loaded.path, "memorization", args.out)
    results = {**loaded.describe(), "train": {"data": train_text, "images": len(train)}, "heldout": {"data": held_text, "images": len(held)},
               "samples": {"seeds": [0, args.samples - 1], "images": args.samples},
               "definition": "distance to the nearest training image; near-copy: below the --quantile point of the held-out distances "
                             "(expected_by_chance = quantile x samples without memorisation)"}
    figures, hists = [], {}
    for key, fn, what in (("pixel", pixel_embed, "pixels (RMS difference, [0, 1] scale)"), ("features", embed, space)):
        sd, si = nearest_neighbours(samples, train, fn, args.chunk, f"{key}: samples")
        hd, _ = nearest_neighbours(held, train, fn, args.chunk, f"{key}: held-out")
        stats = compare(sd, hd, args.quantile)
        results[key] = {"space": what, **stats, "closest": [{"seed": int(i), "train_index": int(si[i]), "distance": float(sd[i])}
                                                            for i in sd.argsort()[:10]]}
        figures.append(save_pairs(folder / f"pairs-{key}.png", samples, train[si], sd, sd < stats["threshold"],
                                  f"{key}: closest samples | nearest training image (red frame: near-copy)", args.pairs))
        hists[what.split(" (")[0]] = (sd, hd, stats["threshold"])
        print(f"{key:<8} median distance: samples {stats['samples']['median']:.4g}, held-out {stats['heldout']['median']:.4g} "
              f"(ratio {stats['median_ratio'] or float('nan'):.3f}); near-copies {stats['near_copies']} of {args.samples} "
              f"(threshold {stats['threshold']:.4g}, about {stats['expected_by_chance']:.0f} expected by chance)")
    figures.append(save_histograms(folder / "distances.png", hists))
    announce(figures, write_results(folder, results))
    return 0
