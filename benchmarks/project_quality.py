"""Projection quality where the truth is known (issue 17): rooms, a direction edit on real rooms, MNIST, speed.

1. Rooms: project held-out real rooms (rooms:test) with a rooms model and judge each reconstruction with
   a rooms judge: the share whose every factor is judged as the real image's true label, per factor and
   all together, and the pixel and D-feature distances; against the baseline, the nearest (same loss) of
   N random samples at equal compute: N = 3 x restarts x (steps + 1), the G+D evaluations the projection
   spends per image (a forward and backward pass counted as 3 forwards), one pool shared by all images
   (which favours the baseline: each image gets the whole pool).
2. Edit real rooms: the window=0 -> window=2 direction applied to the projected real rooms (direction
   --apply) and to generated samples (the default test seeds): flip share with the other factors kept.
3. MNIST (with --mnist PATH): a small MNIST model and digit judge trained here; the share of projected
   real test digits judged as their true class.
4. Speed: images projected per second on this machine at the default settings (500 steps, 8 restarts,
   batch 64) at 32x32 and 64x64, extrapolated from --speed-steps steps (a step's cost does not change
   along the run).

    .venv/bin/python benchmarks/project_quality.py RUN --judge rooms-32.pt --images 500 --steps 150 --restarts 2 \
        --mnist data/mnist.npz --work /tmp/pq --json project_quality.json

Without --judge a rooms judge is trained at the model's size (about a minute). Sized by flags: the
default settings on 500 rooms take about 20 minutes on 2 CPU cores (0.39 images/s measured).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

import dcgan
import dcgan.analysis
from dcgan.errors import UserError


def rooms_part(model, judge, args, work: Path) -> dict:
    baseline = 3 * args.restarts * (args.steps + 1)
    r = dcgan.analysis.project(model, images="rooms:test", num_images=args.images, steps=args.steps, restarts=args.restarts,
                               baseline=baseline, judge=judge)
    saved = dcgan.analysis.save(r, work / "rooms-project")
    for line in r.lines():
        print(line)
    summary = r.summary()
    out = {"images": args.images, "steps": args.steps, "restarts": args.restarts, "baseline_samples": baseline,
           "seconds": r.seconds, "mean": summary["mean"], "baseline_mean": summary["baseline"]["mean"],
           "projection_closer": summary["baseline"]["projection_better"], "judged": summary["judged"], "figure": str(saved.figures[-1])}
    codes = saved.folder / "projected.npz"
    edits = {}
    for k in args.edit_exemplars:  # the tool's default 4 exemplars, and more (a less noisy mean difference)
        for name, extra in (("projected_real_rooms", {"apply": str(codes)}), ("generated_samples", {})):
            d = dcgan.analysis.direction(model, from_="window=0", to="window=2", exemplars=k, judge=judge, **extra)
            m = d.measurement
            key = f"{name}_{k}_exemplars"
            edits[key] = {kk: m[kk] for kk in ("eligible", "flip_share", "target_reached", "others_kept", "real_share")}
            edits[key]["random_direction_flip_share"] = m["random_direction"]["flip_share"]
            print(f"window=0 -> window=2 ({k} exemplars) on {name}: " + "; ".join(d.lines()), flush=True)
    out["edit"] = edits
    return out


def run(cmd: list[str]) -> None:
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def mnist_part(path: Path, args, work: Path) -> dict:
    bin_dir = Path(sys.executable).parent
    run_dir = work / "runs" / "00000-mnist"
    if not run_dir.exists():
        run([str(bin_dir / "dcgan"), "train", "--data", str(path), "--image-size", "32", "--ngf", "32", "--ndf", "32", "--batch-size", "64",
             "--lr", "1e-3", "--ema", "0.999", "--epochs", "1", "--num-images", str(args.mnist_train), "--out", str(work / "runs"),
             "--name", "mnist"])
    judge_path = work / "mnist-judge.pt"
    if not judge_path.exists():
        run([str(bin_dir / "dcgan"), "judge", "train", "--data", str(path), "--image-size", "32", "--num-images", "20000",
             "--threads", "2", "--out", str(judge_path)])
    model = dcgan.load(run_dir)
    judge = dcgan.load_judge(judge_path, model)
    r = dcgan.analysis.project(model, images=f"{path}:test", num_images=args.mnist_images, steps=args.steps, restarts=args.restarts,
                               baseline=3 * args.restarts * (args.steps + 1), judge=judge)
    dcgan.analysis.save(r, work / "mnist-project")
    for line in r.lines():
        print(line)
    real = judge.predict(r.targets)["label"].argmax(1) == r.labels["label"]
    s = r.summary()
    return {"images": len(r.names), "class_kept": s["judged"]["projection"]["all_factors"],
            "baseline_class_kept": s["judged"]["baseline"]["all_factors"], "judge_on_real_digits": float(real.float().mean()),
            "mean": s["mean"], "baseline_mean": s["baseline"]["mean"]}


def speed_part(model32, args) -> dict:
    from dcgan.analysis.project import embedding_for, fit_codes, norm_shell
    from dcgan.config import ModelConfig
    from dcgan.data.base import to_unit_range
    from dcgan.models import Discriminator, Generator
    from dcgan.settings.project import ProjectSettings

    defaults = ProjectSettings(images="x")
    out = {}
    for size in (32, 64):
        if size == model32.image_size:
            g, d, cfg = model32.generator, model32.discriminator, model32.config
        else:  # speed does not depend on the weights: a fresh net of the demo widths at 64x64
            cfg = ModelConfig(image_size=size, z_dim=model32.z_dim, ngf=model32.config.ngf, ndf=model32.config.ndf)
            g, d = Generator(cfg).eval(), Discriminator(cfg).eval()
        holder = type("M", (), {"discriminator": d, "device": torch.device("cpu")})()
        embed = embedding_for(holder, defaults)
        x = to_unit_range(torch.randint(0, 256, (defaults.batch_size, cfg.channels, size, size), dtype=torch.uint8))
        starts = torch.randn(defaults.restarts, cfg.z_dim, generator=torch.Generator().manual_seed(0))
        shell = norm_shell(cfg.z_dim, defaults.prior_mass)
        fit_codes(g, embed, x, starts, 2, defaults.lr, "normal", shell)  # warm-up
        t = time.perf_counter()
        fit_codes(g, embed, x, starts, args.speed_steps, defaults.lr, "normal", shell)
        per_step = (time.perf_counter() - t) / (args.speed_steps + 1)
        ips = defaults.batch_size / (per_step * (defaults.steps + 1))
        out[f"{size}x{size}"] = {"seconds_per_step": per_step, "images_per_second_at_defaults": ips,
                                 "batch": defaults.batch_size, "restarts": defaults.restarts, "steps": defaults.steps}
        print(f"speed {size}x{size}: {per_step:.3f} s per step of {defaults.batch_size} images x {defaults.restarts} restarts -> "
              f"{ips:.3f} images/s at the defaults ({defaults.steps} steps)", flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="run folder or checkpoint of a demo-recipe rooms run")
    p.add_argument("--judge", help="rooms judge at the model's size (default: train one here)")
    p.add_argument("--images", type=int, default=500, help="held-out rooms projected (default: 500)")
    p.add_argument("--steps", type=int, default=500, help="Adam steps (default: the tool's 500)")
    p.add_argument("--restarts", type=int, default=8, help="restarts (default: the tool's 8)")
    p.add_argument("--mnist", type=Path, help="mnist.npz: also the MNIST class-kept measurement")
    p.add_argument("--mnist-images", type=int, default=200, help="MNIST test digits projected (default: 200)")
    p.add_argument("--mnist-train", type=int, default=30000, help="MNIST training images for the model trained here")
    p.add_argument("--edit-exemplars", type=lambda t: [int(x) for x in t.split(",")], default=[4, 32],
                   help="exemplars per group of the window direction, each measured (default: 4,32)")
    p.add_argument("--speed-steps", type=int, default=10, help="steps timed for the speed figures (default: 10)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: 2)")
    p.add_argument("--work", type=Path, default=Path("project-quality"), help="folder for what is trained and written here")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    model = dcgan.load(args.checkpoint, "cpu")
    if args.judge:
        judge = dcgan.load_judge(args.judge, model)
    else:
        judge_path = args.work / f"rooms-{model.image_size}.pt"
        run([str(Path(sys.executable).parent / "dcgan"), "judge", "train", "--data", "rooms", "--image-size", str(model.image_size),
             "--threads", str(args.threads), "--out", str(judge_path)])
        judge = dcgan.load_judge(judge_path, model)
    results = {"checkpoint": str(model.path), "judge": getattr(judge, "source", None), "machine": platform.processor() or platform.machine(),
               "threads": args.threads, "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()}
    results["rooms"] = rooms_part(model, judge, args, args.work)
    if args.mnist:
        results["mnist"] = mnist_part(args.mnist, args, args.work)
    results["speed"] = speed_part(model, args)
    results["seconds"] = time.perf_counter() - start
    print(f"total {results['seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(dcgan.report.plain(results), indent=2) + "\n")
        print(f"results: {args.json}")


if __name__ == "__main__":
    try:
        main()
    except UserError as exc:
        raise SystemExit(f"project_quality: error: {exc}") from None
