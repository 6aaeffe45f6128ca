"""Training throughput against a standard PyTorch DCGAN loop, measured side by side in ONE process.

Rounds interleave (a) a reference loop written here the way pytorch/examples' dcgan trains (contiguous
fp32, a DataLoader, standard Adam, `.item()` on every step, glibc's default allocator policy) and
(b) dcgan's own training step as the trainer drives it (`Trainer.advance`: channels-last, uint8 batches
gathered where the data lives and normalised in the step, no host sync per step, the allocator fix; on
a GPU also the data set resident on the device, fused Adam, TF32 and the step replayed as a CUDA graph)
in each precision, on the same architecture, batch, image size and widths. A precision written
``bf16-eager`` runs our step without the CUDA graph. Printed per round: images/s and the ratio to (a) of
the same round; then medians, achieved GFLOP/s (FlopCounterMode) and its share of a GEMM peak measured in
this run; on CUDA also the share of GPU time spent in kernels (torch.profiler). Optional: a table of
cost against image size and batch size, and sampling speed.

    .venv/bin/python benchmarks/throughput.py --json throughput.json
    .venv/bin/python benchmarks/throughput.py --table --json cost_table.json
    python3 benchmarks/throughput.py --device cuda --steps 50 --warmup 10 --json gpu.json   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

import dcgan
from dcgan._alloc import apply_allocator_settings, emulate_glibc_default
from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from dcgan.data import ImageData
from dcgan.device import resolve_device
from dcgan.models import build_models
from dcgan.train import Trainer


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class ReferenceLoop:
    """The standard loop: contiguous fp32, DataLoader, Adam, BCE on D's output, `.item()` every step."""

    def __init__(self, cfg: ModelConfig, images: torch.Tensor | None, batch: int, device: torch.device, loader: DataLoader | None = None) -> None:
        self.g, self.d = (m.to(device) for m in build_models(cfg, seed=0))
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        # By default the dataset holds normalised float images, as torchvision transforms would produce them;
        # time_to_quality.py passes the loader its users build (ImageFolder over PNG files).
        self.loader = loader or DataLoader(TensorDataset(images.float().div(127.5).sub(1)), batch_size=batch, shuffle=True,
                                           drop_last=True, num_workers=0, pin_memory=device.type == "cuda")
        self.batches = iter(self.loader)
        self.z_dim, self.batch, self.device = cfg.z_dim, batch, device

    def step(self) -> None:
        try:
            real = next(self.batches)[0]
        except StopIteration:
            self.batches = iter(self.loader)
            real = next(self.batches)[0]
        real = real.to(self.device)
        ones = torch.ones(self.batch, device=self.device)
        zeros = torch.zeros(self.batch, device=self.device)
        self.d.zero_grad()
        out = self.d(real)
        err_real = F.binary_cross_entropy_with_logits(out, ones)
        err_real.backward()
        d_x = torch.sigmoid(out).mean().item()
        fake = self.g(torch.randn(self.batch, self.z_dim, 1, 1, device=self.device))
        out = self.d(fake.detach())
        err_fake = F.binary_cross_entropy_with_logits(out, zeros)
        err_fake.backward()
        d_g_z1 = torch.sigmoid(out).mean().item()
        self.opt_d.step()
        self.g.zero_grad()
        out = self.d(fake)
        err_g = F.binary_cross_entropy_with_logits(out, ones)
        err_g.backward()
        d_g_z2 = torch.sigmoid(out).mean().item()
        self.opt_g.step()
        _ = (err_real.item() + err_fake.item(), err_g.item(), d_x, d_g_z1, d_g_z2)


class OurLoop:
    """dcgan's step exactly as the trainer drives it: ``Trainer.advance`` (batch feed, codes, step, CUDA graph)."""

    def __init__(self, cfg: ModelConfig, images: torch.Tensor, batch: int, device: torch.device, precision: str,
                 channels_last: bool = True, compile: bool = False, cuda_graphs: bool = True) -> None:
        run = RunConfig(DataConfig(spec="fake", image_size=cfg.image_size), cfg,
                        TrainConfig(batch_size=batch, channels_last=channels_last, compile=compile, cuda_graphs=cuda_graphs,
                                    precision=precision, device=str(device), max_steps=10**9, num_fixed_samples=1))
        self.trainer = Trainer(run, None, ImageData(images, description="random images"))
        self.step_fn = self.trainer.step_fn
        self.i = 0

    def step(self) -> None:
        self.trainer.advance()
        self.i += 1
        if self.i % 50 == 0:
            self.step_fn.read_stats()


