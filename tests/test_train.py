"""Training: finite losses, the run folder, and exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dcgan.checkpoint import load_checkpoint
from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from dcgan.models import build_models
from dcgan.train import GanStep, resume, train


def tiny_run(tmp_path: Path, name: str = "t", **train_kw) -> RunConfig:
    train_kw = {"batch_size": 8, "log_every": 2, "out": str(tmp_path / "runs"), "name": name, "num_fixed_samples": 4, **train_kw}
    return RunConfig(
        data=DataConfig(spec="fake", image_size=16, num_images=32),
        model=ModelConfig(image_size=16, z_dim=8, ngf=8, ndf=8),
        train=TrainConfig(**train_kw),
    )


def test_step_gives_finite_losses_and_updates_both_nets(tiny: ModelConfig) -> None:
    g, d = build_models(tiny, seed=0)
    g0 = [p.detach().clone() for p in g.parameters()]
    d0 = [p.detach().clone() for p in d.parameters()]
    step = GanStep(g, d, TrainConfig(), torch.device("cpu"), "fp32")
    real = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    for _ in range(3):
        step(real, torch.randn(8, tiny.z_dim))
    stats = step.read_stats()
    assert all(torch.isfinite(torch.tensor(v)) for v in stats.values())
    assert 0 < stats["d_real"] < 1 and 0 < stats["d_fake"] < 1
    assert all(not torch.equal(a, b) for a, b in zip(g0, g.parameters(), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(d0, d.parameters(), strict=True))
    assert all(p.requires_grad for p in d.parameters())  # frozen only during G's update
    assert step.read_stats()["loss_d"] == 0.0  # statistics were reset by the previous read


def test_run_folder_holds_everything(tmp_path: Path) -> None:
    run_dir = train(tiny_run(tmp_path, epochs=2))
    assert run_dir.name == "00000-t"
    for name in ("config.json", "log.txt", "metrics.jsonl", "loss_curves.png", "samples/epoch-0001.png",
                 "samples/epoch-0002.png", "checkpoints/latest.pt", "checkpoints/epoch-0001.pt", "checkpoints/epoch-0002.pt"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    config = json.loads((run_dir / "config.json").read_text())
    assert config["train"]["lr"] == 2e-4 and config["train"]["beta1"] == 0.5 and config["model"]["channels"] == 3
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6, 8]
    assert {"loss_d", "loss_g", "d_real", "d_fake", "images_per_sec"} <= set(records[0])
    payload = load_checkpoint(run_dir)
    assert payload["step"] == 8 and payload["epoch"] == 2
    assert train(tiny_run(tmp_path, max_steps=1)).name == "00001-t"  # numbered, never overwritten


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_resume_is_bit_identical(tmp_path: Path, precision: str) -> None:
    """N steps straight == N/2 steps, resume, N/2 steps (weights, BN buffers and optimiser state)."""
    straight = load_checkpoint(train(tiny_run(tmp_path / "a", max_steps=10, precision=precision)))
    half = train(tiny_run(tmp_path / "b", max_steps=5, precision=precision))  # ends mid-epoch (4 steps each)
    resumed = load_checkpoint(resume(half, {"max_steps": 10}))
    assert resumed["step"] == 10
    for key in ("generator", "discriminator"):
        for name, tensor in straight[key].items():
            assert torch.equal(tensor, resumed[key][name]), f"{key}.{name}"
    for opt in ("opt_g", "opt_d"):
        for pid, state in straight["optim"][opt]["state"].items():
            assert torch.equal(state["exp_avg"], resumed["optim"][opt]["state"][pid]["exp_avg"])


def test_resume_keeps_the_run_folder_and_step_count(tmp_path: Path) -> None:
    run_dir = train(tiny_run(tmp_path, max_steps=4))
    assert resume(run_dir / "checkpoints" / "latest.pt", {"max_steps": 6}) == run_dir
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6]
    assert load_checkpoint(run_dir)["step"] == 6


def test_resume_refuses_changed_model_settings_and_finished_runs(tmp_path: Path) -> None:
    from dcgan.errors import UserError

    run_dir = train(tiny_run(tmp_path, max_steps=2))
    with pytest.raises(UserError, match="differs from the checkpoint"):
        resume(run_dir, {}, {"model.ngf": 16})
    with pytest.raises(UserError, match="already reached step 2"):
        resume(run_dir, {})


def test_channels_last_is_in_effect_in_the_step(tiny: ModelConfig) -> None:
    g, d = build_models(tiny, seed=0)
    g.to(memory_format=torch.channels_last)
    d.to(memory_format=torch.channels_last)
    seen = []
    d.blocks[0].register_forward_pre_hook(lambda _m, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    step = GanStep(g, d, TrainConfig(channels_last=True), torch.device("cpu"), "fp32")
    step(torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8), torch.randn(4, tiny.z_dim))
    assert seen and all(seen)
    assert d.blocks[1][0].weight.is_contiguous(memory_format=torch.channels_last)
