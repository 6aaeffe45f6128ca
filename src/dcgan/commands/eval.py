"""Score a checkpoint's samples against real images: FID, KID, precision/recall/density/coverage.

Generates --num-samples images from seeds --seed.. (G in eval mode), extracts features with --extractor,
compares them with the features of a fixed random subset of real images (--data, default the run's own
training data; features cached on disk) and writes every number with the full protocol and library
versions to RUN/analysis/eval/results.json.

Extractors: inception (the standard FID; pip install 'dcgan[fid]'; about 5 images/s on 2 CPU cores),
judge:PATH (FD-judge), dfeat or dfeat:CKPT (FD-dfeat), random (FD-random). Only inception gives "FID".

Examples:
  dcgan eval runs/00003-mnist --extractor inception --num-samples 1000
  dcgan eval runs/00003-mnist/checkpoints/epoch-0001.pt --extractor judge:judges/mnist.pt --metrics fid,prdc
  dcgan eval runs/00007-rooms --data rooms:test --extractor random --num-samples 5000
"""

from __future__ import annotations

import argparse

from dcgan.commands import add_checkpoint_argument, add_device_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_checkpoint_argument(p)
    p.add_argument("--data", metavar="SPEC", help="reference images (same SPECs as dcgan train; default: the run's training data)")
    p.add_argument("--data-root", metavar="DIR", help="folder holding named datasets (default: the run's, else $DCGAN_DATA_ROOT or ./data)")
    p.add_argument("--metrics", default="fid,kid,prdc", help="comma-separated: fid, kid, prdc (default: fid,kid,prdc)")
    p.add_argument("--extractor", default="inception", metavar="NAME", help="inception | judge:PATH | dfeat[:CKPT] | random (default: inception)")
    p.add_argument("--num-samples", type=int, default=5000, metavar="N", help="generated images (default: 5000; FID is biased upwards for small N, compare only equal N)")
    p.add_argument("--num-ref", type=int, metavar="N", help="real images, a fixed random subset (default: as many as --num-samples)")
    p.add_argument("--seed", type=int, default=0, help="first latent seed; samples use seeds SEED..SEED+N-1 (default: 0)")
    p.add_argument("--batch-size", type=int, default=256, help="images generated at once (does not change the numbers)")
    add_device_argument(p)
    p.add_argument("--out", metavar="JSON", help="where to write the results (default: RUN/analysis/eval/results.json)")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from dcgan.checkpoint import resolve_checkpoint, run_dir_of
    from dcgan.metrics.evaluate import EvalSettings, evaluate_checkpoint, parse_metrics

    settings = EvalSettings(metrics=tuple(parse_metrics(args.metrics)), extractor=args.extractor, num_samples=args.num_samples,
                            num_ref=args.num_ref, seed=args.seed, data=args.data, data_root=args.data_root,
                            batch_size=args.batch_size, device=args.device)
    ckpt = resolve_checkpoint(args.checkpoint)
    results = evaluate_checkpoint(ckpt, settings)
    out = Path(args.out) if args.out else run_dir_of(ckpt) / "analysis" / "eval" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    protocol = results["protocol"]
    print(f"{ckpt} (step {results['step']}): {protocol['generated']['count']} samples vs {protocol['reference']['count']} real "
          f"({protocol['reference']['description']}), extractor {protocol['extractor']}")
    for name, value in results["results"].items():
        if not name.endswith(("_subset_size", "_subsets", "_k")):
            print(f"  {name:>12s} {value:.6g}")
    print(f"results: {out}")
    return 0
