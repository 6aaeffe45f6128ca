"""MNIST quality benchmark: train DCGAN for 2 epochs at 32x32, then judge 1,000 samples with a small
MNIST classifier trained in this script.

Reports the share of confident samples (max softmax > 0.9) and the class histogram, for each epoch's
checkpoint. Target (issue 2): at least 80% confident and every digit at 5% or more after 2 epochs.
With several --precisions and --seeds it trains one run per pair (the classifier is shared) and
compares precisions against the seed-to-seed spread: the quality-parity check of the fast path.

    .venv/bin/python benchmarks/mnist_quality.py --data-root ../shared/data --json mnist_quality.json
    .venv/bin/python benchmarks/mnist_quality.py --precisions fp32,bf16 --seeds 0,1 --json parity.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dcgan.checkpoint import generator_from_checkpoint, load_checkpoint
from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from dcgan.data import load_data, to_unit_range
from dcgan.latent import z_from_seeds
from dcgan.sampling import generate
from dcgan.train import train


def classifier() -> nn.Module:
    """A small CNN for 32x32 digits (about 99% test accuracy after two epochs)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10),
    )


def train_classifier(root: Path, epochs: int, seed: int) -> tuple[nn.Module, float]:
    """Return a trained MNIST classifier and its test accuracy."""
    torch.manual_seed(seed)
    train_set = load_data(DataConfig(spec=str(root / "mnist.npz"), image_size=32))
    test_set = load_data(DataConfig(spec=str(root / "mnist.npz") + ":test", image_size=32))
    net = classifier()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y = train_set.images, train_set.labels["label"]
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 256):
            idx = order[start : start + 256]
            loss = F.cross_entropy(net(to_unit_range(x[idx])), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    probs = predict(net, test_set.images)
    return net, (probs.argmax(1) == test_set.labels["label"]).float().mean().item()


@torch.inference_mode()
def predict(net: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Return (N, 10) class probabilities of uint8 images."""
    net.eval()
    return torch.cat([F.softmax(net(to_unit_range(images[s : s + 1000])), 1) for s in range(0, len(images), 1000)])


def judge_checkpoint(net: nn.Module, path: Path, samples: int) -> dict:
    """Return the confident share and class histogram of ``samples`` seeds of a checkpoint."""
    payload = load_checkpoint(path)
    g = generator_from_checkpoint(payload)
    model = g.cfg
    probs = predict(net, generate(g, z_from_seeds(range(samples), model.z_dim, model.z_dist)))
    confident = probs.max(1).values > 0.9
    hist = torch.bincount(probs.argmax(1), minlength=10).float() / samples
    return {"checkpoint": str(path), "epoch": payload["epoch"], "confident_share": confident.float().mean().item(),
            "class_histogram": [round(v, 4) for v in hist.tolist()], "min_class_share": hist.min().item()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", default="../shared/data", type=Path)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--width", type=int, default=64, help="--ngf and --ndf")
    p.add_argument("--batch-size", type=int, default=128, help="the paper's 128 by default")
    p.add_argument("--lr", type=float, default=2e-4, help="the paper's 2e-4 by default")
    p.add_argument("--kernel-size", type=int, default=4, choices=(4, 5))
    p.add_argument("--z-dist", default="normal", choices=("normal", "uniform"))
    p.add_argument("--precisions", default="auto", help="comma list of training precisions (auto, fp32, bf16)")
    p.add_argument("--seeds", default="0", help="comma list of training seeds")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--out", default="runs/benchmarks")
    p.add_argument("--json", type=Path)
    args = p.parse_args()

    start = time.perf_counter()
    net, accuracy = train_classifier(args.data_root, epochs=2, seed=0)
    print(f"classifier test accuracy {accuracy:.4f} ({time.perf_counter() - start:.0f} s)")

    runs = []
    for precision in args.precisions.split(","):
        for seed in map(int, args.seeds.split(",")):
            start = time.perf_counter()
            cfg = RunConfig(
                data=DataConfig(spec=str(args.data_root / "mnist.npz"), image_size=32),
                model=ModelConfig(image_size=32, channels=1, ngf=args.width, ndf=args.width, kernel_size=args.kernel_size, z_dist=args.z_dist),
                train=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, precision=precision, seed=seed,
                                  out=args.out, name=f"mnist-{precision}-s{seed}"),
            )
            run_dir = train(cfg)
            seconds = time.perf_counter() - start
            results = [judge_checkpoint(net, run_dir / "checkpoints" / f"epoch-{e:04d}.pt", args.samples) for e in range(1, args.epochs + 1)]
            for r in results:
                ok = r["confident_share"] >= 0.8 and r["min_class_share"] >= 0.05
                print(f"{precision} seed {seed} epoch {r['epoch']}: confident {r['confident_share']:.1%}, digits "
                      + " ".join(f"{d}:{s:.1%}" for d, s in enumerate(r["class_histogram"])) + f"  [{'PASS' if ok else 'below target'}]")
            print(f"{precision} seed {seed}: {seconds:.0f} s for {args.epochs} epochs (training + grids + checkpoints); {run_dir}")
            runs.append({"precision": precision, "seed": seed, "seconds": seconds, "run_dir": str(run_dir), "results": results})
    summary = {}
    for precision in args.precisions.split(","):
        finals = [r["results"][-1]["confident_share"] for r in runs if r["precision"] == precision]
        summary[precision] = {"confident_mean": statistics.mean(finals), "confident_values": finals,
                              "seconds_mean": statistics.mean(r["seconds"] for r in runs if r["precision"] == precision)}
        print(f"{precision}: final confident share {', '.join(f'{v:.1%}' for v in finals)} (mean {summary[precision]['confident_mean']:.1%}), "
              f"{summary[precision]['seconds_mean']:.0f} s per run")
    if args.json:
        args.json.write_text(json.dumps({"classifier_accuracy": accuracy, "settings": {k: str(v) for k, v in vars(args).items()},
                                         "runs": runs, "summary": summary}, indent=2))

if __name__ == "__main__":
    main()
