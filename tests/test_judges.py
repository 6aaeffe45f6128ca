"""Judges: training (rooms, .npz, image folders), saving/loading, scoring, queries, selection, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan.cli import main
from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from dcgan.data import load_data
from dcgan.errors import UserError
from dcgan.judges import (
    Condition,
    Judge,
    JudgeConfig,
    JudgeNet,
    TrainSettings,
    load_judge,
    match,
    parse_query,
    save_judge,
    select_seeds,
    summarise,
    train_judge,
    train_localiser,
)

QUIET = {"log": lambda _msg: None, "threads": 1}  # one thread: far faster on a busy machine


@pytest.fixture(scope="module")
def rooms_judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny 32x32 rooms judge of the easy factors, plus a tiny localiser, saved to a file."""
    train = load_data(DataConfig(spec="rooms", image_size=32, num_images=1536))
    val = load_data(DataConfig(spec="rooms:test", image_size=32, num_images=256))
    settings = TrainSettings(epochs=2, batch_size=64, width=8, feature_dim=32, localiser_steps=15, localiser_batch=16,
                             localiser_val=32, **QUIET)
    judge, report = train_judge(train, val, ["wall", "light", "bed"], settings)
    assert report["accuracy"]["wall"] > 0.9 and report["accuracy"]["light"] > 0.9  # learnt, not guessed
    judge.localiser = train_localiser(32, 3, settings)
    path = tmp_path_factory.mktemp("judge") / "rooms-32.pt"
    save_judge(path, judge)
    return path


@pytest.fixture(scope="module")
def rooms_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny 32x32 rooms checkpoint (two training steps)."""
    from dcgan.train import train

    out = tmp_path_factory.mktemp("runs")
    cfg = RunConfig(DataConfig(spec="rooms", image_size=32, num_images=64),
                    ModelConfig(image_size=32, z_dim=8, ngf=8, ndf=8),
                    TrainConfig(batch_size=32, max_steps=2, out=str(out), name="tiny", num_fixed_samples=4))
    return train(cfg) / "checkpoints" / "latest.pt"


def test_saved_judge_loads_with_the_same_predictions(rooms_judge: Path) -> None:
    judge = load_judge(rooms_judge)
    assert judge.factors == ["wall", "light", "bed"]
    assert judge.value_names["wall"] == ["red", "green", "blue", "yellow"]
    images = load_data(DataConfig(spec="rooms:val", image_size=32, num_images=40)).images
    probs = judge.predict(images)
    assert set(probs) == {"wall", "light", "bed"} and probs["wall"].shape == (40, 4)
    assert torch.allclose(probs["light"].sum(1), torch.ones(40))
    again = load_judge(rooms_judge).predict(images)
    assert all(torch.equal(probs[f], again[f]) for f in probs)
    feats = judge.features(images)
    assert feats.shape == (40, 32) and feats.dtype == torch.float32
    confident = judge.confident(probs, 0.5)
    assert confident.shape == (40,) and confident.dtype == torch.bool
    assert torch.equal(confident, judge.confident(images, 0.5))
    assert judge.report["accuracy"]["wall"] > 0.9
    # a batch's predictions do not depend on the other images in it (BatchNorm in eval mode)
    assert torch.allclose(judge.predict(images[3:4])["wall"], probs["wall"][3:4], atol=1e-5)


def test_localiser_masks_and_boxes(rooms_judge: Path) -> None:
    loc = load_judge(rooms_judge).localiser
    assert loc is not None and loc.objects == ["window", "bed", "rug"]
    assert set(loc.report["iou"]) == {"window", "bed", "rug"}
    images = load_data(DataConfig(spec="rooms", image_size=32, num_images=3)).images
    masks = loc.masks(images)
    assert masks["window"].shape == (3, 32, 32) and 0 <= float(masks["bed"].min()) <= float(masks["bed"].max()) <= 1
    boxes = loc.boxes(images, threshold=0.0)  # everything above 0: one box covering the image
    assert boxes[0]["bed"] == [(0, 0, 32, 32)]


def test_wrong_size_or_channels_is_a_clear_error(rooms_judge: Path) -> None:
    judge = load_judge(rooms_judge)
    with pytest.raises(UserError, match="trained on 32x32 images but got 64x64"):
        judge.predict(torch.zeros(2, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(UserError, match="3-channel"):
        judge.predict(torch.zeros(2, 1, 32, 32, dtype=torch.uint8))
    with pytest.raises(UserError, match="uint8"):
        judge.features(torch.zeros(2, 3, 32, 32))


def test_parse_query() -> None:
    assert parse_query("window=2,wall=red") == [Condition("window", ("2",)), Condition("wall", ("red",))]
    assert parse_query(" bed != none , window=1|2 ") == [Condition("bed", ("none",), True), Condition("window", ("1", "2"))]
    for bad in ["", "window", "=2", "window==2", "wall=red,,x"]:
        with pytest.raises(UserError):
            parse_query(bad)


def _fake_judge() -> Judge:
    cfg = JudgeConfig(16, 3, ("wall", "window"), (("red", "blue"), ("0", "1", "2")), width=4, feature_dim=8)
    return Judge(JudgeNet(cfg))


def test_match_uses_probabilities_of_the_asked_values() -> None:
    judge = _fake_judge()
    probs = {"wall": torch.tensor([[0.95, 0.05], [0.5, 0.5], [0.02, 0.98]]),
             "window": torch.tensor([[0.0, 0.05, 0.95], [0.3, 0.3, 0.4], [0.9, 0.05, 0.05]])}
    assert match(judge, "wall=red", probs).tolist() == [True, False, False]
    assert match(judge, "wall=red,window=2", probs).tolist() == [True, False, False]
    assert match(judge, "window=1|2", probs).tolist() == [True, False, False]
    assert match(judge, "window!=0", probs).tolist() == [True, False, False]
    assert match(judge, "window!=0", probs, min_prob=0.6).tolist() == [True, True, False]
    assert match(judge, "wall=blue", probs).tolist() == [False, False, True]
    with pytest.raises(UserError, match="no factor 'bed'"):
        match(judge, "bed=none", probs)
    with pytest.raises(UserError, match="no value 'green'"):
        match(judge, "wall=green", probs)


class _BrightnessJudge(Judge):
    """Judges 'light=day' when the image's mean pixel is above a threshold: a known answer to test selection."""

    def __init__(self, threshold: float) -> None:
        super().__init__(JudgeNet(JudgeConfig(32, 3, ("light",), (("day", "night"),), width=4, feature_dim=8)))
        self.threshold = threshold

    def predict(self, images: torch.Tensor, batch_size: int = 256) -> dict[str, torch.Tensor]:
        day = (images.float().mean((1, 2, 3)) > self.threshold).float()
        return {"light": torch.stack([day, 1 - day], 1)}


