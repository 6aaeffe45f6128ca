"""The GPU path: batches fed on the device, the step captured as a CUDA graph, TF32, bf16 by default.

The ``cuda`` tests need a CUDA GPU and skip without one (``benchmarks/gpu_check.sh`` runs them on a GPU
machine); the others check, on any machine, the parts of the path that do not need one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dcgan.checkpoint import load_checkpoint
from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from dcgan.data import BatchSampler
from dcgan.data.feed import BatchFeed
from dcgan.graphs import CapturedStep, graph_ready
from dcgan.models import build_models
from dcgan.train import GanStep, Trainer, learning_rate, prepare, resume, train

_skip_without_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (benchmarks/gpu_check.sh runs these on one)")


def cuda(test):
    """Mark ``test`` as a CUDA test (marker ``cuda``, selected by gpu_check.sh) that skips without a GPU."""
    return pytest.mark.cuda(_skip_without_cuda(test))
GPU = torch.device("cuda") if torch.cuda.is_available() else None


def tiny_run(tmp_path: Path, device: str, name: str = "g", **train_kw) -> RunConfig:
    train_kw = {"batch_size": 8, "log_every": 2, "out": str(tmp_path / "runs"), "name": name, "num_fixed_samples": 4, "device": device, **train_kw}
    return RunConfig(DataConfig(spec="fake", image_size=16, num_images=64), ModelConfig(image_size=16, z_dim=8, ngf=8, ndf=8), TrainConfig(**train_kw))


def test_graphs_are_used_only_where_a_graph_can_replay_the_step() -> None:
    gpu = torch.device("cuda", 0)
    assert graph_ready(gpu, "bf16", 1, False) == (True, "")
    assert graph_ready(gpu, "fp32", 1, False)[0]
    for device, precision, world, compile, reason in [(torch.device("cpu"), "fp32", 1, False, "GPU"), (gpu, "fp16", 1, False, "scaler"),
                                                      (gpu, "bf16", 2, False, "DDP"), (gpu, "bf16", 1, True, "--compile")]:
        ok, why = graph_ready(device, precision, world, compile)
        assert not ok and reason in why
    ok, why = graph_ready(gpu, "bf16", 1, False, conditional=True)
    assert not ok and "conditional" in why


def test_the_cpu_feed_gives_the_sampler_s_batches() -> None:
    images = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8)
    sampler = BatchSampler(40, 8, seed=3)
    feed = BatchFeed(images, sampler, torch.device("cpu"))
    for step in (0, 4, 5, 11):  # across an epoch boundary (5 steps per epoch)
        assert torch.equal(feed(step), images[sampler.indices(step)])
    assert feed.placement == "host memory"


@pytest.mark.parametrize("rank", [0, 1])
def test_the_resident_feed_gathers_the_sampler_s_batches(rank: int) -> None:
    """The GPU-resident path (forced here on the CPU): per-epoch order on the device, one gather a batch."""
    images = torch.arange(45, dtype=torch.uint8).view(45, 1, 1, 1).expand(45, 1, 2, 2).contiguous()
    sampler = BatchSampler(45, 4, seed=5, rank=rank, world_size=2)  # 5 steps per epoch, 5 images left out each
    feed = BatchFeed(images, sampler, torch.device("cpu"), resident=True)
    assert feed.placement.startswith("on the CPU")
    seen = []
    for step in (0, 1, 4, 5, 9, 13, 2):  # across epochs and back (a resume starts anywhere)
        batch = feed(step)
        assert torch.equal(batch, images[sampler.indices(step)])
        seen.append(batch[:, 0, 0, 0].tolist())
    assert seen[0] != seen[3]  # epoch 1 is in another order than epoch 0


def test_a_checkpointed_learning_rate_is_a_plain_float(tmp_path: Path) -> None:
    """Optimiser states are saved with float rates, so a GPU-written checkpoint resumes on a CPU."""
    cfg = tiny_run(tmp_path, "cpu", max_steps=4)
    payload = load_checkpoint(train(cfg) / "checkpoints" / "latest.pt")
    for name in ("opt_g", "opt_d"):
        assert all(type(group["lr"]) is float for group in payload["optim"][name]["param_groups"])


def gap(x: dict, y: dict) -> float:
    """Return the largest difference between two checkpoints' G weights."""
    return max((x["generator"][k].float() - y["generator"][k].float()).abs().max().item()
               for k in x["generator"] if x["generator"][k].is_floating_point())


