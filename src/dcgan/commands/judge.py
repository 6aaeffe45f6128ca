"""Judges: small classifiers that say what an image contains, to score generated images.

  dcgan judge train --data rooms --out judges/rooms-64.pt          # one head per factor + a localiser
  dcgan judge train --data ../shared/data/mnist.npz --image-size 32 --out judges/mnist-32.pt
  dcgan judge score judges/rooms-64.pt runs/00000-demo --seeds 0-999   # per-factor probabilities
  dcgan judge score judges/rooms-64.pt some_images/                      # a folder or one image file
  dcgan judge select judges/rooms-64.pt runs/00000-demo --query "window=2,wall=red" --count 8

'train' reports held-out accuracy per head in a JSON file next to the judge and refuses to save a
judge with any head below --min-accuracy (default 0.95). Held-out data: --val-data when given, else
the source's test split (rooms, .npz files and named sets), else 10% of the images held out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dcgan.commands import add_checkpoint_argument, add_device_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="judge_command", metavar="ACTION", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    t = sub.add_parser("train", help="train a judge on labelled data", description="Train a judge (one head per labelled factor); "
                       "for rooms also a window/bed/rug localiser.", formatter_class=fmt)
    t.add_argument("--data", default="rooms", metavar="SPEC", help="labelled data: rooms, an .npz with labels, an image folder "
                   "with one subfolder per class, or a torchvision name (default: rooms)")
    t.add_argument("--data-root", metavar="DIR", help="folder holding named datasets (default: $DCGAN_DATA_ROOT or ./data)")
    t.add_argument("--labels", metavar="A,B", help="factors to judge (default: every label the data has)")
    t.add_argument("--image-size", type=int, default=64, help="image size the judge works at (default: 64)")
    t.add_argument("--channels", type=int, choices=[1, 3], help="1 or 3 (default: from the data)")
    t.add_argument("--num-images", type=int, help="training images (default: 16,000 for rooms, all for other data)")
    t.add_argument("--val-data", metavar="SPEC", help="held-out data (default: the test split, else --val-fraction of the data)")
    t.add_argument("--val-fraction", type=float, default=0.1, help="share held out when there is no test split (default: 0.1)")
    t.add_argument("--val-images", type=int, default=2000, help="held-out rooms images (default: 2000)")
    t.add_argument("--epochs", type=int, default=2, help="passes over the training images (default: 2)")
    t.add_argument("--batch-size", type=int, default=128, help="images per step (default: 128)")
    t.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the one-cycle schedule (default: 0.003)")
    t.add_argument("--width", type=int, default=16, help="channels of the first layer (default: 16)")
    t.add_argument("--no-augment", dest="augment", action="store_false", help="train on clean images only (default: half of "
                   "each batch mildly blurred, noised and re-lit, so that generated images are judged by content)")
    t.add_argument("--min-accuracy", type=float, default=0.95, help="refuse to save when a head's held-out accuracy is below this (default: 0.95)")
    t.add_argument("--localiser-steps", type=int, default=600, help="rooms only: localiser training steps of 64 images; 0 for none (default: 600)")
    t.add_argument("--seed", type=int, default=0, help="seed of init and data order (default: 0)")
    add_device_argument(t)
    t.add_argument("--threads", type=int, help="CPU threads (default: torch's; 1 is fastest on a machine busy with other jobs)")
    t.add_argument("--out", metavar="PT", help="judge file to write (default: judges/<data>-<size>.pt); the report goes beside it as .json")
    t.set_defaults(_action=_train)

    s = sub.add_parser("score", help="per-factor probabilities of images or of a checkpoint's samples",
                       description="Score images with a judge: a folder of images, one image file, or a checkpoint with --seeds. "
                       "Prints the confident share and each factor's value histogram; writes every image's probabilities as JSON.",
                       formatter_class=fmt)
    s.add_argument("judge", metavar="JUDGE", help="judge file from 'dcgan judge train'")
    s.add_argument("target", metavar="IMAGES_OR_CKPT", help="image folder, image file, checkpoint file or run folder")
    s.add_argument("--seeds", default="0-999", help="checkpoint seeds to generate and score (default: 0-999)")
    s.add_argument("--threshold", type=float, default=0.9, help="'confident' means max probability above this on every head (default: 0.9)")
    s.add_argument("--resize", action="store_true", help="resize images to the judge's size instead of refusing other sizes")
    s.add_argument("--out", metavar="JSON", help="where to write the scores (default: RUN/analysis/judge-score/results.json for "
                   "a checkpoint, ./judge-scores.json for images)")
    add_device_argument(s)
    s.set_defaults(_action=_score)

    q = sub.add_parser("select", help="find a checkpoint's seeds whose samples match a query such as 'window=2,wall=red'",
                       description="Generate samples seed by seed from --start-seed and keep the first --count whose judged "
                       "factors match --query (each clause with probability >= --min-prob). Query: factor=value, "
                       "factor!=value or factor=a|b, joined by commas.", formatter_class=fmt)
    q.add_argument("judge", metavar="JUDGE", help="judge file")
    add_checkpoint_argument(q)
    q.add_argument("--query", required=True, help="e.g. 'window=2,wall=red' or 'bed!=none,light=night'")
    q.add_argument("--count", type=int, default=16, help="seeds to find (default: 16)")
    q.add_argument("--start-seed", type=int, default=0, help="first seed to try (default: 0)")
    q.add_argument("--max-seeds", type=int, default=20000, help="give up after trying this many seeds (default: 20000)")
    q.add_argument("--min-prob", type=float, default=0.9, help="probability each clause must reach (default: 0.9)")
    q.add_argument("--grid", metavar="PNG", help="grid of the selected samples (default: RUN/analysis/judge-select/<query>.png)")
    add_device_argument(q)
    q.set_defaults(_action=_select)


def run(args: argparse.Namespace) -> int:
    return args._action(args)


def _write_json(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")
    return path


def _load_labelled(spec: str, args: argparse.Namespace, split_default_num: int | None):
    from dcgan.config import DataConfig
    from dcgan.data import load_data

    return load_data(DataConfig(spec=spec, data_root=args.data_root, image_size=args.image_size, channels=args.channels,
                                num_images=split_default_num))


def _has_test_split(spec: str) -> bool:
    """Return True for sources whose ':test' split is real data of its own (not a folder, which has none)."""
    from dcgan.data import split_spec
    from dcgan.data.named import is_named

    source, split = split_spec(spec)
    return split == "train" and (source == "rooms" or source.startswith("rooms:") or source.lower().endswith(".npz") or is_named(source))


def _train(args: argparse.Namespace) -> int:
    import re

    import torch

    from dcgan.config import check_image_size
    from dcgan.data import split_spec
    from dcgan.errors import UserError
    from dcgan.judges import TrainSettings, pick_factors, save_judge, train_judge, train_localiser

    check_image_size(args.image_size)
    for name in ("epochs", "batch_size", "width", "val_images"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be positive")
    if args.num_images is not None and args.num_images < 2:
        raise UserError("--num-images must be at least 2")
    if not 0 < args.val_fraction < 1:
        raise UserError("--val-fraction must be between 0 and 1")
    if not 0 <= args.min_accuracy <= 1:
        raise UserError("--min-accuracy must be between 0 and 1")
    if args.localiser_steps < 0:
        raise UserError("--localiser-steps must not be negative")
    source, split = split_spec(args.data)
    rooms = source == "rooms" or source.startswith("rooms:")
    out = Path(args.out) if args.out else Path("judges") / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', Path(source).stem or source)}-{args.image_size}.pt"
    if out.suffix != ".pt":
        raise UserError(f"--out {out}: give a .pt file name (the report goes beside it as .json)")
    train = _load_labelled(args.data, args, args.num_images or (16_000 if rooms else None))
    factors = pick_factors(train, [f.strip() for f in args.labels.split(",") if f.strip()] if args.labels else None)
    if args.val_data:
        val = _load_labelled(args.val_data, args, None)
    elif _has_test_split(args.data):
        test_spec = f"{source}:test"
        try:
            val = _load_labelled(test_spec, args, args.val_images if rooms else None)
        except UserError:
            val = None
        if val is not None:
            print(f"held-out data: {val.description}")
    else:
        val = None
    if val is None:
        gen = torch.Generator().manual_seed(args.seed)
        order = torch.randperm(len(train), generator=gen)
        n_val = max(1, int(len(train) * args.val_fraction))
        val, train = train.subset(order[:n_val]), train.subset(order[n_val:])
        print(f"held-out data: {n_val} of the images ({args.val_fraction:.0%}), chosen with seed {args.seed}")
    print(f"training data: {train.description}; judging {', '.join(factors)}")
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, width=args.width, seed=args.seed,
                             augment=args.augment,
                             min_accuracy=args.min_accuracy, localiser_steps=args.localiser_steps if rooms else 0,
                             device=args.device, threads=args.threads)
    judge, report = train_judge(train, val, factors, settings)
    for f, acc in report["accuracy"].items():
        print(f"  {f:<10} held-out accuracy {100 * acc:.2f}%{'' if acc >= args.min_accuracy else '  BELOW ' + str(args.min_accuracy)}")
    report["data"] = args.data
    report["saved"] = False
    report_path = out.with_suffix(".json")
    if not report["passed"]:
        _write_json(report_path, report)
        low = ", ".join(f"{f} {100 * a:.1f}%" for f, a in report["accuracy"].items() if a < args.min_accuracy)
        raise UserError(f"not saving the judge: held-out accuracy below {args.min_accuracy:.0%} for {low} (report: {report_path}); "
                        "train longer (--epochs), on more images (--num-images), or lower --min-accuracy knowingly")
    if settings.localiser_steps:
        from dcgan.data.rooms import parse_rooms_spec

        judge.localiser = train_localiser(args.image_size, train.channels, settings, parse_rooms_spec(source)["seed"])
        report["localiser"] = judge.localiser.report
        print("  localiser held-out IoU: " + ", ".join(f"{o} {v:.3f}" for o, v in judge.localiser.report["iou"].items()))
    report["saved"] = True
    judge.report = report
    print(f"judge: {save_judge(out, judge)}")
    print(f"report: {_write_json(report_path, report)}")
    return 0


def _read_images(target: Path, size: int, channels: int, resize: bool):
    """Return (uint8 images, names) from an image file or a folder (recursive), checked against the judge's size."""
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    from dcgan.data.base import fit_images
    from dcgan.data.folder import list_images
    from dcgan.errors import UserError

    files = [target] if target.is_file() else list_images(target)
    if not files:
        raise UserError(f"no images in {target}")
    images, names = [], []
    for f in files:
        try:
            with Image.open(f) as img:
                arr = np.asarray(img.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise UserError(f"cannot read image {f}: {exc}") from None
        x = torch.from_numpy(np.ascontiguousarray(arr[None] if channels == 1 else arr.transpose(2, 0, 1))).unsqueeze(0)
        if x.shape[-2:] != (size, size):
            if not resize:
                raise UserError(f"{f} is {x.shape[-1]}x{x.shape[-2]} but the judge was trained on {size}x{size} images: "
                                f"pass --resize to resize (judgements of resized images are less reliable), or train a judge "
                                f"at that size (dcgan judge train --image-size {x.shape[-1]})")
            x = fit_images(x, size)
        images.append(x)
        names.append(str(f.relative_to(target)) if target.is_dir() else f.name)
    return torch.cat(images), names


def _score(args: argparse.Namespace) -> int:
    from dcgan.analysis.common import load_for_analysis
    from dcgan.checkpoint import run_dir_of
    from dcgan.device import resolve_device
    from dcgan.errors import UserError
    from dcgan.judges import format_summary, load_judge, summarise
    from dcgan.latent import parse_seeds, z_from_seeds
    from dcgan.sampling import generate

    device = resolve_device(args.device)
    judge = load_judge(args.judge, device)
    target = Path(args.target)
    if not target.exists():
        raise UserError(f"nothing at {target}: give an image folder, an image file, a checkpoint or a run folder")
    is_ckpt = target.suffix == ".pt" or (target.is_dir() and (target / "checkpoints").is_dir())
    if is_ckpt:
        loaded = load_for_analysis(target, device)
        path, model = loaded.path, loaded.model
        if model.image_size != judge.image_size or model.channels != judge.channels:
            raise UserError(f"{path} makes {model.image_size}x{model.image_size}x{model.channels} images but the judge was trained on "
                            f"{judge.image_size}x{judge.image_size}x{judge.channels}: use a judge trained at that size "
                            f"(dcgan judge train --image-size {model.image_size})")
        seeds = parse_seeds(args.seeds)
        images = generate(loaded.generator, z_from_seeds(seeds, model.z_dim, model.z_dist))
        names = [f"seed-{s}" for s in seeds]
        out = Path(args.out) if args.out else run_dir_of(path) / "analysis" / "judge-score" / "results.json"
    else:
        images, names = _read_images(target, judge.image_size, judge.channels, args.resize)
        out = Path(args.out) if args.out else Path("judge-scores.json")
    probs = judge.predict(images)
    summary = summarise(judge, probs, args.threshold)
    print(format_summary(summary))
    confident = judge.confident(probs, args.threshold).tolist()
    values = judge.value_names
    per_image = [
        {"name": name, "confident": confident[i],
         "labels": {f: values[f][int(p[i].argmax())] for f, p in probs.items()},
         "probs": {f: [round(float(v), 5) for v in p[i]] for f, p in probs.items()}}
        for i, name in enumerate(names)
    ]
    result = {"judge": str(args.judge), "target": str(target), "summary": summary, "images": per_image}
    print(f"results: {_write_json(out, result)}")
    return 0


def _select(args: argparse.Namespace) -> int:
    import re

    from dcgan.analysis.common import load_for_analysis
    from dcgan.checkpoint import run_dir_of
    from dcgan.device import resolve_device
    from dcgan.errors import UserError
    from dcgan.images import save_grid
    from dcgan.judges import load_judge, parse_query, select_seeds
    from dcgan.latent import z_from_seeds
    from dcgan.sampling import generate

    if args.count < 1 or args.max_seeds < 1 or args.start_seed < 0:
        raise UserError("--count and --max-seeds must be positive and --start-seed not negative")
    if not 0 < args.min_prob <= 1:
        raise UserError("--min-prob must be in (0, 1]")
    query = parse_query(args.query)
    device = resolve_device(args.device)
    judge = load_judge(args.judge, device)
    loaded = load_for_analysis(args.checkpoint, device)
    path, model, g = loaded.path, loaded.model, loaded.generator
    seeds = select_seeds(g, model, judge, query, args.count, args.start_seed, args.max_seeds, args.min_prob)
    text = ",".join(map(str, query))
    folder = run_dir_of(path) / "analysis" / "judge-select"
    slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", text)
    grid = Path(args.grid) if args.grid else folder / f"{slug}.png"
    images = generate(g, z_from_seeds(seeds, model.z_dim, model.z_dist))
    print(f"seeds: {','.join(map(str, seeds))}")
    print(f"grid: {save_grid(images, grid)}")
    result = {"query": text, "min_prob": args.min_prob, "start_seed": args.start_seed, "seeds": seeds,
              "checkpoint": str(path), "judge": str(args.judge)}
    print(f"results: {_write_json(folder / 'results.json' if not args.grid else grid.with_suffix('.json'), result)}")
    return 0
