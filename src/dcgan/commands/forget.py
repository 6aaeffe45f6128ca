"""Make the generator "forget" an object (paper section 6.3.1): on generated samples, boxes of the object
(hand-drawn in a JSON file, or found by a rooms judge's localiser); a logistic regression on G's
second-highest conv layer separates feature vectors inside the boxes from random other positions of
the same images; every feature map with a positive weight is zeroed everywhere; the same seeds are
generated again.

With a judge, the effect is measured on fresh seeds: the share of samples showing the object before
and after, whether every other factor (bed, wall colour, ...) stays, and the same for a control that
drops as many randomly chosen maps.

Examples:
  dcgan forget runs/00000-dcgan --object window --judge judges/rooms-64.pt
  dcgan forget runs/00000-dcgan --object window --boxes my_boxes.json            # hand-drawn boxes, no judge
  dcgan sample runs/00000-dcgan --seeds 0-63 --drop runs/00000-dcgan/analysis/forget/dropped.json

Writes RUN/analysis/forget/: figure.png (rows: original / maps dropped / random control), dropped.json
(the dropped maps, for 'dcgan sample --drop') and results.json.
"""

from __future__ import annotations

import argparse

from dcgan.commands import add_checkpoint_argument, add_device_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_checkpoint_argument(p)
    p.add_argument("--object", default="window", help="what to forget: the object the boxes show (default: window)")
    p.add_argument("--boxes", metavar="JSON", help="hand-drawn boxes per seed (format in the README); their seeds are the samples used")
    p.add_argument("--judge", metavar="PATH", help="judge file: its localiser finds the boxes when --boxes is not given, and it measures the effect")
    p.add_argument("--seeds", default="0-149", help="samples whose boxes train the regression, with the localiser (default: 0-149, the paper's 150)")
    p.add_argument("--layer", type=int, help="G stage whose maps are dropped, an index into [project, blocks..., to_image] "
                                             "(default: -3, the second-highest conv layer as in the paper)")
    p.add_argument("--C", dest="c", type=float, default=1.0, help="inverse L2 regularisation of the logistic regression (default: 1.0)")
    p.add_argument("--max-maps", type=int, metavar="N", help="drop only the N maps with the largest positive weights (default: all with a positive weight, as in the paper)")
    p.add_argument("--no-renorm", dest="renorm", action="store_false",
                   help="keep G's BatchNorm statistics after the drop (default: re-estimate those of the later layers on the "
                        "dropped generator, as the paper's batch-statistics generator did implicitly)")
    p.add_argument("--negatives", type=float, default=1.0, help="negatives per positive, from the same images (default: 1)")
    p.add_argument("--eval-seeds", default="100000-100499", help="fresh seeds on which the judge measures the effect (default: 100000-100499)")
    p.add_argument("--control-draws", type=int, default=3, help="random drop sets of the same size, averaged, as the control (default: 3)")
    p.add_argument("--figure-count", type=int, default=10, help="samples in the figure (default: 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the negative positions and of the control's random maps (default: 0)")
    p.add_argument("--batch-size", type=int, default=256, help="images generated at once (does not change the images)")
    add_device_argument(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default: RUN/analysis/forget/)")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import numpy as np
    import torch

    from dcgan.analysis import forget as fg
    from dcgan.analysis.common import load_for_analysis
    from dcgan.checkpoint import run_dir_of
    from dcgan.device import resolve_device
    from dcgan.errors import UserError
    from dcgan.judges import load_judge
    from dcgan.latent import parse_seeds, z_from_seeds
    from dcgan.sampling import generate

    if args.boxes is None and args.judge is None:
        raise UserError("give --boxes FILE (hand-drawn boxes) or --judge PATH (a rooms judge whose localiser finds them)")
    if args.max_maps is not None and args.max_maps < 1:
        raise UserError("--max-maps must be positive")
    if args.c <= 0 or args.negatives <= 0 or args.batch_size < 1 or args.figure_count < 1 or args.control_draws < 0:
        raise UserError("--C, --negatives, --batch-size and --figure-count must be positive, --control-draws not negative")
    device = resolve_device(args.device)
    loaded = load_for_analysis(args.checkpoint, device)
    path, payload, model, g = loaded.path, loaded.payload, loaded.model, loaded.generator
    layer = fg.resolve_layer(g, fg.DEFAULT_LAYER if args.layer is None else args.layer)
    layer_name = fg.layer_names(g)[layer]
    judge = load_judge(args.judge, device) if args.judge else None

    def images_of(seeds: list[int]) -> torch.Tensor:
        return generate(g, z_from_seeds(seeds, model.z_dim, model.z_dist), args.batch_size)

    # 1. Boxes on the fitting samples.
    if args.boxes:
        obj, size, by_seed = fg.load_boxes_file(args.boxes)
        if obj is not None and obj != args.object:
            raise UserError(f"boxes file {args.boxes} shows {obj!r}, not --object {args.object!r}")
        if size is not None and size != model.image_size:
            raise UserError(f"boxes file {args.boxes} was drawn on {size}x{size} images; this G makes {model.image_size}x{model.image_size}")
        seeds = sorted(by_seed)
        boxes = [by_seed[s] for s in seeds]
        source = f"file {args.boxes}"
    else:
        seeds = parse_seeds(args.seeds)
        boxes = fg.localiser_boxes(judge, images_of(seeds), args.object)
        source = f"localiser of judge {args.judge}"
    print(f"{sum(map(len, boxes))} {args.object} boxes on {sum(1 for b in boxes if b)} of {len(seeds)} samples ({source})")

    # 2. Logistic regression on the layer's feature vectors; the maps with a positive weight are dropped.
    acts = fg.layer_activations(g, z_from_seeds(seeds, model.z_dim, model.z_dist), layer, args.batch_size)
    where, y = fg.sample_locations(boxes, model.image_size, acts.shape[-1], args.seed, args.negatives)
    fit = fg.fit_drop_set(fg.features_at(acts, where), y, where[:, 0], args.c, args.seed)
    maps, channels = fg.strongest_maps(fit["weights"], args.max_maps), acts.shape[1]
    print(f"logistic regression on {layer_name} ({channels} maps, {acts.shape[-1]}x{acts.shape[-1]}): {fit['positives']} positives, "
          f"{fit['negatives']} negatives, held-out accuracy {fit['cv_accuracy'] if fit['cv_accuracy'] is None else round(fit['cv_accuracy'], 3)}; "
          f"{len(fit['maps'])} maps have a positive weight, {len(maps)} are dropped")

    out = Path(args.out) if args.out else run_dir_of(path) / "analysis" / "forget"
    out.mkdir(parents=True, exist_ok=True)
    controls = [fg.random_maps(channels, len(maps), args.seed + 1 + i) for i in range(args.control_draws)]
    renorm_z = z_from_seeds(fg.RENORM_SEEDS, model.z_dim, model.z_dist)

    def renorm(dropped: list[int]) -> dict | None:
        return fg.renorm_stats(g, layer, dropped, renorm_z) if args.renorm else None

    drops = {"dropped": (maps, renorm(maps)), **{f"control{i}": (c, renorm(c)) for i, c in enumerate(controls)}}
    drop_file = fg.save_drop_file(out / "dropped.json", checkpoint=str(path.resolve()), digest=payload["digest"], layer=layer,
                                  layer_name=layer_name, channels=channels, maps=maps, obj=args.object, renorm=drops["dropped"][1])
    report: dict = {
        "checkpoint": str(path), "digest": payload["digest"], "step": payload.get("step"), "object": args.object,
        "layer": layer, "layer_name": layer_name, "layer_shape": list(acts.shape[1:]), "boxes_source": source,
        "fit_seeds": seeds, "samples_with_boxes": sum(1 for b in boxes if b), "boxes": sum(map(len, boxes)),
        "fit": fit, "max_maps": args.max_maps, "dropped_maps": maps, "dropped_count": len(maps),
        "channels": channels, "drop_file": str(drop_file), "control_maps": controls, "renorm": args.renorm,
    }

    # 3. The figure: the same seeds without and with the dropped maps (and one random control).
    with_object = [s for s, b in zip(seeds, boxes, strict=True) if b] or seeds
    fig_seeds = with_object[: args.figure_count]
    rows = [("original", images_of(fig_seeds))]
    with fg.drop_maps(g, layer, *drops["dropped"]):
        rows.append((f"{len(maps)} maps dropped", images_of(fig_seeds)))
    if controls:
        with fg.drop_maps(g, layer, *drops["control0"]):
            rows.append((f"{len(maps)} random maps", images_of(fig_seeds)))
    report["figure_seeds"] = fig_seeds
    report["figure"] = str(fg.save_figure(out / "figure.png", rows, fig_seeds))

    # 4. The measurement on fresh seeds, with the judge.
    if judge is not None:
        if args.object not in judge.value_names:
            report["measure_skipped"] = f"the judge has no {args.object!r} factor"
        else:
            eval_seeds = parse_seeds(args.eval_seeds)
            report["measure"] = measure(judge, images_of, g, layer, drops, eval_seeds, args.object)
            print_summary(report["measure"], args.object, len(maps), channels)
    (out / "results.json").write_text(json.dumps(report, indent=2, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o)) + "\n")
    print(f"figure: {report['figure']}")
    print(f"dropped maps: {drop_file}")
    print(f"results: {out / 'results.json'}")
    print(f"folder: {out}")
    return 0


