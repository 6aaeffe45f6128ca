"""Look at training data before training on it.

  dcgan data preview rooms                         # 32 procedural rooms with their labels under each tile
  dcgan data preview rooms:test --count 64 --out rooms.png
  dcgan data preview ../shared/data/mnist.npz --image-size 32 --labels label
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    v = sub.add_parser("preview", help="write a grid of a data source's images with their labels under each tile",
                       description="Write a grid PNG of the first --count images of SPEC (from --start), each tile with its "
                       "labels written under it.", formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("spec", metavar="SPEC", help="rooms, rooms:test, an image folder, an .npz file, a torchvision name, fake")
    v.add_argument("--data-root", metavar="DIR", help="folder holding named datasets (default: $DCGAN_DATA_ROOT or ./data)")
    v.add_argument("--image-size", type=int, default=64, help="size to show the images at (default: 64)")
    v.add_argument("--count", type=int, default=32, help="images to show (default: 32)")
    v.add_argument("--start", type=int, default=0, help="first image (default: 0)")
    v.add_argument("--nrow", type=int, default=8, help="tiles per row (default: 8)")
    v.add_argument("--labels", metavar="A,B", help="labels to print (default: all, at most 8)")
    v.add_argument("--scale", type=int, help="enlarge each tile this many times (default: to at least 128 pixels)")
    v.add_argument("--out", metavar="PNG", help="where to write the grid (default: preview-<spec>.png)")
    v.set_defaults(_action=_preview)


def run(args: argparse.Namespace) -> int:
    return args._action(args)


def _preview(args: argparse.Namespace) -> int:
    from dcgan.config import DataConfig
    from dcgan.data import load_data
    from dcgan.errors import UserError
    from dcgan.images import labelled_grid

    if args.count < 1 or args.start < 0 or args.nrow < 1:
        raise UserError("--count and --nrow must be positive and --start not negative")
    data = load_data(DataConfig(spec=args.spec, data_root=args.data_root, image_size=args.image_size, num_images=args.start + args.count))
    if args.start >= len(data):
        raise UserError(f"--start {args.start} is past the end of {data.description}")
    data = data.subset(slice(args.start, args.start + args.count))
    names = list(data.labels)
    if args.labels:
        names = [n.strip() for n in args.labels.split(",") if n.strip()]
        missing = [n for n in names if n not in data.labels]
        if missing:
            raise UserError(f"no labels {', '.join(missing)} in {data.description}: it has {', '.join(data.labels) or 'none'}")
    names = names[:8]
    captions = []
    for i in range(len(data)):
        lines = []
        for n in names:
            value = int(data.labels[n][i])
            value_names = data.label_names.get(n) or []
            shown = value_names[value] if 0 <= value < len(value_names) else str(value)
            lines.append(shown if n == "label" else f"{n}={shown}")
        captions.append(lines)
    scale = args.scale or max(1, -(-128 // data.image_size))
    out = Path(args.out) if args.out else Path(f"preview-{re.sub(r'[^A-Za-z0-9_.=-]+', '-', Path(args.spec).name or args.spec)}.png")
    labelled_grid(data.images, captions, args.nrow, scale).save(out)
    print(f"data: {data.description}")
    print(f"grid: {out}")
    return 0
