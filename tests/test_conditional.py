"""The MNIST appendix: a conditional DCGAN (one-hot label joined to z and to D's maps), --label, and dcgan nn-classify."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import dcgan
from dcgan.analysis.nn_classify import ClassSamples, nearest_neighbour, nn_classify, nn_error
from dcgan.checkpoint import load_checkpoint
from dcgan.cli import main
from dcgan.config import VARIANTS, DataConfig, ModelConfig, RunConfig, TrainConfig
from dcgan.errors import UserError
from dcgan.models import build_models
from dcgan.train import GanStep, train

K = 4


def _bars(path: Path, split: str, n: int, seed: int) -> Path:
    """A toy labelled set: class k is a white horizontal bar on rows 4k..4k+2 of a black 16x16 image."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % K
    rng.shuffle(y)
    x = np.zeros((n, 16, 16, 1), np.uint8)
    for i, k in enumerate(y):
        x[i, 4 * k : 4 * k + 3, :, 0] = 255
    np.savez(path, **{f"x_{split}": x, f"y_{split}": y.astype(np.int64)}, class_names=np.array(list("abcd")))
    return path


@pytest.fixture(scope="module")
def bars(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(conditional run folder, train npz, test npz): a tiny conditional G trained a few steps on the bars."""
    root = tmp_path_factory.mktemp("cond")
    train_npz, test_npz = _bars(root / "train.npz", "train", 64, 0), _bars(root / "test.npz", "test", 40, 1)
    cfg = RunConfig(data=DataConfig(spec=str(train_npz), image_size=16),
                    model=ModelConfig(image_size=16, z_dim=8, ngf=4, ndf=4, conditional=True),
                    train=TrainConfig(batch_size=16, max_steps=4, out=str(root / "runs"), name="cond", num_fixed_samples=8, log_every=2))
    return train(cfg), train_npz, test_npz


def _cfg(variant: str) -> ModelConfig:
    return ModelConfig(image_size=16, channels=1, z_dim=8, ngf=4, ndf=4, variant=variant, conditional=True, num_classes=K)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_is_conditioned_on_the_label(variant: str) -> None:
    g, d = build_models(_cfg(variant), seed=0)
    g.eval(), d.eval()
    z = torch.randn(K, 8)
    a, b = torch.tensor([0, 1, 2, 3]), torch.tensor([3, 2, 1, 0])
    with torch.no_grad():
        images = g(z, a)
        assert images.shape == (K, 1, 16, 16)
        assert not torch.allclose(images, g(z, b))  # the label changes the image of the same z
        assert not torch.allclose(d(images, a), d(images, b))  # ... and D's judgement of the same image
        # Without labels G draws image i as class i mod K; with join.label set, every image as that class.
        assert torch.equal(g(z), images)
        g.join.label = 2
        assert torch.equal(g(z), g(z, torch.full((K,), 2)))
        # D without labels joins zeros (no class information): defined, and different from any one-hot label.
        assert d(images).shape == (K,) and not torch.allclose(d(images), d(images, a))


def test_the_one_hot_label_joins_z_and_every_d_block() -> None:
    g, d = build_models(_cfg("dcgan"), seed=0)
    assert g.project[1].in_channels == 8 + K  # z joined with the one-hot label
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.in_channels for c in convs] == [1 + K, 4 + K, 8 + K]  # image, block 1's maps and the head's input
    plain, _ = build_models(ModelConfig(image_size=16, channels=1, z_dim=8, ngf=4, ndf=4), seed=0)
    assert plain.join is None and plain.project[0].in_channels == 8  # the unconditional model is unchanged


def test_config_checks_the_class_count() -> None:
    with pytest.raises(UserError, match="num_classes"):
        ModelConfig(num_classes=10)  # classes without --conditional
    with pytest.raises(UserError, match="num_classes"):
        ModelConfig(conditional=True, num_classes=1)
    with pytest.raises(ValueError, match="num_classes"):
        build_models(ModelConfig(conditional=True))  # the class count comes from the data (dcgan.train)


def test_training_step_uses_the_real_labels() -> None:
    """Same init, images and z; only the labels differ: the updated weights differ, so the step reads them."""
    results = []
    for labels in (torch.tensor([0, 1, 2, 3] * 2), torch.tensor([3, 2, 1, 0] * 2)):
        g, d = build_models(_cfg("dcgan"), seed=0)
        step = GanStep(g, d, TrainConfig(lr=1e-2), torch.device("cpu"), "fp32")
        step(torch.randint(0, 255, (8, 1, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8),
             torch.randn(8, 8, generator=torch.Generator().manual_seed(1)), labels)
        results.append(torch.cat([p.detach().flatten() for p in g.parameters()]))
    assert not torch.allclose(*results)


def test_conditional_run_round_trips_and_samples_a_label(bars: tuple[Path, Path, Path]) -> None:
    run_dir, _, _ = bars
    cfg = json.loads((run_dir / "config.json").read_text())["model"]
    assert cfg["conditional"] is True and cfg["num_classes"] == K  # from the data's class names
    model = dcgan.load(run_dir, "cpu", label=2)
    z = model.codes(range(6))
    with torch.no_grad():
        expected = model.generator(z, torch.full((6,), 2))
    assert torch.equal(model.sample(range(6)).float(), expected.add(1).mul(127.5).round().clamp(0, 255))
    assert model.describe()["conditional_label"] == 2
    assert not torch.equal(model.sample(range(6)), dcgan.load(run_dir, "cpu", label=0).sample(range(6)))
    with pytest.raises(UserError, match="from 0 to 3"):
        dcgan.load(run_dir, "cpu", label=K)


def test_label_flag_of_sample_and_its_errors(bars: tuple[Path, Path, Path], trained, tmp_path: Path, capsys) -> None:
    run_dir, _, _ = bars
    assert main(["sample", str(run_dir), "--seeds", "0-3", "--label", "1", "--out", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "seeds-0-3-label-1.png").exists()
    assert json.loads((tmp_path / "s" / "results.json").read_text())["source"]["conditional_label"] == 1
    assert main(["sample", str(trained.run_dir), "--label", "1", "--out", str(tmp_path / "t")]) == 2
    assert "not a conditional model" in capsys.readouterr().err and not (tmp_path / "t").exists()


def test_label_flag_of_project_and_judge(bars: tuple[Path, Path, Path], trained, tmp_path: Path, capsys) -> None:
    run_dir, _, test_npz = bars
    project_args = ["project", str(run_dir), f"{test_npz}:test", "--num-images", "2", "--steps", "2", "--restarts", "1", "--baseline", "8"]
    assert main([*project_args, "--label", "3", "--out", str(tmp_path / "p")]) == 0
    assert json.loads((tmp_path / "p" / "results.json").read_text())["source"]["conditional_label"] == 3
    assert main([*project_args, "--out", str(tmp_path / "p-none")]) == 2  # which class to search is not guessed
    assert "conditional model: give the class to project into with --label K" in capsys.readouterr().err
    assert not (tmp_path / "p-none").exists()
    score = ["judge", "score", str(trained.judge), str(run_dir), "--seeds", "0-3", "--resize"]
    assert main([*score, "--label", "2", "--out", str(tmp_path / "s" / "scores.json")]) == 0
    assert json.loads((tmp_path / "s" / "scores.json").read_text())["source"]["conditional_label"] == 2
    assert main(["judge", "score", str(trained.judge), str(tmp_path / "p"), "--label", "2", "--out", str(tmp_path / "f" / "s.json")]) == 2
    assert "holds images, not a checkpoint" in capsys.readouterr().err and not (tmp_path / "f").exists()


def test_conditional_training_needs_class_labels(tmp_path: Path) -> None:
    cfg = RunConfig(data=DataConfig(spec="rooms", image_size=16, num_images=32), model=ModelConfig(image_size=16, z_dim=8, ngf=4, ndf=4, conditional=True),
                    train=TrainConfig(batch_size=16, max_steps=2, out=str(tmp_path / "runs")))
    with pytest.raises(UserError, match="needs class labels"):
        train(cfg)
    assert not (tmp_path / "runs").exists()  # refused before writing


def test_nearest_neighbour_known_answer() -> None:
    train_x = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    train_y = torch.tensor([0, 1, 2])
    test_x = torch.tensor([[1.0, 1.0], [9.0, 1.0], [1.0, 9.0], [6.0, 0.0], [5.0, 0.0]])
    test_y = torch.tensor([0, 1, 2, 0, 0])
    for chunk in (1, 2, 64):
        index, dist = nearest_neighbour(train_x, test_x, chunk)
        assert index.tolist() == [0, 1, 2, 1, 0]  # (5, 0) is as near to 0 as to 1: the lower index wins
        assert dist.tolist() == pytest.approx([2.0, 2.0, 2.0, 16.0, 25.0])
        error, predicted = nn_error(train_x, train_y, test_x, test_y, chunk)
        assert error == pytest.approx(1 / 5) and predicted.tolist() == [0, 1, 2, 1, 0]


def test_batched_distances_match_brute_force() -> None:
    gen = torch.Generator().manual_seed(0)
    train_x, test_x = torch.rand(300, 49, generator=gen), torch.rand(70, 49, generator=gen)
    index, dist = nearest_neighbour(train_x, test_x, chunk=16)
    brute = torch.cdist(test_x.double(), train_x.double()).pow(2)
    assert torch.equal(index, brute.argmin(1))
    assert dist.double() == pytest.approx(brute.min(1).values, abs=1e-4)


def test_class_samples_are_drawn_on_demand_as_the_model_draws_them(bars: tuple[Path, Path, Path]) -> None:
    run_dir, _, _ = bars
    model = dcgan.load(run_dir, "cpu")
    samples = ClassSamples(model, per_class=5, start_seed=10, batch_size=3)
    assert len(samples) == 5 * K and samples.labels(torch.tensor([0, 4, 5, 19])).tolist() == [0, 0, 1, 3]
    rows = samples[torch.tensor([7, 2, 18])]  # class 1 seed 12, class 0 seed 12, class 3 seed 13
    for row, (label, seed) in zip(rows, [(1, 12), (0, 12), (3, 13)], strict=True):
        assert torch.equal(row, dcgan.load(run_dir, "cpu", label=label).sample([seed])[0])
    assert torch.equal(samples[5:10], dcgan.load(run_dir, "cpu", label=1).sample(range(10, 15)))
    assert model.generator.join.label is None  # drawing restores the label the model was opened with


def test_nn_classify_tool(bars: tuple[Path, Path, Path], trained, tmp_path: Path) -> None:
    run_dir, train_npz, test_npz = bars
    model = dcgan.load(run_dir, "cpu")
    result = nn_classify(model, test=f"{test_npz}:test", samples=40, real=f"{train_npz}:train", chunk=7)
    assert result.real_error == 0.0  # every bar of the real training set matches its class's test bars exactly
    assert (result.test_count, result.sample_count, result.real_count) == (40, 40, 40)
    assert int(result.confusion.sum()) == 40
    wrong = 1 - result.confusion.diag().sum().item() / 40
    assert result.error == pytest.approx(wrong)
    assert model.generator.join.label is None  # the tool restores the label the model was opened with
    other_chunk = nn_classify(model, test=f"{test_npz}:test", samples=40, chunk=64)  # the samples drawn 64 at a time, not 7
    assert other_chunk.error == result.error and torch.equal(other_chunk.confusion, result.confusion)
    assert main(["nn-classify", str(run_dir), "--test", f"{test_npz}:test", "--samples", "8", "--out", str(tmp_path / "nn")]) == 0
    doc = json.loads((tmp_path / "nn" / "results.json").read_text())
    assert doc["samples"] == 8 and doc["paper"][0]["error_percent"] == 3.1
    assert {"class-samples.png", "confusion.png"} <= {p.name for p in (tmp_path / "nn").iterdir()}
    assert main(["nn-classify", str(trained.run_dir), "--test", f"{test_npz}:test", "--out", str(tmp_path / "no")]) == 2
    assert not (tmp_path / "no").exists()
    with pytest.raises(UserError, match="fewer than the model's 4 classes"):
        nn_classify(model, test=f"{test_npz}:test", samples=3)


@pytest.mark.slow
def test_a_compiled_conditional_step_learns_what_the_eager_step_learns(bars: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """torch.compile (--compile) of a conditional model: the label joins survive compilation and the math is unchanged."""
    _, train_npz, _ = bars
    states = {}
    for compiled in (False, True):
        cfg = RunConfig(data=DataConfig(spec=str(train_npz), image_size=16),
                        model=ModelConfig(image_size=16, z_dim=8, ngf=4, ndf=4, conditional=True),
                        train=TrainConfig(batch_size=16, max_steps=3, precision="fp32", compile=compiled, out=str(tmp_path / str(compiled)),
                                          num_fixed_samples=8, log_every=1))
        run = train(cfg)
        states[compiled] = load_checkpoint(run / "checkpoints" / "latest.pt")["generator"]
        assert json.loads((run / "config.json").read_text())["train"]["compile"] is compiled
    for name, eager in states[False].items():
        assert torch.allclose(states[True][name].float(), eager.float(), atol=1e-4), name