def measure(judge, images_of, g, layer: int, drops: dict, seeds: list[int], obj: str) -> dict:
    """Return the judge's comparison of the seeds before / after the drop ``drops['dropped']``, and the random controls' mean.

    ``drops``: {"dropped": (maps, renorm), "control0": (maps, renorm), ...}.
    """
    import numpy as np

    from dcgan.analysis import forget as fg

    before_images = images_of(seeds)
    with fg.drop_maps(g, layer, *drops["dropped"]):
        after_images = images_of(seeds)
    probs = {"before": judge.predict(before_images), "dropped": judge.predict(after_images)}
    before = judge.labels(probs["before"])
    result = {"seeds": f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else seeds, "count": len(seeds),
              "dropped": fg.compare(judge, before, judge.labels(probs["dropped"]))}
    has_pixels = judge.localiser is not None and obj in judge.localiser.objects

    def pixel_share(images) -> float:  # share of pixels the localiser finds showing the object
        return float((judge.localiser.masks(images)[obj] > 0.5).float().mean())

    draws, control_pixels, control_confident = [], [], []
    for name, control in drops.items():
        if name == "dropped":
            continue
        with fg.drop_maps(g, layer, *control):
            images = images_of(seeds)
        control_probs = judge.predict(images)
        draws.append(fg.compare(judge, before, judge.labels(control_probs)))
        control_confident.append(float(judge.confident(control_probs).float().mean()))
        if has_pixels:
            control_pixels.append(pixel_share(images))
    if draws:
        result["control"] = fg.mean_of(draws)
        result["control_draws"] = draws
    # Still rooms? The share of samples the judge is confident about on every head, before and after.
    result["confident_share"] = {k: float(judge.confident(p).float().mean()) for k, p in probs.items()}
    if control_confident:
        result["confident_share"]["control"] = float(np.mean(control_confident))
    if has_pixels:
        result["pixel_share"] = {"before": pixel_share(before_images), "dropped": pixel_share(after_images)}
        if control_pixels:
            result["pixel_share"]["control"] = float(np.mean(control_pixels))
    return result


def print_summary(m: dict, obj: str, count: int, channels: int) -> None:
    """Print the headline numbers of ``measure``."""
    d, c = m["dropped"], m.get("control")

    def pct(x: float) -> str:
        return f"{100 * x:.1f}%"

    ctrl = f"; {count} random maps: {pct(c[obj]['present_after'])}" if c and "present_after" in c[obj] else ""
    if "present_before" in d[obj]:
        print(f"{obj}: {pct(d[obj]['present_before'])} of {m['count']} fresh samples before, {pct(d[obj]['present_after'])} "
              f"after dropping {count} of {channels} maps{ctrl}")
    px = m.get("pixel_share")
    if px:
        ctl_px = f"; random maps: {100 * px['control']:.2f}%" if "control" in px else ""
        print(f"{obj} pixels (localiser): {100 * px['before']:.2f}% of the image before, {100 * px['dropped']:.2f}% after{ctl_px}")
    for f, entry in d.items():
        if f == obj:
            continue
        extra = f", present {pct(entry['present_before'])} -> {pct(entry['present_after'])}" if "present_before" in entry else ""
        ctl = f" (control {pct(c[f]['kept'])})" if c else ""
        print(f"  {f}: same value kept in {pct(entry['kept'])}{ctl}{extra}")