def test_select_seeds_returns_the_first_matching_seeds_in_order(rooms_ckpt: Path) -> None:
    from dcgan.checkpoint import load_generator
    from dcgan.latent import z_from_seeds
    from dcgan.sampling import generate

    g, model = load_generator(rooms_ckpt)
    means = generate(g, z_from_seeds(range(300), model.z_dim, model.z_dist)).float().mean((1, 2, 3))
    judge = _BrightnessJudge(float(means.median()))
    expected = [s for s in range(300) if means[s] > judge.threshold][:5]
    assert select_seeds(g, model, judge, "light=day", 5, batch_size=64) == expected
    later = select_seeds(g, model, judge, "light=night", 3, start_seed=100, batch_size=64)
    assert all(s >= 100 and means[s] <= judge.threshold for s in later) and later == sorted(later)
    with pytest.raises(UserError, match="only"):
        select_seeds(g, model, judge, "light=day", 400, max_seeds=300)
    assert len(select_seeds(g, model, judge, "light=day", 400, max_seeds=300, strict=False)) < 300


def test_summary_counts_values_and_missing_ones() -> None:
    judge = _fake_judge()
    probs = {"wall": torch.tensor([[0.95, 0.05], [0.97, 0.03]]), "window": torch.tensor([[0.0, 0.05, 0.95], [0.3, 0.3, 0.4]])}
    s = summarise(judge, probs)
    assert s["confident_share"] == 0.5
    assert s["factors"]["wall"]["histogram"] == {"red": 2, "blue": 0} and s["factors"]["wall"]["missing"] == ["blue"]
    assert not s["all_values_present"]


def test_score_cli_on_a_checkpoint_a_folder_and_a_file(rooms_judge: Path, rooms_ckpt: Path, tmp_path: Path, capsys) -> None:
    assert main(["judge", "score", str(rooms_judge), str(rooms_ckpt.parent.parent), "--seeds", "0-9"]) == 0
    out = capsys.readouterr().out
    assert "confidently judged" in out and "wall" in out
    result = json.loads((rooms_ckpt.parent.parent / "analysis" / "judge-score" / "results.json").read_text())
    assert len(result["images"]) == 10 and set(result["images"][0]["probs"]) == {"wall", "light", "bed"}
    folder = tmp_path / "imgs"
    folder.mkdir()
    images = load_data(DataConfig(spec="rooms", image_size=32, num_images=3)).images
    for i, img in enumerate(images):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"{i}.png")
    scores = tmp_path / "scores.json"
    assert main(["judge", "score", str(rooms_judge), str(folder), "--out", str(scores)]) == 0
    result = json.loads(scores.read_text())
    assert [r["name"] for r in result["images"]] == ["0.png", "1.png", "2.png"]
    assert main(["judge", "score", str(rooms_judge), str(folder / "1.png"), "--out", str(scores)]) == 0
    assert len(json.loads(scores.read_text())["images"]) == 1
    # other sizes: refused unless --resize
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / "big.png")
    capsys.readouterr()
    assert main(["judge", "score", str(rooms_judge), str(folder), "--out", str(scores)]) == 2
    assert "64x64 but the judge was trained on 32x32" in capsys.readouterr().err
    assert main(["judge", "score", str(rooms_judge), str(folder), "--resize", "--out", str(scores)]) == 0


