"""Judges: small classifiers that say what an image contains, to score generated images.

  dcgan judge train --data rooms --out judges/rooms-64.pt          # one head per factor + a localiser
  dcgan judge train --data ./data/mnist.npz --image-size 32 --out judges/mnist-32.pt   # or $DCGAN_DATA_ROOT/mnist.npz
  dcgan judge score judges/rooms-64.pt runs/00000-demo --seeds 0-999   # per-factor probabilities
  dcgan judge score judges/rooms-64.pt some_images/                      # a folder or one image file
  dcgan judge select judges/rooms-64.pt runs/00000-demo --query "window=2,wall=red" --count 8

'train' reports held-out accuracy per head in a JSON file next to the judge and refuses to save a
judge with any head below --min-accuracy (default 0.95). It also trains a realness net (real images against
synthetic noise, blobs and scrambled images) so that 'confident' means the image looks like the data too;
'score' prints the share judged like the data beside the confident share. Held-out data: --val-data when
given, else the source's test split (rooms, .npz, named sets), else 10% held out.
"""

from __future__ import annotations

import argparse

from dcgan.commands import add_checkpoint_argument, add_device_argument, add_label_argument
from dcgan.settings import add_arguments as add_settings
from dcgan.settings import from_args
from dcgan.settings.judge import JudgeScoreSettings, JudgeSelectSettings, JudgeTrainSettings


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="judge_command", metavar="ACTION", required=True)
    fmt = argparse.RawDescriptionHelpFormatter
    t = sub.add_parser("train", help="train a judge on labelled data", formatter_class=fmt,
                       description="Train a judge (one head per labelled factor); for rooms also a window/bed/rug localiser.")
    add_settings(t, JudgeTrainSettings)
    add_device_argument(t)
    s = sub.add_parser("score", help="per-factor probabilities of images or of a checkpoint's samples", formatter_class=fmt,
                       description="Score images with a judge: a folder of images, one image file, or a checkpoint with --seeds "
                       "(--label K: a conditional checkpoint's class K). Prints the confident share, the share judged like the data "
                       "(realness) and each factor's value histogram; writes every image's probabilities and realness as JSON (and a CSV).")
    s.add_argument("judge", metavar="JUDGE", help="judge file from 'dcgan judge train'")
    s.add_argument("target", metavar="IMAGES_OR_CKPT", help="image folder, image file, checkpoint file or run folder")
    add_settings(s, JudgeScoreSettings)
    add_device_argument(s)
    add_label_argument(s)
    q = sub.add_parser("select", help="find a checkpoint's seeds whose samples match a query such as 'window=2,wall=red'",
                       description="Keep the first --count seeds from --start-seed whose judged factors match --query: clauses "
                       "factor=value, factor!=value or factor=a|b joined by commas, each with probability >= --min-prob.", formatter_class=fmt)
    q.add_argument("judge", metavar="JUDGE", help="judge file")
    add_checkpoint_argument(q)
    add_settings(q, JudgeSelectSettings)
    add_device_argument(q)
    add_label_argument(q)


def run(args: argparse.Namespace) -> int:
    from functools import partial

    from dcgan import api
    from dcgan.device import resolve_device
    from dcgan.judges import tasks
    from dcgan.report import judge as files

    if args.judge_command == "train":
        settings = from_args(JudgeTrainSettings, args)
        data = tasks.training_data(settings)
        print("\n".join(data.lines()))  # before the long part
        result = tasks.train(data, settings, device=args.device)
        write = partial(files.write_training, result)
    elif args.judge_command == "score":
        settings = from_args(JudgeScoreSettings, args)
        judge = api.load_judge(args.judge).to(resolve_device(args.device))
        result = tasks.score(judge, tasks.open_target(args.target, args.device, args.draw_label), settings)
        write = partial(files.write_scores, result, settings.out)
    else:
        settings = from_args(JudgeSelectSettings, args)
        model = api.load(args.checkpoint, args.device, label=args.draw_label)
        result = tasks.select(api.load_judge(args.judge, model), model, settings)
        write = partial(files.write_selection, result, settings.grid)
    for line in result.lines():
        print(line)
    for what, path in write().items():
        print(f"{what}: {path}")
    return 0
