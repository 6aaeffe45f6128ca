"""One module per ``dcgan`` subcommand: ``add_arguments(parser)`` and ``run(args)``; the arguments they share."""

from __future__ import annotations

import argparse


def add_checkpoint_argument(p: argparse.ArgumentParser) -> None:
    """The positional CKPT every checkpoint tool takes."""
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint file or run folder (uses its latest.pt)")


def add_device_argument(p: argparse.ArgumentParser) -> None:
    """``--device``, resolved later by :func:`dcgan.device.resolve_device`."""
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
