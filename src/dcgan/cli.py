"""The ``dcgan`` command line: one subcommand per tool. Parsing only; the work lives in the library.

Each subcommand is a module in ``dcgan.commands`` with ``add_arguments(parser)`` and ``run(args)``;
those modules import torch lazily so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dcgan import __version__
from dcgan.errors import UserError

# name -> (module, one-line help). Add a tool by adding a line here and a module in dcgan/commands/.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("dcgan.commands.train", "train a DCGAN (paper defaults built in), or resume a run"),
    "sample": ("dcgan.commands.sample", "generate images from a checkpoint: a grid and/or one PNG per seed"),
    "data": ("dcgan.commands.data", "data tools: preview a source, pack it once into a memory-mapped store, find near-duplicates (semantic hash)"),
    "judge": ("dcgan.commands.judge", "judges: train classifiers of labelled factors (+ rooms localiser), score images, select seeds by query"),
    "eval": ("dcgan.commands.eval", "score a checkpoint: FID (Inception) or FD-judge/FD-dfeat/FD-random, KID, precision/recall/density/coverage"),
    "probe": ("dcgan.commands.probe", "linear probe: classify labelled images with D's features (+ random-D and pixel baselines)"),
    "visualize": ("dcgan.commands.visualize", "guided back-propagation of D's units on their top images, trained vs random D (+ rooms pointing game)"),
    "forget": ("dcgan.commands.forget", "make G forget an object: drop the feature maps a logistic regression ties to its boxes, and measure it"),
    "walk": ("dcgan.commands.walk", "walk the latent space between random codes (slerp or lerp): grid + GIF, judged smoothness"),
    "arithmetic": ("dcgan.commands.arithmetic", "vector arithmetic on codes, mean(A) - mean(B) + mean(C), vs pixel space; measured with a judge"),
    "direction": ("dcgan.commands.direction", "a 'turn' vector mean(to) - mean(from) applied at several scales; judged flip share"),
    "memorization": ("dcgan.commands.memorization", "nearest training images of samples vs held-out images (pixels and features): near-copies"),
    "project": ("dcgan.commands.project", "find the code of real images (G(z) reconstructs them), for walk/arithmetic/direction on photos"),
    "study": ("dcgan.commands.study", "ablation study of the architecture guidelines: variants x seeds, same budget; table, distance plot, samples"),
    "nn-classify": ("dcgan.commands.nn_classify", "MNIST appendix: 1-nearest-neighbour classifier from class-conditional samples, tested on real digits"),
    "explore": ("dcgan.commands.explore", "a local web page to play with a model: samples, walks, arithmetic, directions, forgetting, inside D"),
}


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every subcommand attached."""
    parser = argparse.ArgumentParser(
        prog="dcgan",
        description="DCGAN (Radford, Metz & Chintala, ICLR 2016): training, sampling and the paper's experiments.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'dcgan COMMAND --help' for a command's flags. User errors exit with status 2.",
    )
    parser.add_argument("--version", action="version", version=f"dcgan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (2 for user errors, 130 when interrupted)."""
    importlib.import_module("dcgan._alloc").apply_allocator_settings()  # this process is the toolkit's own: see _alloc.py
    args = build_parser().parse_args(argv)
    try:
        result = args._run(args)
    except UserError as exc:
        print(f"dcgan: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # last resort for a file error no tool turned into a UserError: still one line, exit 2
        if exc.filename is None:
            raise
        print(f"dcgan: error: cannot use {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dcgan: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
