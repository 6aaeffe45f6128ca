"""Judges: training (rooms, .npz, image folders), realness, saving/loading, scoring, queries, selection, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
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
    Probs,
    TrainSettings,
    format_summary,
    load_judge,
    match,
    parse_query,
    realness_config,
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
    assert probs.real.shape == (40,) and torch.equal(probs.real, again.real) and 0 <= float(probs.real.min()) <= 1
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
    assert s["confident_share"] == 0.5 and s["real_share"] is None
    assert "realness unknown" in format_summary(s)
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
    # These images are colour plus pixel noise, which is what a realness net learns to reject: it is refused...
    args = ["judge", "train", "--data", str(folder), "--image-size", "16", "--epochs", "3", "--batch-size", "16",
            "--width", "4", "--threads", "1", "--out", str(out)]
    assert main(args) == 2
    assert "below 95% for realness" in capsys.readouterr().err and not out.exists()
    # ... and without it the judge is saved, with realness unknown.
    assert main([*args, "--no-realness"]) == 0
    assert "held-out data: 12 of the images" in capsys.readouterr().out
    judge = load_judge(out)
    assert judge.value_names == {"label": ["blue", "red"]} and not judge.has_realness and judge.report["realness"] is None
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
                 "--width", "4", "--threads", "1", "--no-realness", "--out", str(out)]) == 0
    assert "toy.npz:test" in capsys.readouterr().out
    judge = load_judge(out)
    assert judge.factors == ["label", "size"] and judge.report["val_images"] == 40


# --- Realness: "not this data" ---------------------------------------------------------------------


def _not_rooms(n: int = 128) -> dict[str, torch.Tensor]:
    """uint8 32x32 images that are not rooms, made unlike the training negatives (other seed, bicubic blobs, flat colours)."""
    gen = torch.Generator().manual_seed(7)
    blobs = [F.interpolate(torch.rand(n // 2, 3, k, k, generator=gen) * 255, size=32, mode="bicubic", align_corners=False) for k in (3, 5)]
    return {
        "uniform noise": torch.randint(0, 256, (n, 3, 32, 32), generator=gen, dtype=torch.uint8),
        "grey noise": (128 + 40 * torch.randn(n, 1, 32, 32, generator=gen)).clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous(),
        "colour noise": (torch.rand(n, 3, 1, 1, generator=gen) * 255 + 30 * torch.randn(n, 3, 32, 32, generator=gen)).clamp(0, 255).to(torch.uint8),
        "smooth blobs": torch.cat(blobs).clamp(0, 255).to(torch.uint8),
        "flat colour": (torch.rand(n, 3, 1, 1, generator=gen) * 255).to(torch.uint8).expand(-1, -1, 32, 32).contiguous(),
    }


def test_realness_refuses_noise_and_blobs_but_not_rooms(rooms_judge: Path, rooms_ckpt: Path) -> None:
    from dcgan.checkpoint import load_generator
    from dcgan.latent import z_from_seeds
    from dcgan.sampling import generate

    judge = load_judge(rooms_judge)
    heads = Judge(judge.net)  # the same heads without the realness net: what judges did before it
    assert judge.has_realness and not heads.has_realness
    rooms = load_data(DataConfig(spec="rooms:val", image_size=32, num_images=128)).images  # a split neither net saw
    real = summarise(judge, judge.predict(rooms))
    assert real["real_share"] >= 0.9 and real["confident_share"] >= 0.85  # measured 0.953 and 0.945
    g, model = load_generator(rooms_ckpt)  # two training steps: grey noise blobs
    garbage = {**_not_rooms(), "2-step G samples": generate(g, z_from_seeds(range(128), model.z_dim, model.z_dist))}
    heads_only = {}
    for name, images in garbage.items():
        s = summarise(judge, judge.predict(images))
        assert s["real_share"] <= 0.02 and s["confident_share"] <= 0.02, (name, s["real_share"])  # measured 0 for all
        heads_only[name] = float(heads.confident(images).float().mean())
    # Without the realness check the heads call much of this confident (measured 0.50, 0.59, 0.17; the 2-step G's: 1.0).
    assert min(heads_only["colour noise"], heads_only["flat colour"], heads_only["smooth blobs"]) >= 0.1, heads_only
    assert heads_only["2-step G samples"] >= 0.5, heads_only


def test_realness_leaves_the_factor_heads_unchanged() -> None:
    train = load_data(DataConfig(spec="rooms", image_size=16, num_images=256))
    images = load_data(DataConfig(spec="rooms:val", image_size=16, num_images=16)).images
    runs = {}
    for realness in (False, True):
        settings = TrainSettings(epochs=1, batch_size=64, width=4, feature_dim=8, realness=realness, **QUIET)
        runs[realness], report = train_judge(train, train, ["wall"], settings)
        assert (report["realness"] is None) == (not realness)
    with_real, without = runs[True].predict(images), runs[False].predict(images)
    assert torch.equal(with_real["wall"], without["wall"]) and without.real is None and with_real.real.shape == (16,)
    assert torch.equal(runs[True].features(images), runs[False].features(images))


def _judge_with_realness() -> Judge:
    cfg = JudgeConfig(16, 3, ("wall", "window"), (("red", "blue"), ("0", "1", "2")), width=4, feature_dim=8)
    return Judge(JudgeNet(cfg), realness=JudgeNet(realness_config(16, 3, 4, 8)))


def test_confident_summary_and_match_require_realness_when_known() -> None:
    judge = _judge_with_realness()
    heads = {"wall": torch.tensor([[0.95, 0.05], [0.97, 0.03], [0.5, 0.5]]),
             "window": torch.tensor([[0.0, 0.05, 0.95], [0.0, 0.02, 0.98], [0.0, 0.0, 1.0]])}
    probs = Probs(heads, real=torch.tensor([0.99, 0.4, 0.95]))
    assert judge.confident(probs).tolist() == [True, False, False]  # 2: realness too low; 3: wall unsure
    assert judge.confident(probs, 0.3).tolist() == [True, True, True]
    s = summarise(judge, probs)
    assert s["confident_share"] == pytest.approx(1 / 3) and s["real_share"] == pytest.approx(2 / 3)
    assert "66.7% judged like the data" in format_summary(s) and "33.3% confidently judged" in format_summary(s)
    with pytest.raises(ValueError, match="carry no realness"):
        judge.confident(dict(heads))  # a copy that lost the realness is refused, not silently trusted
    assert match(judge, "window=2", probs).tolist() == [True, True, True]
    assert match(judge, "window=2", probs, min_real=0.9).tolist() == [True, False, True]
    with pytest.raises(UserError, match="no realness check"):
        match(_fake_judge(), "window=2", heads, min_real=0.9)


# --- Judge files: the checkpoint format, and every way a file can be wrong --------------------------


def test_judge_files_use_the_checkpoint_format(rooms_judge: Path) -> None:
    from dcgan.checkpoint import digest

    raw = torch.load(rooms_judge, weights_only=True)
    assert raw["format"] == "dcgan-judge" and raw["version"] == 1 and raw["digest"] == digest(raw)
    assert set(raw["realness"]) == {"config", "weights"} and tuple(raw["realness"]["config"]["factors"]) == ("real",)


def _error(fn, *args) -> str:
    with pytest.raises(UserError) as info:
        fn(*args)
    message = str(info.value)
    assert "\n" not in message  # one line
    return message


def test_bad_judge_files_are_clear_one_line_errors(rooms_judge: Path, rooms_ckpt: Path, tmp_path: Path) -> None:
    from dcgan.checkpoint import load_checkpoint

    assert "judge not found" in _error(load_judge, tmp_path / "missing.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    assert "is empty (0 bytes" in _error(load_judge, tmp_path / "empty.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a judge at all")
    assert "truncated or corrupt" in _error(load_judge, tmp_path / "junk.pt")
    data = rooms_judge.read_bytes()
    (tmp_path / "half.pt").write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in _error(load_judge, tmp_path / "half.pt")
    assert "it is a training checkpoint" in _error(load_judge, rooms_ckpt)  # a checkpoint given as a judge
    assert "it is a judge file" in _error(load_checkpoint, rooms_judge)  # and a judge given as a checkpoint
    assert "is a folder" in _error(load_judge, tmp_path)
    raw = torch.load(rooms_judge, weights_only=True)
    raw["realness"]["weights"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in raw["realness"]["weights"].items()}
    torch.save(raw, tmp_path / "tampered.pt")
    assert "does not match its checksum" in _error(load_judge, tmp_path / "tampered.pt")
    torch.save({**raw, "evil": _Evil()}, tmp_path / "evil.pt")
    assert "refusing to load" in _error(load_judge, tmp_path / "evil.pt")


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_judge_files_without_realness_still_load_with_realness_unknown(rooms_judge: Path, tmp_path: Path) -> None:
    from dcgan.checkpoint import digest

    raw = torch.load(rooms_judge, weights_only=True)
    del raw["realness"]  # what judge files written before realness nets hold
    raw["digest"] = digest(raw)
    torch.save(raw, tmp_path / "old.pt")
    old, new = load_judge(tmp_path / "old.pt"), load_judge(rooms_judge)
    assert not old.has_realness and new.has_realness
    images = _not_rooms(16)["flat colour"]
    probs = old.predict(images)
    assert probs.real is None and torch.equal(probs["wall"], new.predict(images)["wall"])
    assert torch.equal(old.confident(probs), Judge(new.net).confident(images))  # heads only, as before
    s = summarise(old, probs)
    assert s["real_share"] is None and "realness unknown" in format_summary(s) and "retrain" in format_summary(s)


# --- dcgan judge score: realness in the output, --resize on checkpoints ----------------------------


def _checkpoint(path: Path, size: int) -> Path:
    """A checkpoint of an untrained G of ``size``: all 'judge score' needs from one."""
    from dcgan.checkpoint import save_checkpoint
    from dcgan.models import build_models

    model = ModelConfig(image_size=size, z_dim=8, ngf=8, ndf=8)
    g, d = build_models(model, seed=0)
    save_checkpoint(path, {"config": RunConfig(model=model).to_dict(), "generator": g.state_dict(), "discriminator": d.state_dict(), "step": 0})
    return path


def test_score_resize_applies_to_checkpoint_samples(rooms_judge: Path, tmp_path: Path, capsys) -> None:
    from dcgan.checkpoint import load_generator
    from dcgan.data.base import fit_images
    from dcgan.latent import z_from_seeds
    from dcgan.sampling import generate

    ckpt = _checkpoint(tmp_path / "small.pt", 16)
    out = tmp_path / "scores.json"
    assert main(["judge", "score", str(rooms_judge), str(ckpt), "--seeds", "0-5", "--out", str(out)]) == 2
    assert "makes 16x16x3 images but the judge was trained on 32x32x3: pass --resize" in capsys.readouterr().err
    assert main(["judge", "score", str(rooms_judge), str(ckpt), "--seeds", "0-5", "--resize", "--out", str(out)]) == 0
    assert "judged like the data" in capsys.readouterr().out
    result = json.loads(out.read_text())
    g, model = load_generator(ckpt)
    judge = load_judge(rooms_judge)
    expected = judge.predict(fit_images(generate(g, z_from_seeds(range(6), model.z_dim, model.z_dist)), 32))
    assert [r["name"] for r in result["images"]] == [f"seed-{s}" for s in range(6)]
    for i, r in enumerate(result["images"]):
        assert r["probs"]["wall"] == pytest.approx(expected["wall"][i].tolist(), abs=1e-5)
        assert r["real"] == pytest.approx(float(expected.real[i]), abs=1e-5)
    assert result["summary"]["real_share"] == pytest.approx(float((expected.real > 0.9).float().mean()))


def test_select_cli_min_real_refuses_garbage_samples(rooms_judge: Path, rooms_ckpt: Path, capsys) -> None:
    # The 2-step G draws grey blobs: every seed matches 'light=day|night', none looks like a room.
    args = ["judge", "select", str(rooms_judge), str(rooms_ckpt), "--query", "light=day|night", "--count", "3", "--max-seeds", "64"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "seeds: 0,1,2" in out and "judged like the data (realness > 0.9): 0 of 3" in out
    assert main([*args, "--min-real", "0.5"]) == 2
    assert "only 0 of seeds 0..63" in capsys.readouterr().err
