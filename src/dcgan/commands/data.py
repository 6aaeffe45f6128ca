"""Look at training data before training on it.

  dcgan data preview rooms                         # 32 procedural rooms with their labels under each tile
  dcgan data preview rooms:test --count 64 --out rooms.png
  dcgan data preview ./data/mnist.npz --image-size 32 --labels label
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from dcgan.settings import add_arguments as add_settings
from dcgan.settings import from_args
from dcgan.settings.data import PreviewSettings


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    v = sub.add_parser("preview", help="write a grid of a data source's images with their labels under each tile",
                       description="Write a grid PNG of the first --count images of SPEC (from --start), each tile with its "
                       "labels written under it.", formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("spec", metavar="SPEC", help=PreviewSettings.__dataclass_fields__["spec"].metadata["help"])
    add_settings(v, PreviewSettings, skip=("spec",))
    v.add_argument("--out", metavar="PNG", help="where to write the grid (default: preview-<spec>.png)")


def run(args: argparse.Namespace) -> int:
    from dcgan.data.preview import preview
    from dcgan.report import make_folder

    settings = from_args(PreviewSettings, args)
    name = re.sub(r"[^A-Za-z0-9_.=-]+", "-", Path(settings.spec).name or settings.spec)
    out = Path(args.out) if args.out else Path(f"preview-{name}.png")
    make_folder(out.parent)
    grid, description = preview(settings)
    grid.save(out)
    print(f"data: {description}")
    print(f"grid: {out}")
    return 0
