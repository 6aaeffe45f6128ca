"""Time to quality (issue 20): the standard PyTorch DCGAN loop against `dcgan train`, same data, same wall clock.

Both train on the same procedural rooms at 64x64 for the same wall-clock budget, one after the other, each
in its own process, start-up and data loading counted:

- reference: the loop of pytorch/examples `dcgan/main.py` (throughput.py's ReferenceLoop: fp32, contiguous
  memory, `.item()` on every loss each step) fed the way its users feed it: the rooms rendered to PNG
  files, torchvision `ImageFolder` with Resize/CenterCrop/ToTensor/Normalize, a DataLoader with 2 workers
  (main.py's default; last partial batch dropped);
- ours: `dcgan train` with the flags of `--recipe` (default none: the paper's settings, which are the
  command's defaults; the README recommends `--lr 1e-3 --ema 0.999`), driven by the trainer itself
  (`Trainer.advance`: the command's step, feed, schedule and average; its per-epoch grids and checkpoints aside).

At fixed wall-clock points each process keeps a copy of its sampling G (copying is not counted). Afterwards
every copy draws the same seeds and is scored with one extractor against held-out rooms: FD-judge (a rooms
judge's penultimate features; trained here once and kept in --work), plus FID when `--inception` and the
weights are installed. Each copy is scored with BatchNorm in eval mode (how dcgan samples) and with the
statistics of batches of 128 (how main.py draws its samples); the better of the two counts for both.
Reported: the curves (distance against wall time), the time ours takes to reach the reference's final
distance (linear between points) as a share of the budget (goal: at most a third), and a grid of each
contender's final samples beside the plot.

`--reuse` rescores kept snapshots instead of training again when a contender's settings match, so several
recipes can be compared with one reference run; `--combine` then tables and plots their results together:

    B=".venv/bin/python benchmarks/time_to_quality.py --budget 900 --points 9 --samples 2000 --reuse"
    $B --json paper.json && $B --recipe "--lr 1e-3 --ema 0.999" --json fast.json
    .venv/bin/python benchmarks/time_to_quality.py --combine paper.json fast.json --plot ttq.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from dcgan.data import load_data  # noqa: E402
from dcgan.data.base import to_uint8  # noqa: E402
from dcgan.latent import z_from_seeds  # noqa: E402
from dcgan.metrics.distances import feature_statistics, frechet_distance  # noqa: E402
from dcgan.models import build_models  # noqa: E402
from dcgan.sampling import generate  # noqa: E402
from throughput import ReferenceLoop  # noqa: E402  (a sibling benchmark: one reference loop for both)

SIZE = 64
CONTENDERS = ("reference", "ours")


def snapshot(g: torch.nn.Module, model: ModelConfig, path: Path, seconds: float, step: int) -> dict:
    """Save a CPU copy of G's weights with the wall time and step it was taken at."""
    state = {k: v.detach().float().cpu().clone() if v.is_floating_point() else v.detach().cpu().clone() for k, v in g.state_dict().items()}
    torch.save({"state": state, "model": dataclasses.asdict(model), "seconds": seconds, "step": step}, path)
    return {"path": str(path), "seconds": round(seconds, 1), "step": step}