def test_select_cli(rooms_judge: Path, rooms_ckpt: Path, capsys) -> None:
    assert main(["judge", "select", str(rooms_judge), str(rooms_ckpt), "--query", "light=day|night", "--count", "3"]) == 0
    out = capsys.readouterr().out
    assert "seeds: 0,1,2" in out  # the two values cover everything, so the first seeds match
    run = rooms_ckpt.parent.parent
    assert json.loads((run / "analysis" / "judge-select" / "results.json").read_text())["seeds"] == [0, 1, 2]
    assert (run / "analysis" / "judge-select" / "light=day_night.png").is_file()
    assert main(["judge", "select", str(rooms_judge), str(rooms_ckpt), "--query", "window=2", "--count", "1"]) == 2
    assert "no factor 'window'" in capsys.readouterr().err
    assert main(["judge", "select", str(rooms_judge), str(rooms_ckpt), "--query", "light=day", "--min-prob", "1.0",
                 "--count", "5", "--max-seeds", "20"]) == 2


def test_error_paths_exit_2(rooms_judge: Path, rooms_ckpt: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a judge")
    assert main(["judge", "score", str(bad), str(rooms_ckpt)]) == 2
    assert "corrupt" in capsys.readouterr().err
    assert main(["judge", "score", str(rooms_ckpt), str(rooms_ckpt)]) == 2  # a GAN checkpoint is not a judge
    assert "training checkpoint" in capsys.readouterr().err
    assert main(["judge", "score", str(tmp_path / "missing.pt"), str(rooms_ckpt)]) == 2
    assert main(["judge", "score", str(rooms_judge), str(tmp_path / "nothing")]) == 2
    tampered = tmp_path / "tampered.pt"
    payload = torch.load(rooms_judge, weights_only=True)
    first = next(iter(payload["weights"]))
    payload["weights"][first] = payload["weights"][first] + 0.01
    torch.save(payload, tampered)
    assert main(["judge", "score", str(tampered), str(rooms_ckpt)]) == 2
    assert "checksum" in capsys.readouterr().err
    assert main(["judge", "train", "--data", "rooms", "--image-size", "48"]) == 2
    assert main(["judge", "train", "--data", "rooms", "--labels", "colour", "--num-images", "64", "--image-size", "16"]) == 2


def test_train_cli_refuses_to_save_a_poor_judge(tmp_path: Path, capsys) -> None:
    out = tmp_path / "fake.pt"
    code = main(["judge", "train", "--data", "fake", "--image-size", "16", "--num-images", "300", "--epochs", "1",
                 "--width", "4", "--threads", "1", "--out", str(out)])
    assert code == 2
    assert "not saving the judge" in capsys.readouterr().err
    assert not out.exists()
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["saved"] is False and report["accuracy"]["label"] < 0.95


def test_train_cli_on_an_image_folder_and_an_npz(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(0)
    folder = tmp_path / "classes"
    for name, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        (folder / name).mkdir(parents=True)
        for i in range(60):
            img = np.clip(np.array(colour) + rng.normal(0, 20, (16, 16, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(folder / name / f"{i}.png")
    out = tmp_path / "folder.pt"
    assert main(["judge", "train", "--data", str(folder), "--image-size", "16", "--epochs", "3", "--batch-size", "16",
                 "--width", "4", "--threads", "1", "--out", str(out)]) == 0
    assert "held-out data: 12 of the images" in capsys.readouterr().out
    assert load_judge(out).value_names == {"label": ["blue", "red"]}
    # .npz with a second labelled factor and a test split
    x = rng.integers(0, 40, (200, 16, 16, 3), dtype=np.uint8)
    bright = rng.integers(0, 2, 200)
    x[bright == 1] += 180
    npz = tmp_path / "toy.npz"
    np.savez(npz, x_train=x[:160], y_train=bright[:160], class_names=np.array(["dark", "bright"]),
             y_train_size=np.zeros(160, np.int64), size_names=np.array(["small"]),
             x_test=x[160:], y_test=bright[160:], y_test_size=np.zeros(40, np.int64))
    out = tmp_path / "npz.pt"
    assert main(["judge", "train", "--data", str(npz), "--image-size", "16", "--epochs", "3", "--batch-size", "16",
                 "--width", "4", "--threads", "1", "--out", str(out)]) == 0
    assert "toy.npz:test" in capsys.readouterr().out
    judge = load_judge(out)
    assert judge.factors == ["label", "size"] and judge.report["val_images"] == 40
