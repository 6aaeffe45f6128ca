"""What D's units respond to: guided back-propagation of chosen feature maps of a D layer, each on the
real images where it responds most, beside the same view of a randomly initialised D (paper section 6.2).

On rooms data it also plays a "pointing game": for every unit of the layer (default) and each of its
top images, is the saliency peak inside a window or bed? Trained D against random D against chance
(the share of those images' pixels that are window or bed).

Examples:
  dcgan visualize runs/00000-dcgan                                 # last layer, units 0-5, on its training data
  dcgan visualize runs/00000-dcgan --layer -2 --units 0-15 --top-k 10 --data rooms:test

Writes RUN/analysis/visualize/: figure.png (random D | trained D, one row per unit), top_images.png
(the images behind each row) and results.json (top images, responses, pointing-game numbers).
"""

from __future__ import annotations

import argparse

from dcgan.commands import add_checkpoint_argument, add_device_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_checkpoint_argument(p)
    p.add_argument("--data", metavar="SPEC", help="real images to search, as for 'dcgan train --data' (default: the checkpoint's training data)")
    p.add_argument("--data-root", metavar="DIR", help="folder holding named datasets (default: the checkpoint's, else $DCGAN_DATA_ROOT or ./data)")
    p.add_argument("--num-images", type=int, default=2000, metavar="N", help="images searched for each unit's strongest responses (default: 2000)")
    p.add_argument("--layer", type=int, default=-1, help="D conv layer: 0 is the first, -1 the last (default: -1)")
    p.add_argument("--units", default="0-5", help="feature maps to show: a range '0-5', a list '3,17' or both (default: 0-5, the paper's first six)")
    p.add_argument("--top-k", type=int, default=8, metavar="K", help="images shown per unit, strongest first; also used by the pointing game (default: 8)")
    p.add_argument("--pointing-units", default="all", help="units scored by the pointing game on rooms: 'all' or a range/list (default: all)")
    p.add_argument("--no-pointing", dest="pointing", action="store_false", help="skip the pointing game")
    p.add_argument("--random-seed", type=int, default=0, help="seed of the randomly initialised D shown beside the trained one (default: 0)")
    p.add_argument("--batch-size", type=int, default=128, help="images per forward/backward pass (does not change the results)")
    add_device_argument(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default: RUN/analysis/visualize/)")


def _units(text: str, flag: str) -> list[int]:
    from dcgan.errors import UserError
    from dcgan.latent import parse_seeds

    try:
        return list(dict.fromkeys(parse_seeds(text)))
    except UserError:
        raise UserError(f"cannot read {flag} {text!r}: use a range '0-5', a list '3,17,42' or both") from None


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import torch

    from dcgan.analysis.visualize import (
        check_layer,
        pointing_game,
        save_figure,
        search_images,
        unit_responses,
        unit_views,
    )
    from dcgan.checkpoint import discriminator_from_checkpoint, open_checkpoint, run_dir_of
    from dcgan.device import resolve_device
    from dcgan.errors import UserError
    from dcgan.models import build_models

    if args.num_images < 1 or args.top_k < 1 or args.batch_size < 1:
        raise UserError("--num-images, --top-k and --batch-size must be positive")
    units = _units(args.units, "--units")
    path, payload, cfg = open_checkpoint(args.checkpoint)
    device = resolve_device(args.device)
    trained = discriminator_from_checkpoint(payload, device)
    random_d = build_models(cfg.model, seed=args.random_seed)[1].to(device).eval()
    layer = check_layer(trained, args.layer)
    spec = args.data or cfg.data.spec
    images, masks, description = search_images(spec, args.data_root or cfg.data.data_root, cfg.model.image_size, cfg.model.channels, args.num_images)
    print(f"searching {len(images)} images: {description}")

    report: dict = {"checkpoint": str(path), "digest": payload["digest"], "step": payload.get("step"), "data": spec,
                    "data_description": description, "images": len(images), "layer": layer, "units": units,
                    "top_k": args.top_k, "random_seed": args.random_seed, "models": {}}
    panels = []
    for name, d in (("random", random_d), ("trained", trained)):
        responses = unit_responses(d, images, layer, args.batch_size)
        channels = responses[0].shape[1]
        views = unit_views(d, images, layer, units, args.top_k, responses, args.batch_size)
        entry = {"channels": channels, "top_images": views.image_index.tolist(),
                 "responses": [[round(v, 4) for v in row] for row in views.response.tolist()]}
        if masks is not None and args.pointing:
            chosen = list(range(channels)) if args.pointing_units.strip() == "all" else _units(args.pointing_units, "--pointing-units")
            every = unit_views(d, images, layer, chosen, args.top_k, responses, args.batch_size, keep_grads=False)
            entry["pointing"] = pointing_game(every, masks, images)
            p = entry["pointing"]
            print(f"{name} D: saliency peak on a window or bed in {100 * p['hit_rate']:.1f}% of {p['trials']} top responses "
                  f"({p['units']} units x {args.top_k}); chance {100 * p['chance']:.1f}%, the images' strongest edge {100 * p['edge_hit_rate']:.1f}%")
        report["models"][name] = entry
        panels.append((f"{name} D, layer {layer}", views))
    if masks is not None:
        union = torch.stack([m > 0.5 for m in masks.values()]).any(0)
        report["chance_all_images"] = float(union.float().mean())
    if masks is None and args.pointing:
        report["pointing_skipped"] = "the pointing game needs rooms data (object masks)"

    out = Path(args.out) if args.out else run_dir_of(path) / "analysis" / "visualize"
    out.mkdir(parents=True, exist_ok=True)
    save_figure(str(out / "figure.png"), panels, images)
    save_figure(str(out / "top_images.png"), panels, images, with_images=True)
    report["figure"], report["top_images_figure"] = str(out / "figure.png"), str(out / "top_images.png")
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"figure: {out / 'figure.png'}")
    print(f"results: {out / 'results.json'}")
    print(f"folder: {out}")
    return 0
