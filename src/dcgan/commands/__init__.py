"""One module per ``dcgan`` subcommand: ``add_arguments(parser)`` and ``run(args)``; the arguments they share.

Commands only parse flags, build a tool's settings (:mod:`dcgan.settings`), call the library and print
paths. Nothing here imports torch, so ``dcgan --help`` stays fast; the library is imported when a command runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

from dcgan.settings import Settings, add_arguments, from_args


def add_checkpoint_argument(p: argparse.ArgumentParser) -> None:
    """The positional CKPT every checkpoint tool takes."""
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint file or run folder (uses its latest.pt)")


def add_device_argument(p: argparse.ArgumentParser) -> None:
    """``--device``, resolved later by :func:`dcgan.device.resolve_device`."""
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")


def add_out_argument(p: argparse.ArgumentParser, tool: str) -> None:
    """``--out DIR``: where results go instead of the per-checkpoint analysis folder."""
    p.add_argument("--out", metavar="DIR", help=f"output folder (default: RUN/analysis/{tool}/, plus the checkpoint name unless latest.pt)")


def add_label_argument(p: argparse.ArgumentParser) -> None:
    """``--label K`` (dest ``draw_label``): the class a conditional model draws every image as."""
    p.add_argument("--label", dest="draw_label", type=int, metavar="K", help="class to draw, for a conditional model "
                   "(dcgan train --conditional); default: image i of a batch is class i mod the class count")


def library(target: str) -> Callable[..., Any]:
    """Import ``'package.module:function'`` when a command runs (not when the parser is built)."""
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def analysis_command(tool: str, settings: type[Settings], function: str, judge: str | None = None,
                     ) -> tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]:
    """Return (add_arguments, run) of a checkpoint tool: CKPT + settings flags [+ --judge] + --out + --device.

    ``run`` opens the checkpoint (and judge), calls ``function(model, settings[, judge=])``, saves the result
    through :func:`dcgan.report.save`, prints the result's lines and the paths written.
    """

    own_label = "label" in {f.name for f in dataclasses.fields(settings)}

    def add(p: argparse.ArgumentParser) -> None:
        add_checkpoint_argument(p)
        add_arguments(p, settings)
        if judge is not None:
            p.add_argument("--judge", metavar="JUDGE", help=judge)
        add_out_argument(p, tool)
        add_device_argument(p)
        if not own_label:  # a tool with its own --label (probe: a label factor) keeps it
            add_label_argument(p)

    def run(args: argparse.Namespace) -> int:
        from dcgan import api, report

        chosen = from_args(settings, args)  # validated before anything is opened or written
        model = api.load(args.checkpoint, args.device, label=getattr(args, "draw_label", None))
        extra = {"judge": api.load_judge(args.judge, model) if args.judge else None} if judge is not None else {}
        result = library(function)(model, chosen, **extra)
        for line in result.lines():
            print(line)
        report.save(result, args.out).announce()
        return 0

    return add, run
