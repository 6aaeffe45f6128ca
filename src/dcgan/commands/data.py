"""Look at, pack and de-duplicate training data.

  dcgan data preview rooms                         # 32 procedural rooms with their labels under each tile
  dcgan data pack ./my_photos packs/photos-64 --image-size 64     # decode once; then: dcgan train --data packs/photos-64
  dcgan data dedup packs/photos-64 --out dedup-photos --write-clean packs/photos-64-clean
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from dcgan.settings import add_arguments as add_settings
from dcgan.settings import from_args
from dcgan.settings.data import DedupSettings, PackSettings, PreviewSettings


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    v = sub.add_parser("preview", help="write a grid of a data source's images with their labels under each tile",
                       description="Write a grid PNG of the first --count images of SPEC (from --start), each tile with its "
                       "labels written under it.", formatter_class=argparse.RawDescriptionHelpFormatter)
    _positionals(v, PreviewSettings, spec="SPEC")
    v.add_argument("--out", metavar="PNG", help="where to write the grid (default: preview-<spec>.png)")
    v.set_defaults(_action=_preview)
    k = sub.add_parser("pack", help="decode SRC once into a memory-mapped pack that --data OUT trains from", description="Decode SRC "
                       "once, in parallel and resumably, into OUT (images.npy, labels.npz, dataset.json with provenance); see docs/data.md.")
    _positionals(k, PackSettings, src="SRC", out="OUT")
    k.set_defaults(_action=_pack)
    d = sub.add_parser("dedup", help="find near-duplicates with the paper's semantic hash (duplicates.json, groups.png)",
                       description="The paper's semantic hash (a 3072-128-3072 denoising autoencoder on 32x32 centre crops, "
                       "binarised ReLU code) and hash buckets, no all-pairs step; see docs/data.md.")
    _positionals(d, DedupSettings, spec="SPEC")
    d.add_argument("--out", metavar="DIR", help="folder for duplicates.json, groups.png and results.json (default: dedup-<spec>)")
    d.set_defaults(_action=_dedup)


def _positionals(p: argparse.ArgumentParser, cls: type, **metavars: str) -> None:
    for name, metavar in metavars.items():
        p.add_argument(name, metavar=metavar, help=cls.__dataclass_fields__[name].metadata["help"])
    add_settings(p, cls, skip=tuple(metavars))


def _name(spec: str) -> str:  # a file-name-safe form of a SPEC, for default output names
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", Path(spec).name or spec)


def run(args: argparse.Namespace) -> int:
    return args._action(args)  # the ACTION's function, set by its parser


def _preview(args: argparse.Namespace) -> int:
    from dcgan.data.preview import preview
    from dcgan.report import make_folder

    settings = from_args(PreviewSettings, args)
    out = Path(args.out) if args.out else Path(f"preview-{_name(settings.spec)}.png")
    make_folder(out.parent)
    grid, description = preview(settings)
    grid.save(out)
    return print(f"data: {description}\ngrid: {out}") or 0


def _pack(args: argparse.Namespace) -> int:
    from dcgan.data.pack import pack

    r = pack(from_args(PackSettings, args))
    return print("\n".join(r.lines()) + f"\npack: {r.out}\ntrain with: dcgan train --data {r.out} --image-size {r.image_size}") or 0


def _dedup(args: argparse.Namespace) -> int:
    from dcgan.data.dedup import dedup
    from dcgan.report import save

    result = dedup(settings := from_args(DedupSettings, args))
    print("\n".join(result.lines()))
    save(result, args.out or f"dedup-{_name(settings.spec)}").announce()
    return 0