@cuda
def test_gpu_feeds_give_the_host_s_batches_resident_or_prefetched() -> None:
    images = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8)
    sampler = BatchSampler(40, 8, seed=3)
    resident, prefetched = (BatchFeed(images, sampler, GPU, resident=r) for r in (True, False))
    assert resident.images.is_cuda and not prefetched.images.is_cuda
    for step in (0, 1, 2, 3, 4, 5, 9, 2, 3):  # in order, across epochs, and a jump back (as a resume makes)
        expected = images[sampler.indices(step)]
        assert torch.equal(resident(step).cpu(), expected), step
        assert torch.equal(prefetched(step).cpu(), expected), step


@cuda
def test_a_captured_step_trains_exactly_as_the_eager_step() -> None:
    """Same batches and codes: the replayed graph must give the eager step's weights (deterministic kernels)."""
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    cfg = ModelConfig(image_size=16, z_dim=8, ngf=8, ndf=8)
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8, generator=gen).cuda() for _ in range(7)]
    codes = [torch.randn(8, 8, generator=gen).cuda() for _ in range(7)]
    nets = {}
    for captured in (False, True):
        g, d = (m.cuda() for m in build_models(cfg, seed=0))
        step = GanStep(g, d, TrainConfig(lr=1e-3), GPU, "fp32", capturable=captured)
        step = CapturedStep(step) if captured else step
        for i, (real, z) in enumerate(zip(batches, codes, strict=True)):
            step.set_lr(1e-3 * (1 - i / 10))  # a changing rate must reach the graph too
            step(real, z)
        nets[captured] = (g, d, step.read_stats())
        if captured:
            assert step.graph is not None and step.calls == 7
    (g0, d0, s0), (g1, d1, s1) = nets[False], nets[True]
    for a, b in [(g0, g1), (d0, d1)]:
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.allclose(x.float(), y.float(), rtol=1e-5, atol=1e-6), name
    assert s0 == pytest.approx(s1, rel=1e-5)


@cuda
def test_a_gpu_run_uses_bf16_graphs_and_resident_data_and_resumes(tmp_path: Path) -> None:
    cfg, data = prepare(tiny_run(tmp_path, "cuda", max_steps=8))
    trainer = Trainer(cfg, None, data)
    assert trainer.precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    assert isinstance(trainer.step_fn, CapturedStep) == (trainer.precision == "bf16")
    assert trainer.feed.resident and torch.backends.cuda.matmul.allow_tf32
    straight = train(tiny_run(tmp_path, "cuda", "straight", max_steps=8))
    first = train(tiny_run(tmp_path, "cuda", "split", max_steps=4))
    halfway = load_checkpoint(first / "checkpoints" / "latest.pt")
    resume(first, {"max_steps": 8})
    a, b = (load_checkpoint(run / "checkpoints" / "latest.pt") for run in (straight, first))
    assert halfway["step"] == 4 and a["step"] == b["step"] == 8
    # GPU kernels are not bit-deterministic here (cuDNN benchmark mode, atomics): the resumed run must
    # follow the straight one closely, far closer than two runs of different seeds do.
    other = load_checkpoint(train(tiny_run(tmp_path, "cuda", "seed1", max_steps=8, seed=1)) / "checkpoints" / "latest.pt")
    assert gap(a, b) < 0.1 * gap(a, other)
    assert gap(b, halfway) > 0  # the resumed half trained


@cuda
def test_a_decaying_rate_reaches_the_captured_step(tmp_path: Path) -> None:
    run = train(tiny_run(tmp_path, "cuda", "decay", max_steps=8, lr_decay=0.5, precision="fp32"))
    saved = load_checkpoint(run / "checkpoints" / "latest.pt")["optim"]["opt_g"]["param_groups"][0]["lr"]
    assert saved == pytest.approx(learning_rate(TrainConfig(lr_decay=0.5), 7, 8))
