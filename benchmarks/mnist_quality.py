"""MNIST quality benchmark: train DCGAN for 2 epochs at 32x32, then judge 1,000 samples with a small
MNIST classifier trained in this script.

Reports the share of confident samples (max softmax > 0.9) and the class histogram, for each epoch's
checkpoint. Target (issue 2): at least 80% confident and every digit at 5% or more after 2 epochs.

    .venv/bin/python benchmarks/mnist_quality.py --data-root ../shared/data --json mnist_quality.json
"""

from __future__ import annotations

import argparse
import json
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
    """A small CNN for 32x32 digits (about 99% test accuracy after one epoch)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(64, 10),
    )


def train_classifier(root: Path, epochs: int, seed: int) -> tuple[nn.Module, float]:
    """Return a trained MNIST classifier and its test accuracy."""
    torch.manual_seed(seed)
    train_set = load_data(DataConfig(spec=str(root / "mnist.npz"), image_size=32))
    test_set = load_data(DataConfig(spec=str(root / "mnist.npz") + ":test", image_size=32))
    net = classifier()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    x, y = train_set.images, train_set.labels["label"]
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
    p.add_argument("--precision", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--out", default="runs/benchmarks")
    p.add_argument("--json", type=Path)
    args = p.parse_args()

    start = time.perf_counter()
    net, accuracy = train_classifier(args.data_root, epochs=1, seed=args.seed)
    classifier_seconds = time.perf_counter() - start
    print(f"classifier test accuracy {accuracy:.4f} ({classifier_seconds:.0f} s)")

    start = time.perf_counter()
    cfg = RunConfig(
        data=DataConfig(spec=str(args.data_root / "mnist.npz"), image_size=32),
        model=ModelConfig(image_size=32, channels=1, ngf=args.width, ndf=args.width),
        train=TrainConfig(epochs=args.epochs, precision=args.precision, seed=args.seed, out=args.out, name="mnist-quality"),
    )
    run_dir = train(cfg)
    gan_seconds = time.perf_counter() - start

    results = [judge_checkpoint(net, run_dir / "checkpoints" / f"epoch-{e:04d}.pt", args.samples) for e in range(1, args.epochs + 1)]
    for r in results:
        ok = r["confident_share"] >= 0.8 and r["min_class_share"] >= 0.05
        print(f"epoch {r['epoch']}: confident {r['confident_share']:.1%}, digits "
              + " ".join(f"{d}:{s:.1%}" for d, s in enumerate(r["class_histogram"])) + f"  [{'PASS' if ok else 'below target'}]")
    print(f"GAN training {gan_seconds:.0f} s for {args.epochs} epochs; run folder {run_dir}")
    if args.json:
        args.json.write_text(json.dumps({"classifier_accuracy": accuracy, "gan_seconds": gan_seconds, "run_dir": str(run_dir),
                                         "settings": vars(args) | {"data_root": str(args.data_root), "json": str(args.json)},
                                         "results": results}, indent=2))


if __name__ == "__main__":
    main()
