"""G's forward pass on the CPU in the default (NCHW) and channels-last memory formats, side by side.

dcgan.load (and every tool) runs G channels-last (docs/performance.md, "The explorer"); this shows why, as
ratios measured in one process, and checks that both formats give the same images:

    .venv/bin/python benchmarks/sample_layout.py                  # torch's threads
    .venv/bin/python benchmarks/sample_layout.py --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dcgan.config import ModelConfig
from dcgan.models import build_models


def median_ms(fn, repeats: int) -> float:
    fn()
    fn()  # warm-up: the first calls pick kernels
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--repeats", type=int, default=15)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {a.repeats}")
    print("| image size | ngf | batch | NCHW ms | channels-last ms | speed-up | largest difference |")
    print("|---|---|---|---|---|---|---|")
    for size, ngf in ((64, 64), (64, 32), (32, 32)):
        g, _ = build_models(ModelConfig(image_size=size, ngf=ngf, ndf=ngf), seed=0)
        g.eval()
        g_last = build_models(ModelConfig(image_size=size, ngf=ngf, ndf=ngf), seed=0)[0].eval().to(memory_format=torch.channels_last)
        for batch in (1, 8, 64):
            z = torch.randn(batch, 100, generator=torch.Generator().manual_seed(batch))
            with torch.inference_mode():
                nchw, last = median_ms(lambda: g(z), a.repeats), median_ms(lambda: g_last(z), a.repeats)  # noqa: B023
                diff = (g(z) - g_last(z)).abs().max().item()
            print(f"| {size} | {ngf} | {batch} | {nchw:.2f} | {last:.2f} | {nchw / last:.2f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