def build_reference(args: argparse.Namespace):
    from torchvision import datasets, transforms

    # main.py's transform; the images are already 64x64, so Resize and CenterCrop only cost what they cost its users.
    transform = transforms.Compose([transforms.Resize(SIZE), transforms.CenterCrop(SIZE), transforms.ToTensor(),
                                    transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    dataset = datasets.ImageFolder(str(Path(args.work) / "rooms_png"), transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True, num_workers=args.workers, drop_last=True,
                                         persistent_workers=args.workers > 0)
    model = ModelConfig(image_size=SIZE)
    loop = ReferenceLoop(model, None, 128, torch.device("cpu"), loader=loader)
    return loop.step, lambda: loop.g, model


def build_ours(args: argparse.Namespace):
    from dcgan._alloc import apply_allocator_settings
    from dcgan.commands.train import add_arguments, given_settings
    from dcgan.train import Trainer, prepare

    apply_allocator_settings()  # as the dcgan command line does in its own process
    parser = argparse.ArgumentParser(prog="dcgan train")
    add_arguments(parser)
    given = given_settings(parser.parse_args(args.recipe.split()))
    data = {"spec": "rooms", "image_size": SIZE, "num_images": args.images, **given["data"]}
    model = {**given["model"], "image_size": SIZE}
    train = {"seed": args.seed, **given["train"]}  # a --seed in the recipe wins
    cfg, images = prepare(RunConfig(DataConfig(**data), ModelConfig(**model), TrainConfig(**train)))
    trainer = Trainer(cfg, None, images)
    trainer.g.train()
    trainer.d.train()
    return trainer.advance, trainer.sampling_generator, cfg.model


def run_contender(args: argparse.Namespace) -> None:
    """Train one contender for the budget; print its snapshots as JSON (the parent reads the last line)."""
    start = time.perf_counter()
    torch.manual_seed(args.seed)  # the reference's init, data order and noise; ours takes --seed as its TrainConfig seed
    step, sampling_g, model = (build_reference if args.contender == "reference" else build_ours)(args)
    points = [args.budget * (k + 1) / args.points for k in range(args.points)]
    paused, steps, snaps = 0.0, 0, []
    while points:
        step()
        steps += 1
        elapsed = time.perf_counter() - start - paused
        if elapsed >= points[0]:
            t = time.perf_counter()
            snaps.append(snapshot(sampling_g(), model, Path(args.work) / f"{args.contender}_{len(snaps)}.pt", elapsed, steps))
            print(f"{args.contender}: {elapsed:.0f} s, step {steps}", file=sys.stderr, flush=True)
            points.pop(0)
            paused += time.perf_counter() - t
    print(json.dumps({"contender": args.contender, "snapshots": snaps, "threads": torch.get_num_threads()}))


def render_pngs(images: torch.Tensor, folder: Path) -> None:
    """Write the rooms as PNG files (one class folder, as ImageFolder wants); kept between runs."""
    from PIL import Image
    from tqdm import tqdm

    done = folder / f".complete-{len(images)}"
    if done.exists():
        return
    (folder / "rooms").mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(tqdm(images, desc="rooms -> PNG", unit="img")):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / "rooms" / f"{i:06d}.png")
    done.touch()


def rooms_judge(work: Path, count: int) -> Path:
    """Return the file of the rooms judge at 64x64 kept in ``work`` (trained here the first time: a few minutes)."""
    from dcgan.judges import TrainSettings, save_judge, train_judge

    path = work / f"rooms_judge_64_{count}.pt"
    if not path.exists():
        train = load_data(DataConfig(spec="rooms", image_size=SIZE, num_images=count))
        val = load_data(DataConfig(spec="rooms:test", image_size=SIZE, num_images=2000))
        judge, report = train_judge(train, val, list(train.labels), TrainSettings())
        print("judge held-out accuracy: " + ", ".join(f"{f} {100 * a:.1f}%" for f, a in report["accuracy"].items()), file=sys.stderr)
        save_judge(path, judge)
    return path


def samples(snap: dict, count: int, batch_stats: bool) -> torch.Tensor:
    """Draw seeds 0..count-1 from a snapshot: BN in eval mode, or with the statistics of batches of 128."""
    payload = torch.load(snap["path"], weights_only=True)
    g = build_models(ModelConfig(**payload["model"]), seed=0)[0]
    g.load_state_dict(payload["state"])
    z = z_from_seeds(range(count), g.cfg.z_dim, g.cfg.z_dist)
    if not batch_stats:
        return generate(g, z)
    with torch.no_grad():
        g.train()
        return torch.cat([to_uint8(g(z[i : i + 128])) for i in range(0, count, 128)])


def time_to_reach(curve: list[tuple[float, float]], target: float) -> float | None:
    """Return the first wall time at which a (seconds, distance) curve reaches ``target``, linear between points."""
    prev = (0.0, float("inf"))
    for t, d in curve:
        if d <= target:
            if prev[1] == float("inf"):
                return t
            return prev[0] + (t - prev[0]) * (prev[1] - target) / (prev[1] - d)
        prev = (t, d)
    return None


def train_contender(name: str, args: argparse.Namespace) -> dict:
    """Train one contender in its own process; its snapshots' manifest is kept in --work so `--reuse` can rescore them."""
    own = {"workers": args.workers} if name == "reference" else {"recipe": args.recipe}  # what else decides its training
    settings = {"budget": args.budget, "points": args.points, "images": args.images, "seed": args.seed, **own}
    manifest = Path(args.work) / f"{name}.json"
    if args.reuse and manifest.exists():
        kept = json.loads(manifest.read_text())
        if kept.get("settings") == settings:
            print(f"{name}: reusing the snapshots listed in {manifest}", file=sys.stderr)
            return kept
    manifest.unlink(missing_ok=True)  # snapshots are about to be overwritten
    cmd = [sys.executable, __file__, "--contender", name, *sys.argv[1:]]
    print(f"training {name} for {args.budget:.0f} s ...", file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    run = {**json.loads(out.strip().splitlines()[-1]), "settings": settings}
    manifest.write_text(json.dumps(run, indent=2) + "\n")
    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=float, default=900, help="wall-clock seconds per contender (default 900)")
    p.add_argument("--points", type=int, default=6, help="scored points per contender, evenly spaced (default 6)")
    p.add_argument("--images", type=int, default=20_000, help="rooms to train on (default 20000)")
    p.add_argument("--samples", type=int, default=1000, help="samples scored per point, and held-out rooms (default 1000)")
    p.add_argument("--recipe", default="", help="flags of dcgan train for ours (default: none, the paper's settings; the README recommends '--lr 1e-3 --ema 0.999')")
    p.add_argument("--seed", type=int, default=0, help="seed of both contenders' training (default 0)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the reference (main.py's default 2)")
    p.add_argument("--judge-images", type=int, default=16_000, help="rooms the judge is trained on (default 16000)")
    p.add_argument("--inception", action="store_true", help="also score FID (needs the [fid] extra's weights)")
    p.add_argument("--work", default=os.path.expanduser("~/.cache/dcgan/time_to_quality"), help="PNG files, judge, snapshots")
    p.add_argument("--reuse", action="store_true", help="rescore a contender's kept snapshots when its settings match instead of training it again")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--plot", help="write the curves here (PNG)")
    p.add_argument("--combine", nargs="+", metavar="JSON", help="only print a table of these results files (one recipe "
                   "each, one reference) and draw their curves together into --plot")
    p.add_argument("--contender", choices=CONTENDERS, help=argparse.SUPPRESS)  # internal: one training process
    args = p.parse_args()
    work = Path(args.work)
    if args.contender:
        return run_contender(args)
    if args.combine:
        return combine(args.combine, args.plot)

    work.mkdir(parents=True, exist_ok=True)
    render_pngs(load_data(DataConfig(spec="rooms", image_size=SIZE, num_images=args.images)).images, work / "rooms_png")
    from dcgan.features.extractors import inception_extractor, judge_extractor

    extractors = {"FD-judge": judge_extractor(rooms_judge(work, args.judge_images))}
    if args.inception:
        extractors["FID"] = inception_extractor()
    held_out = load_data(DataConfig(spec="rooms:test", image_size=SIZE, num_images=args.samples)).images
    ref_stats = {name: feature_statistics(ex.features(held_out)) for name, ex in extractors.items()}

    runs = {name: train_contender(name, args) for name in CONTENDERS}

    results: dict = {"budget_s": args.budget, "images": args.images, "samples": args.samples, "recipe": args.recipe or "paper defaults",
                     "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", "curves": {}}
    for name, run in runs.items():
        rows = []
        for snap in run["snapshots"]:
            row = {"seconds": snap["seconds"], "step": snap["step"]}
            for metric, ex in extractors.items():
                scores = {mode: frechet_distance(feature_statistics(ex.features(samples(snap, args.samples, mode))), ref_stats[metric]) for mode in (False, True)}
                row[metric] = min(scores.values())
                row[f"{metric}_eval_bn"], row[f"{metric}_batch_bn"] = scores[False], scores[True]
            rows.append(row)
            print(f"{name}: {row}", file=sys.stderr)
        results["curves"][name] = rows
    results["final_snapshots"] = {name: run["snapshots"][-1]["path"] for name, run in runs.items()}
    for metric in extractors:
        target = results["curves"]["reference"][-1][metric]
        reached = time_to_reach([(r["seconds"], r[metric]) for r in results["curves"]["ours"]], target)
        results[f"{metric}_reference_final"] = target
        results[f"{metric}_ours_seconds_to_reference_final"] = reached
        results[f"{metric}_time_share"] = None if reached is None else reached / args.budget
        share = "not reached" if reached is None else f"{reached:.0f} s = {reached / args.budget:.2f} of the budget (goal <= 0.33)"
        print(f"{metric}: reference final {target:.2f} at {args.budget:.0f} s; ours reaches it at {share}; "
              f"ours final {results['curves']['ours'][-1][metric]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"results: {args.json}")
    if args.plot:
        plot(results["curves"], {m: results[f"{m}_reference_final"] for m in extractors}, args.plot)
        grid = save_final_samples({n: (results["final_snapshots"][n], results["curves"][n][-1]) for n in runs}, 16, samples_path(args.plot))
        print(f"plot: {args.plot}; final samples (rows: {', '.join(runs)}): {grid}")


def curves_of(results: list[dict]) -> dict[str, list[dict]]:
    """Return {label: rows} of results files that share a reference: the reference once, then each file's ours by recipe."""
    curves = {"reference": results[0]["curves"]["reference"]}
    for r in results:
        if r["curves"]["reference"] != curves["reference"]:
            raise SystemExit("--combine: these results have different reference runs (train them with --reuse in one --work)")
        curves[f"ours, {r['recipe']}"] = r["curves"]["ours"]
    return curves


def combine(paths: list[str], plot_path: str | None) -> None:
    """Print one markdown table of several results files (one recipe each) and draw their curves together."""
    results = [json.loads(Path(p).read_text()) for p in paths]
    curves = curves_of(results)
    metrics = [k.removesuffix("_reference_final") for k in results[0] if k.endswith("_reference_final") and "_ours_" not in k]
    for metric in metrics:
        target = results[0][f"{metric}_reference_final"]
        points = [f"{r['seconds']:.0f} s" for r in curves["reference"]]
        print(f"| {metric} | steps at the end | " + " | ".join(points) + " | time to the reference's final |")
        print("|---" * (len(points) + 3) + "|")
        for label, rows in curves.items():
            reached = time_to_reach([(r["seconds"], r[metric]) for r in rows], target)
            share = "" if label == "reference" else "not reached" if reached is None else f"{reached:.0f} s ({reached / results[0]['budget_s']:.2f})"
            print(f"| {label} | {rows[-1]['step']} | " + " | ".join(f"{r[metric]:.0f}" for r in rows) + f" | {share} |")
    if plot_path:
        plot(curves, {m: results[0][f"{m}_reference_final"] for m in metrics}, plot_path)
        snaps = [results[0]["final_snapshots"]["reference"]] + [r["final_snapshots"]["ours"] for r in results]
        last_rows = {label: (snap, rows[-1]) for snap, (label, rows) in zip(snaps, curves.items(), strict=True)}
        grid = save_final_samples(last_rows, 16, samples_path(plot_path))
        print(f"plot: {plot_path}; final samples (rows: {', '.join(curves)}): {grid}")


def plot(curves: dict[str, list[dict]], targets: dict[str, float], path: str) -> None:
    """Draw distance against wall-clock minutes, one line per contender, the reference's final distance dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(targets), figsize=(5.5 * len(targets), 3.8), squeeze=False)
    for ax, (metric, target) in zip(axes[0], targets.items(), strict=True):
        for name, rows in curves.items():
            ax.plot([r["seconds"] / 60 for r in rows], [r[metric] for r in rows], "o-", label=name)
        ax.axhline(target, color="grey", lw=0.8, ls="--")
        ax.set(xlabel="wall-clock minutes (2 CPU cores)", ylabel=f"{metric} (lower is better)", title=f"64x64 rooms, {metric}")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def save_final_samples(rows: dict[str, tuple[str, dict]], count: int, path: Path) -> Path:
    """Save one row per contender: its last snapshot's samples of seeds 0..count-1, in its better BatchNorm mode.

    ``rows``: {label: (snapshot file, the curve's last row)}.
    """
    from dcgan.images import save_grid

    images = [samples({"path": snap}, count, last["FD-judge_batch_bn"] < last["FD-judge_eval_bn"])[:count] for snap, last in rows.values()]
    return save_grid(torch.cat(images), path, nrow=count)


def samples_path(plot_path: str) -> Path:
    return Path(plot_path).with_name(Path(plot_path).stem + "-samples.png")


if __name__ == "__main__":
    main()
