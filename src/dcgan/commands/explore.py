"""Explore a checkpoint in a local web page: samples, walks, arithmetic, directions, forgetting, inside D.

Starts a server on this machine (127.0.0.1 unless --host is given) and prints its URL. The page works with
no network: every asset ships in the package. Every panel shows the dcgan command that makes the same
picture. With no CKPT it opens a small rooms model and rooms judge that ship inside the package.
Needs the extra: pip install 'dcgan[explore]'.

Examples:
  dcgan explore                                                    # the bundled rooms model and judge
  dcgan explore runs/00000-demo --judge judges/rooms-32.pt --open
  dcgan explore runs/00000-demo --drop runs/00000-demo/analysis/forget/dropped.json --port 8001
"""

from __future__ import annotations

import argparse

from dcgan.commands import add_device_argument, library
from dcgan.settings import add_arguments as add_settings_arguments
from dcgan.settings import from_args
from dcgan.settings.explore import ExploreSettings


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", metavar="CKPT", nargs="?", default=None,
                   help="checkpoint file or run folder (default: the small rooms model bundled with dcgan)")
    add_settings_arguments(p, ExploreSettings)
    add_device_argument(p)


def run(args: argparse.Namespace) -> int:
    settings = from_args(ExploreSettings, args)  # validated before anything is opened
    library("dcgan.explore:serve")(args.checkpoint, settings, args.device)
    return 0
