"""Training: finite losses, the run folder, and exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dcgan.checkpoint import load_checkpoint
from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from dcgan.models import build_models
from dcgan.train import GanStep, learning_rate, resume, train


def assert_same_tensors(expected: dict[str, torch.Tensor], actual: dict[str, torch.Tensor], what: str) -> None:
    """Assert two state dicts hold bit-identical tensors."""
    for name, tensor in expected.items():
        assert torch.equal(tensor, actual[name]), f"{what}.{name}"


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


def test_one_sided_label_smoothing_moves_only_the_real_target() -> None:
    from dcgan.losses import generator_loss, loss_real

    logits = torch.tensor([[-2.0], [0.0], [3.0]])
    p = torch.sigmoid(logits)
    expected = -(0.9 * torch.log(p) + 0.1 * torch.log(1 - p)).mean()
    assert torch.allclose(loss_real(logits, 0.9), expected)
    assert torch.allclose(generator_loss(logits), -torch.log(p).mean())  # G still aims at 1
    with pytest.raises(Exception, match="label-smoothing"):
        TrainConfig(label_smoothing=0.5)
    assert GanStep(*build_models(ModelConfig(image_size=16, z_dim=8, ngf=8, ndf=8)), TrainConfig(label_smoothing=0.1),
                   torch.device("cpu"), "fp32").real_target == pytest.approx(0.9)


def test_g_steps_adds_generator_updates_after_the_same_discriminator_update(tiny: ModelConfig) -> None:
    real = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    z = torch.randn(8, tiny.z_dim)
    nets = {}
    for g_steps in (1, 2):
        g, d = build_models(tiny, seed=0)
        step = GanStep(g, d, TrainConfig(g_steps=g_steps), torch.device("cpu"), "fp32")
        step(real, z)
        assert next(iter(step.opt_g.state.values()))["step"] == g_steps  # Adam's update count
        assert next(iter(step.opt_d.state.values()))["step"] == 1
        nets[g_steps] = g, d
    # D's weights match (its update comes first); its BatchNorm buffers saw one more batch of fakes
    assert_same_tensors(dict(nets[1][1].named_parameters()), dict(nets[2][1].named_parameters()), "D")
    assert not torch.equal(nets[1][0].state_dict()["project.0.weight"], nets[2][0].state_dict()["project.0.weight"])
    with pytest.raises(Exception, match="g-steps"):
        TrainConfig(g_steps=0)


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
        assert_same_tensors(straight[key], resumed[key], key)
    for opt in ("opt_g", "opt_d"):
        for pid, state in straight["optim"][opt]["state"].items():
            assert torch.equal(state["exp_avg"], resumed["optim"][opt]["state"][pid]["exp_avg"])


def test_lr_decay_is_linear_to_zero_over_the_end_of_the_run_and_resumes_exactly(tmp_path: Path) -> None:
    cfg = TrainConfig(lr=1.0, lr_decay=0.5)
    assert [learning_rate(cfg, s, 10) for s in range(10)] == pytest.approx([1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])
    assert {learning_rate(TrainConfig(lr=1.0), s, 10) for s in range(10)} == {1.0}
    # driven past its end (benchmarks/time_to_quality.py does): the last rate, never a division by zero
    assert [learning_rate(TrainConfig(lr=1.0), s, 10) for s in (10, 11)] == [1.0, 1.0]
    assert [learning_rate(cfg, s, 10) for s in (10, 11)] == [0.0, 0.0]
    with pytest.raises(Exception, match="lr-decay"):
        TrainConfig(lr_decay=1.5)
    # Steps 0-4 are at the full rate either way, so 5 constant steps + resume with the decay == 10 straight.
    straight = train(tiny_run(tmp_path / "a", max_steps=10, lr_decay=0.5))
    resumed = resume(train(tiny_run(tmp_path / "b", max_steps=5)), {"max_steps": 10, "lr_decay": 0.5})
    for key in ("generator", "discriminator"):
        assert_same_tensors(load_checkpoint(straight)[key], load_checkpoint(resumed)[key], key)
    lrs = [json.loads(line).get("lr") for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert lrs == pytest.approx([2e-4 * f for f in (1, 1, 1, 0.6, 0.2)])  # logged after steps 1, 3, 5, 7 and 9 (0-based)


def test_generator_average_is_an_ema_with_batchnorm_statistics_of_its_own(tiny: ModelConfig) -> None:
    from dcgan.ema import GeneratorAverage

    g, _ = build_models(tiny, seed=0)
    average = GeneratorAverage(g, decay=0.75, batch_size=16)
    average.update(g)  # the first update copies
    before = [p.detach().clone() for p in g.parameters()]
    with torch.no_grad():
        for p in g.parameters():
            p.add_(1.0)
    average.update(g)  # the warm-up ramp's decay at the second update is min(0.75, 2 / 11)
    for avg, old in zip(average.generator.parameters(), before, strict=True):
        assert torch.allclose(avg, old + 9 / 11)
    calibrated = average.calibrated()
    assert not calibrated.training
    bn = next(m for m in calibrated.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert not torch.equal(bn.running_mean, next(m for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)).running_mean)
    first = {k: v.clone() for k, v in calibrated.state_dict().items()}
    average.calibrated_at = None  # force a second estimate: the same codes give the same statistics
    assert_same_tensors(first, average.calibrated().state_dict(), "calibrated")


def test_generate_runs_g_in_eval_mode_and_restores_its_mode(tiny: ModelConfig) -> None:
    from dcgan.sampling import generate

    g, _ = build_models(tiny, seed=0)
    z = torch.randn(6, tiny.z_dim)
    g.train()
    batched = generate(g, z, batch_size=6)
    assert g.training  # a training G stays in training mode
    assert torch.equal(batched, generate(g, z, batch_size=1))  # eval mode: each image independent of its batch
    g.eval()
    generate(g, z)
    assert not g.training


def test_ema_run_samples_from_the_average_and_resumes_exactly(tmp_path: Path) -> None:
    from dcgan.checkpoint import generator_from_checkpoint

    straight = load_checkpoint(train(tiny_run(tmp_path / "a", max_steps=10, ema=0.9)))
    resumed = load_checkpoint(resume(train(tiny_run(tmp_path / "b", max_steps=5, ema=0.9)), {"max_steps": 10}))
    assert straight["generator_ema"]["updates"] == resumed["generator_ema"]["updates"] == 10
    assert_same_tensors(straight["generator_ema"]["generator"], resumed["generator_ema"]["generator"], "generator_ema")
    averaged, live = generator_from_checkpoint(straight), generator_from_checkpoint(straight, averaged=False)
    z = torch.randn(4, 8)
    assert not torch.equal(averaged(z), live(z))
    assert torch.equal(live(z), generator_from_checkpoint(load_checkpoint(train(tiny_run(tmp_path / "c", max_steps=10))))(z))


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


def test_resume_names_the_number_of_processes_a_run_was_trained_by(tmp_path: Path) -> None:
    """A checkpoint of a 2-process run (2 steps per epoch of 32 images at batch 8) resumed in 1 process says so."""
    from dcgan.checkpoint import save_checkpoint
    from dcgan.errors import UserError

    run_dir = train(tiny_run(tmp_path, max_steps=2))
    payload = load_checkpoint(run_dir)
    assert payload["world_size"] == 1
    ckpt = run_dir / "checkpoints" / "latest.pt"
    save_checkpoint(ckpt, {**payload, "world_size": 2, "steps_per_epoch": 2})
    with pytest.raises(UserError, match=r"^this run was trained by 2 processes \(batch 8 each\), now 1: resume with "
                                        r"'torchrun --standalone --nproc_per_node 2 -m dcgan.cli train --resume "):
        resume(run_dir, {"max_steps": 4})
    old = {k: v for k, v in payload.items() if k != "world_size"}  # written before the field existed
    save_checkpoint(ckpt, {**old, "steps_per_epoch": 2})
    with pytest.raises(UserError, match="changed since the checkpoint was written .or it was trained by another number of processes"):
        resume(run_dir, {"max_steps": 4})
    save_checkpoint(ckpt, old)
    assert load_checkpoint(resume(run_dir, {"max_steps": 4}))["step"] == 4  # old checkpoints still resume
