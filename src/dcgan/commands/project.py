"""Project real images into the latent space: find for each image a code z whose G(z) reconstructs it.

IMAGES are image files, a folder of images, or a data SPEC (rooms:test, mnist:test, x.npz; --num-images
and --start pick which). Images are fitted exactly as training data is (centre crop, resize, channels).
Adam searches z from --restarts random starts per image (the best kept), G and D in eval mode and never
changed; z stays where the prior puts mass (normal z: |z| inside the shell holding --prior-mass of it;
uniform z: inside [-1, 1]). The loss: pixel distance plus a perceptual distance in the checkpoint's own D
features (no download), or LPIPS where its weights are installed. Same --seed, same codes.

Written: projected.npz (codes, losses, file names: give it to walk --codes, arithmetic --a/--b/--c,
direction --apply or --from/--to, e.g. projected.npz:0,1,2), projection.png (target | projection |
nearest of --baseline random samples) and results.json. With --judge and labelled images (rooms:test),
the share of projections judged to show every true factor of their image.

Examples:
  dcgan project runs/00000-demo photo.jpg my_rooms/
  dcgan project runs/00000-demo rooms:test --num-images 100 --judge judges/rooms-32.pt
  dcgan walk runs/00000-demo --codes runs/00000-demo/analysis/project/projected.npz
"""

from __future__ import annotations

import argparse

from dcgan.commands import add_checkpoint_argument, add_device_argument, add_label_argument, add_out_argument
from dcgan.settings import add_arguments as add_settings
from dcgan.settings import from_args
from dcgan.settings.project import ProjectSettings


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_checkpoint_argument(p)
    p.add_argument("images", nargs="+", metavar="IMAGES_OR_SPEC", help="image files, a folder of images, or a data SPEC (rooms:test)")
    add_settings(p, ProjectSettings, skip=("images",))
    p.add_argument("--judge", metavar="JUDGE", help="a judge file: with labelled images, the share of projections judged to show their true factors")
    add_out_argument(p, "project")
    add_device_argument(p)
    add_label_argument(p)


def run(args: argparse.Namespace) -> int:
    from dcgan import api, report
    from dcgan.analysis.project import project

    settings = from_args(ProjectSettings, args)  # validated before anything is opened or written
    model = api.load(args.checkpoint, args.device, label=args.draw_label)
    judge = api.load_judge(args.judge, model) if args.judge else None
    result = project(model, settings, judge=judge)
    for line in result.lines():
        print(line)
    report.save(result, args.out).announce()
    return 0
