"""Linear probe of the discriminator (the paper's section 5): how well do D's features classify images?

D's features are every conv layer max-pooled to 4x4 and concatenated, extracted with BatchNorm in eval
mode and standardised with training-set statistics. A linear L2-SVM (LinearSVC, squared hinge) is
fitted with C chosen on a validation split carved from the training data, never from test. The same
pipeline runs on a randomly initialised D of the same architecture and on raw pixels, for comparison.

Examples:
  dcgan probe runs/00000-mnist --train ../shared/data/mnist.npz --test ../shared/data/mnist.npz:test
  dcgan probe runs/00001-cifar --train cifar10 --test cifar10:test --data-root ../shared/data \\
      --labels-per-class 100 --draws 10 --threads 1

Writes RUN/analysis/probe/results.json (the table, every chosen C and validation score) and table.txt.
Features are cached (keyed by checkpoint digest, images and protocol), so a rerun only refits the SVMs.
"""

from __future__ import annotations

import argparse

from dcgan.commands import add_checkpoint_argument, add_device_argument


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _count_or_all(text: str) -> int | None:
    if text == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'all', got {text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_checkpoint_argument(p)
    p.add_argument("--train", required=True, metavar="SPEC", help="labelled training images, as for 'dcgan train --data' (e.g. mnist.npz)")
    p.add_argument("--test", required=True, metavar="SPEC", help="labelled test images (e.g. mnist.npz:test); used only to score the chosen SVM")
    p.add_argument("--data-root", metavar="DIR", help="folder holding named datasets (default: $DCGAN_DATA_ROOT or ./data)")
    p.add_argument("--label", default="label", help="which label factor to classify (default: label)")
    p.add_argument("--labels-per-class", type=int, metavar="K", help="also run the few-label protocol with K labels per class")
    p.add_argument("--draws", type=int, default=10, metavar="R", help="random label draws of the few-label protocol (default: 10)")
    p.add_argument("--val-size", type=int, default=10_000, help="few-label protocol: validation images split off the training data to pick C (default: 10000)")
    p.add_argument("--no-all-labels", dest="all_labels", action="store_false", help="skip the all-labels protocol (needs --labels-per-class)")
    p.add_argument("--val-fraction", type=float, default=0.1, help="all-labels protocol: share of the training data held out to pick C (default: 0.1)")
    p.add_argument("--max-train", type=_count_or_all, default=5000, metavar="N|all", help="all-labels protocol: fit on a class-stratified subsample of N training images, or 'all' (LinearSVC on 50,000 x 7,168 features takes hours on a few CPU cores; default: 5000)")
    p.add_argument("--max-test", type=int, metavar="N", help="score on a class-stratified subsample of N test images")
    p.add_argument("--c-grid", type=_floats, metavar="C1,C2,...", help="C values tried on the validation split (default: 1e-6,1e-5,...,0.1)")
    p.add_argument("--max-iter", type=int, default=1000, help="liblinear iterations per fit (default: 1000)")
    p.add_argument("--tol", type=float, default=1e-3, help="liblinear stopping tolerance (default: 1e-3)")
    p.add_argument("--baselines", default="random,pixels", help="comma-separated: random (random-init D), pixels; or 'none' (default: random,pixels)")
    p.add_argument("--random-seed", type=int, default=0, help="seed of the random-init D baseline (default: 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of splits, subsamples and label draws (default: 0)")
    p.add_argument("--batch-size", type=int, default=256, help="images per forward pass during extraction (does not change the features)")
    add_device_argument(p)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch and BLAS (default: their own choice; 1 is much faster on a machine busy with other jobs)")
    p.add_argument("--no-cache", dest="cache", action="store_false", help="recompute features instead of using the on-disk cache")
    p.add_argument("--out", metavar="DIR", help="where to write results.json (default: RUN/analysis/probe/)")


def run(args: argparse.Namespace) -> int:
    from dcgan.analysis.common import announce, output_dir, write_results
    from dcgan.analysis.probe import DEFAULT_C_GRID, ProbeSettings, format_table, run_probe
    from dcgan.checkpoint import discriminator_from_checkpoint, open_checkpoint
    from dcgan.config import DataConfig
    from dcgan.data import load_data
    from dcgan.device import cpu_threads, resolve_device
    from dcgan.errors import UserError

    if args.batch_size < 1 or args.threads < 0:
        raise UserError("--batch-size must be positive and --threads not negative")
    baselines = [] if args.baselines.strip() == "none" else [b.strip() for b in args.baselines.split(",") if b.strip()]
    settings = ProbeSettings(
        c_grid=args.c_grid or DEFAULT_C_GRID, val_fraction=args.val_fraction, max_train=args.max_train, max_test=args.max_test,
        labels_per_class=args.labels_per_class, draws=args.draws, val_size=args.val_size, all_labels=args.all_labels,
        max_iter=args.max_iter, tol=args.tol, seed=args.seed,
    )
    path, payload, cfg = open_checkpoint(args.checkpoint)
    model = cfg.model
    d = discriminator_from_checkpoint(payload, resolve_device(args.device))
    # Images are fitted to what D was trained on (size, channels), as 'dcgan train' would fit them.
    data = {
        which: load_data(DataConfig(spec=spec, data_root=args.data_root, image_size=model.image_size, channels=model.channels))
        for which, spec in (("train", args.train), ("test", args.test))
    }
    with cpu_threads(args.threads, blas=True):
        report = run_probe(d, f"checkpoint:{payload['digest']}", data["train"], data["test"], settings, args.label, baselines,
                           args.random_seed, args.cache, batch_size=args.batch_size)
    table = format_table(report["rows"])
    out = output_dir(path, "probe", args.out)
    report = {"checkpoint": str(path), "digest": payload["digest"], "step": payload.get("step"), "epoch": payload.get("epoch"),
              "train": args.train, "test": args.test, "image_size": model.image_size, "channels": model.channels,
              "table": table.splitlines(), **report}
    results = write_results(out, report)
    (out / "table.txt").write_text(table + "\n")
    print(table)
    for key, what in (("margin_over_random_D", "random D"), ("margin_over_pixels", "pixels")):
        m = report[key]
        if "all_labels_accuracy_points" in m:
            print(f"trained D vs {what}, all labels: {m['all_labels_accuracy_points']:+.2f} accuracy points")
        if "few_labels_error_points" in m:
            print(f"trained D vs {what}, few labels: {-m['few_labels_error_points']:+.2f} error points")
    edge = [r["features"] for r in report["rows"] if any(r.get(p, {}).get("C_at_grid_edge") for p in ("all_labels", "few_labels"))]
    if edge:
        print(f"note: the chosen C sits at the edge of --c-grid for {', '.join(edge)}; a wider grid may do better")
    announce([], results)
    return 0