def timed(loop, steps: int, batch: int, device: torch.device) -> float:
    """Return images per second over ``steps`` steps (the clock stops after the device finishes)."""
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        loop.step()
    if isinstance(loop, OurLoop):
        loop.step_fn.read_stats()
    sync(device)
    return steps * batch / (time.perf_counter() - start)


def gpu_busy_share(loop, steps: int, device: torch.device) -> float | None:
    """Return the share of the GPU timeline, from the first to the last device activity of ``steps`` steps,
    covered by kernels and copies (the union of their intervals, from torch.profiler); None if none was seen.
    """
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    sync(device)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            loop.step()
        sync(device)
    spans = sorted((e.time_range.start, e.time_range.end) for e in prof.events() if e.device_type == DeviceType.CUDA and e.time_range.end > e.time_range.start)
    if not spans:
        return None
    busy, (cur_start, cur_end) = 0.0, spans[0]
    for start, end in spans[1:]:  # merge overlapping intervals, so concurrent streams are not counted twice
        if start > cur_end:
            busy += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    busy += cur_end - cur_start
    return busy / (max(e for _, e in spans) - spans[0][0])


def _start_reference_process(args: argparse.Namespace) -> subprocess.Popen:
    """Start this script as a reference-only process with glibc's true default allocator policy.

    In one process the reference cannot get glibc's real default back: once our rounds have grown the
    heap, its large allocations are served from free heap chunks instead of fresh mmaps, which makes the
    in-process reference about 15% faster than the real thing. The lockstep child measures the real
    thing, interleaved with the same rounds; both figures are reported.
    """
    env = dict(os.environ, DCGAN_NO_MALLOPT="1")
    cmd = [sys.executable, __file__, "--serve-reference", "--size", str(args.size), "--batch", str(args.batch), "--width", str(args.width),
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--device", "cpu"]
    child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout.readline().strip() == "ready"
    return child


def serve_reference(args: argparse.Namespace, device: torch.device) -> None:
    """Run reference rounds on request (one line in, images/s out) until stdin closes."""
    cfg = ModelConfig(image_size=args.size, channels=3, ngf=args.width, ndf=args.width)
    images = torch.randint(0, 256, (args.batch * 8, 3, args.size, args.size), dtype=torch.uint8)
    loop = ReferenceLoop(cfg, images, args.batch, device)
    timed(loop, args.warmup, args.batch, device)
    print("ready", flush=True)
    for _ in sys.stdin:
        print(timed(loop, args.steps, args.batch, device), flush=True)


def step_flops(cfg: ModelConfig, batch: int, precision: str, device: torch.device, reference: bool = False) -> float:
    """Return FLOPs of one training step per image (G and D, forward and backward), counted by FlopCounterMode."""
    images = torch.zeros(batch * 2, cfg.channels, cfg.image_size, cfg.image_size, dtype=torch.uint8)
    loop = ReferenceLoop(cfg, images, batch, device) if reference else OurLoop(cfg, images, batch, device, precision)
    with FlopCounterMode(display=False) as counter:
        loop.step()
    return counter.get_total_flops() / batch


def _rate(fn, flops: float, device: torch.device, repeats: int) -> float:
    """Return GFLOP/s of ``fn`` (which does ``flops`` FLOPs), after two warm-up calls."""
    with torch.inference_mode():
        for _ in range(2):
            fn()
        sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        sync(device)
    return flops * repeats / (time.perf_counter() - start) / 1e9


def gemm_peak(dtype: torch.dtype, device: torch.device, n: int = 2048, repeats: int = 8) -> dict[str, float]:
    """Return measured GFLOP/s of large matrix multiplies in ``dtype``: torch.mm and a 1x1 convolution.

    Both are GEMMs; they run in different libraries on the CPU (MKL for mm, oneDNN for convolutions, the
    library our training step uses). On AMD CPUs MKL's fp32 GEMM takes AVX2 code paths and reaches about
    half of what oneDNN does, so the peak is the faster of the two.
    """
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    mm = _rate(lambda: a @ b, 2 * n**3, device, repeats)
    conv = torch.nn.Conv2d(1024, 1024, 1, bias=False).to(device, dtype, memory_format=torch.channels_last)
    x = torch.randn(64, 1024, 32, 32, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
    conv_rate = _rate(lambda: conv(x), 2 * 64 * 1024 * 1024 * 32 * 32, device, repeats)
    return {"mm": mm, "conv1x1": conv_rate, "peak": max(mm, conv_rate)}


def compare(args: argparse.Namespace, device: torch.device) -> dict:
    """Interleave reference and our precisions over rounds; return every figure."""
    cfg = ModelConfig(image_size=args.size, channels=3, ngf=args.width, ndf=args.width)
    images = torch.randint(0, 256, (args.batch * 8, 3, args.size, args.size), dtype=torch.uint8)
    emulate_glibc_default()
    loops = {"reference": ReferenceLoop(cfg, images, args.batch, device)}
    apply_allocator_settings()
    for p in args.precisions:
        precision, _, eager = p.partition("-")
        loops[p] = OurLoop(cfg, images, args.batch, device, precision, compile=args.compile, cuda_graphs=eager != "eager")
    child = _start_reference_process(args) if args.isolated_reference and device.type == "cpu" else None
    isolated: list[float] = []
    rates: dict[str, list[float]] = {name: [] for name in loops}
    ratios: dict[str, list[float]] = {name: [] for name in loops if name != "reference"}
    for name, loop in loops.items():  # warm-up (first-call costs, compile)
        (emulate_glibc_default if name == "reference" else apply_allocator_settings)()
        timed(loop, args.warmup, args.batch, device)
    for r in range(args.rounds):
        for name, loop in loops.items():
            (emulate_glibc_default if name == "reference" else apply_allocator_settings)()
            rates[name].append(timed(loop, args.steps, args.batch, device))
        line = f"round {r + 1}: reference {rates['reference'][-1]:7.1f} img/s"
        if child is not None:  # the same loop in a process of its own, while this one waits
            child.stdin.write("round\n")
            child.stdin.flush()
            isolated.append(float(child.stdout.readline()))
            line += f" (own process {isolated[-1]:.1f})"
        for name in ratios:
            ratios[name].append(rates[name][-1] / rates["reference"][-1])
            line += f" | {name} {rates[name][-1]:7.1f} img/s ({ratios[name][-1]:.2f}x)"
        print(line, flush=True)
    if child is not None:
        child.stdin.close()
        child.wait()
    apply_allocator_settings()
    gemm = {p: gemm_peak(dcgan.device.DTYPES[p], device) for p in ("fp32", "bf16")}
    peaks = {p: g["peak"] for p, g in gemm.items()}
    result = {"reference_images_per_sec": statistics.median(rates["reference"]), "rounds": rates, "ratios": ratios, "gemm_gflops": gemm}
    print(f"\nmedian over {args.rounds} rounds ({args.size}x{args.size}, batch {args.batch}, widths {args.width}, {device}):")
    result["reference_gflop_per_image"] = step_flops(cfg, args.batch, "fp32", device, reference=True) / 1e9
    print(f"  reference: {result['reference_images_per_sec']:.1f} img/s, {result['reference_gflop_per_image']:.2f} GFLOP/image "
          "(ours computes less: G's update needs no weight gradients of D)")
    if isolated:
        result["isolated_reference_images_per_sec"] = statistics.median(isolated)
        result["isolated_ratios"] = {p: statistics.median(r / i for r, i in zip(rates[p], isolated, strict=True)) for p in ratios}
        print(f"  reference in its own process (true glibc default): {result['isolated_reference_images_per_sec']:.1f} img/s; "
              + ", ".join(f"{p} {r:.2f}x" for p, r in result["isolated_ratios"].items()))
    if device.type == "cuda":
        result["gpu_busy_share"] = {}
        for name, loop in loops.items():
            try:
                share = gpu_busy_share(loop, args.steps, device)
            except Exception as exc:  # a profiler that cannot see the device must not lose the rates above
                print(f"  {name}: GPU busy share not measured ({type(exc).__name__}: {exc})")
                continue
            result["gpu_busy_share"][name] = share
            print(f"  {name}: GPU busy in kernels and copies {share:.0%} of its timeline" if share is not None
                  else f"  {name}: the profiler saw no GPU activity (busy share not measured)")
    for p in args.precisions:
        precision = p.partition("-")[0]
        flops = step_flops(cfg, args.batch, precision, device)
        rate = statistics.median(rates[p])
        achieved = flops * rate / 1e9
        peak = peaks.get(precision, peaks["fp32"])
        result[p] = {"images_per_sec": rate, "median_ratio": statistics.median(ratios[p]), "gflop_per_image": flops / 1e9,
                     "achieved_gflops": achieved, "share_of_gemm_peak": achieved / peak}
        print(f"  {p}: {rate:.1f} img/s, {result[p]['median_ratio']:.2f}x reference, {flops / 1e9:.2f} GFLOP/image, "
              f"{achieved:.0f} GFLOP/s = {achieved / peak:.0%} of the {precision if precision in peaks else 'fp32'} GEMM peak ({peak:.0f} GFLOP/s; "
              f"mm {gemm.get(precision, gemm['fp32'])['mm']:.0f}, 1x1 conv {gemm.get(precision, gemm['fp32'])['conv1x1']:.0f})")
    return result


def cost_table(args: argparse.Namespace, device: torch.device) -> list[dict]:
    """Return GFLOP per image and our best images/s for each image size and batch size."""
    rows = []
    best = args.precisions[-1].partition("-")[0]
    for size in (16, 32, 64, 128, 256):
        cfg = ModelConfig(image_size=size, channels=3, ngf=args.width, ndf=args.width)
        for batch in (32, 64, 128):
            images = torch.randint(0, 256, (batch * 2, 3, size, size), dtype=torch.uint8)
            loop = OurLoop(cfg, images, batch, device, best)
            timed(loop, 1, batch, device)
            steps = max(2, min(10, int(4096 / batch / max(1, size // 32) ** 2)))
            rate = timed(loop, steps, batch, device)
            row = {"size": size, "batch": batch, "precision": best, "gflop_per_image": step_flops(cfg, batch, best, device) / 1e9,
                   "images_per_sec": rate, "ms_per_step": 1000 * batch / rate}
            rows.append(row)
            print(f"{size:4d}px batch {batch:4d}: {row['gflop_per_image']:6.2f} GFLOP/image, {rate:8.1f} img/s, {row['ms_per_step']:8.1f} ms/step", flush=True)
    return rows


def sampling_speed(args: argparse.Namespace, device: torch.device) -> dict:
    """Return the latency of a 64-image grid from a checkpoint and the images/s of bulk PNG export."""
    from dcgan.checkpoint import generator_from_checkpoint, load_checkpoint, save_checkpoint
    from dcgan.config import RunConfig
    from dcgan.images import save_each, save_grid
    from dcgan.latent import z_from_seeds
    from dcgan.sampling import generate

    cfg = ModelConfig(image_size=args.size, channels=3, ngf=args.width, ndf=args.width)
    g, d = build_models(cfg, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "c.pt"
        save_checkpoint(ckpt, {"config": RunConfig(model=cfg).to_dict(), "generator": g.state_dict(), "discriminator": d.state_dict()})
        start = time.perf_counter()
        g = generator_from_checkpoint(load_checkpoint(ckpt), device)
        save_grid(generate(g, z_from_seeds(range(64), cfg.z_dim, cfg.z_dist)), Path(tmp) / "grid.png")
        grid_seconds = time.perf_counter() - start
        n = args.export
        start = time.perf_counter()
        images = generate(g, z_from_seeds(range(n), cfg.z_dim, cfg.z_dist))
        save_each(images, Path(tmp) / "each", [f"seed-{s:06d}" for s in range(n)])
        export_rate = n / (time.perf_counter() - start)
    print(f"sampling: 64-image grid in {grid_seconds * 1000:.0f} ms (load checkpoint + generate + PNG); bulk export {export_rate:.0f} images/s ({n} PNGs)")
    return {"grid_64_seconds": grid_seconds, "export_images_per_sec": export_rate, "export_count": n}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=4, help="timed steps per loop per round")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--precisions", default=None, help="comma list (default: fp32,bf16; on CUDA fp32,bf16,fp16)")
    p.add_argument("--compile", action="store_true", help="torch.compile our step too")
    p.add_argument("--device", default="auto")
    p.add_argument("--table", action="store_true", help="also measure cost against image size and batch size")
    p.add_argument("--export", type=int, default=512, help="images for the bulk-export measurement")
    p.add_argument("--no-isolated-reference", dest="isolated_reference", action="store_false",
                   help="skip the reference run in a process of its own (CPU only; see _start_reference_process)")
    p.add_argument("--serve-reference", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    device = resolve_device(args.device)
    if args.serve_reference:
        return serve_reference(args, device)
    default = "fp32,bf16,bf16-eager,fp16" if device.type == "cuda" else "fp32,bf16"
    args.precisions = (args.precisions or default).split(",")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, device {device}")
    result = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "torch": torch.__version__,
              "threads": torch.get_num_threads(), "device": str(device)}
    result["comparison"] = compare(args, device)
    result["sampling"] = sampling_speed(args, device)
    if args.table:
        result["cost_table"] = cost_table(args, device)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
