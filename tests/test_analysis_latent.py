"""Latent-space analysis tools: nearest neighbours, walk/arithmetic/direction measurements, and each command end to end
on a tiny rooms checkpoint with a tiny rooms judge (16 px, trained here in seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from dcgan.analysis.arithmetic import Expression, draw_expressions, pixel_arithmetic
from dcgan.analysis.direction import apply_direction, measure_flips, targets_from_exemplars
from dcgan.analysis.memorization import compare, nearest_neighbours, pixel_embed
from dcgan.analysis.walk import changes_and_returns, distinct_frames
from dcgan.cli import main
from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig


@pytest.fixture(scope="module")
def tiny_rooms(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A rooms run (16 px, 8 channels, a few steps; latest.pt made diverse) and a rooms judge trained on 16 px rooms."""
    from dcgan.checkpoint import load_checkpoint, save_checkpoint
    from dcgan.data import load_data
    from dcgan.judges import TrainSettings, save_judge, train_judge
    from dcgan.train import train

    root = tmp_path_factory.mktemp("latent")
    cfg = RunConfig(data=DataConfig(spec="rooms", image_size=16, num_images=256),
                    model=ModelConfig(image_size=16, z_dim=8, ngf=8, ndf=8),
                    train=TrainConfig(batch_size=32, max_steps=8, out=str(root / "runs"), name="t", num_fixed_samples=4, log_every=4))
    run_dir = train(cfg)
    data = load_data(DataConfig(spec="rooms", image_size=16, num_images=1024))
    val = load_data(DataConfig(spec="rooms:test", image_size=16, num_images=256))
    judge, _ = train_judge(data, val, list(data.labels), TrainSettings(epochs=1, batch_size=64, localiser_steps=0, device="cpu",
                                                                       log=lambda _: None))
    # A few steps leave G drawing nearly one image for every z; scaling its conv weights up and its BatchNorm
    # variances down makes the images vary with z (different judged values), which the measurements need.
    payload = load_checkpoint(run_dir)
    for key, value in payload["generator"].items():
        if key.endswith("weight") and value.ndim == 4:
            payload["generator"][key] = value * 5
        elif key.endswith("running_var"):
            payload["generator"][key] = torch.full_like(value, 0.01)
    save_checkpoint(run_dir / "checkpoints" / "latest.pt", payload)
    return run_dir, save_judge(root / "judge.pt", judge)


def _results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


# ---------------------------------------------------------------------------------------------------
# Library functions with known answers.


def test_nearest_neighbours_find_the_planted_images_across_chunks() -> None:
    gen = torch.Generator().manual_seed(0)
    reference = torch.randint(0, 256, (50, 1, 4, 4), dtype=torch.uint8, generator=gen)
    planted = torch.tensor([3, 17, 31, 49])
    queries = reference[planted].clone()
    queries[1, 0, 0, 0] = queries[1, 0, 0, 0] ^ 1  # one pixel off by one
    d, i = nearest_neighbours(queries, reference, pixel_embed, chunk=7)
    assert i.tolist() == planted.tolist()
    assert d[0] == 0 and d[2] == 0 and d[3] == 0  # exact copies: exactly 0, not rounding noise
    assert torch.isclose(d[1], torch.tensor(1 / (255 * 4.0)))  # RMS over 16 pixels of one unit step
    brute = torch.cdist(pixel_embed(queries).double(), pixel_embed(reference).double()).min(1)
    assert torch.equal(brute.indices, i) and torch.allclose(brute.values.float(), d, atol=1e-6)


def test_near_copies_are_counted_against_the_heldout_quantile() -> None:
    heldout = torch.linspace(1, 2, 101)
    samples = torch.cat([torch.zeros(3), torch.full((97,), 1.5)])
    stats = compare(samples, heldout, 0.01)
    assert stats["threshold"] == pytest.approx(1.01)
    assert stats["near_copies"] == 3 and stats["below_heldout_min"] == 3 and stats["expected_by_chance"] == pytest.approx(1.0)
    assert stats["median_ratio"] == pytest.approx(1.0)


@pytest.mark.parametrize(("labels", "expected"), [
    ([0, 0, 0], (0, 0)), ([0, 1, 1], (1, 0)), ([0, 1, 0], (2, 1)), ([2, 0, 1, 0, 1], (4, 2)), ([0, 1, 2, 1], (3, 1)),
])
def test_changes_and_returns(labels: list[int], expected: tuple[int, int]) -> None:
    assert changes_and_returns(labels) == expected


def test_distinct_frames_drop_shared_segment_ends() -> None:
    frames = torch.arange(3 * 4).view(3, 4)
    frames[1:, 0] = frames[:-1, -1]
    assert distinct_frames(frames).tolist() == [0, 1, 2, 3, 5, 6, 7, 9, 10, 11]


def test_pixel_arithmetic_is_exact_and_clamped() -> None:
    a = torch.full((3, 1, 2, 2), 200, dtype=torch.uint8)
    b = torch.full((3, 1, 2, 2), 50, dtype=torch.uint8)
    c = torch.tensor([10, 20, 30], dtype=torch.uint8).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    assert pixel_arithmetic(a, b, c).flatten().tolist() == [170] * 4
    assert pixel_arithmetic(a, c[:1], a).flatten().tolist() == [255] * 4


def test_random_expressions_draw_matching_exemplars() -> None:
    gen = torch.Generator().manual_seed(1)
    labels = {"wall": torch.randint(0, 3, (300,), generator=gen), "bed": torch.randint(0, 2, (300,), generator=gen),
              "rug": torch.randint(-1, 2, (300,), generator=gen)}  # -1: not judged confidently
    drawn = draw_expressions(labels, {"wall": 3, "bed": 2, "rug": 2}, 20, 3, seed=0)
    assert len(drawn) == 20 and len({e for e, _ in drawn}) == 20
    for expr, idx in drawn:
        assert expr.p_with != expr.p_without and expr.x != expr.y and expr.p_factor != expr.x_factor
        for name, want in expr.concepts().items():
            if name != "target":
                assert len(idx[name]) == 3 and len(set(idx[name].tolist())) == 3
                assert all((labels[f][idx[name]] == v).all() for f, v in want.items())
    assert Expression("bed", 1, 0, "wall", 0, 2).concepts()["target"] == {"wall": 2, "bed": 1}


def test_direction_flips_are_measured_against_scale_zero() -> None:
    z = torch.zeros(2, 3)
    assert torch.equal(apply_direction(z, torch.tensor([1.0, 0, 0]), [0, 2])[:, 1], torch.tensor([[2.0, 0, 0]] * 2))
    # 4 seeds, scales (0, 1); window target {2}. Seed 0 flips cleanly, seed 1 flips but its wall changes,
    # seed 2 does not flip, seed 3 is already at the target.
    labels = {"window": torch.tensor([[0, 2], [1, 2], [0, 1], [2, 2]]), "wall": torch.tensor([[0, 0], [1, 3], [2, 2], [0, 0]])}
    m = measure_flips(labels, [0, 1], {"window": {2}})
    assert m["eligible"] == 3 and m["already_at_target"] == 1
    assert m["flip_share"]["count"] == 1 and m["target_reached"]["count"] == 2 and m["others_kept"]["count"] == 2
    assert m["kept_by_factor"] == {"wall": pytest.approx(2 / 3)} and "confident_seeds" not in m
    sure = measure_flips(labels, [0, 1], {"window": {2}}, confident=torch.tensor([True, True, False, True]))["confident_seeds"]
    assert sure["eligible"] == 2 and sure["flip_share"]["count"] == 1 and sure["target_reached"]["count"] == 2
    assert targets_from_exemplars({"window": torch.tensor([0, 0, 1, 0]), "wall": torch.tensor([1, 1, 1, 1])},
                                  {"window": torch.tensor([2, 2, 2, 1]), "wall": torch.tensor([1, 1, 0, 1])}) == {"window": {2}}


# ---------------------------------------------------------------------------------------------------
# Commands end to end.


def test_walk_writes_grid_gif_and_judged_numbers(tiny_rooms: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, judge = tiny_rooms
    out = tmp_path / "walk"
    assert main(["walk", str(run_dir), "--points", "3", "--walks", "2", "--steps", "4", "--judge", str(judge), "--out", str(out), "--device", "cpu"]) == 0
    res = _results(out)
    assert res["mode"] == "slerp" and len(res["walks"]) == 2 and res["walks"][1]["seeds"] == [3, 4, 5]
    s = res["summary"]
    assert s["segments"] == 4 and s["frames"] == 14
    assert 0 <= s["confident_share"] <= 1 and s["returns_per_segment"] >= 0 and set(s["returns_by_factor"]) >= {"wall", "window"}
    assert s["confident_returns_per_segment"] >= 0 and s["shuffled_returns_per_segment"] >= 0
    seg = res["walks"][0]["judge"]["segments"][0]
    assert len(seg["factors"]["wall"]["values"]) == 4
    with Image.open(out / "walk-00.gif") as gif:
        assert gif.n_frames == 7 and gif.size[0] >= 128
    with Image.open(out / "walk-00.png") as grid:
        assert grid.size == (4 * 18 + 2, 2 * 18 + 2)  # 4 columns (steps) x 2 rows (segments), 2 px padding


def test_walk_default_folder_is_inside_the_run(tiny_rooms: tuple[Path, Path]) -> None:
    run_dir, _ = tiny_rooms
    assert main(["walk", str(run_dir / "checkpoints" / "epoch-0001.pt"), "--points", "2", "--steps", "3", "--device", "cpu"]) == 0
    folder = run_dir / "analysis" / "walk" / "epoch-0001"
    assert (folder / "walk-00.gif").is_file() and "summary" not in _results(folder)


def test_arithmetic_figure_and_evaluation(tiny_rooms: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, judge = tiny_rooms
    out = tmp_path / "arith"
    assert main(["arithmetic", str(run_dir), "--a", "1,2,3", "--b", "4,5,6", "--c", "window=1", "--judge", str(judge),
                 "--min-prob", "0", "--evaluate", "4", "--pool", "64", "--out", str(out), "--device", "cpu"]) == 0
    res = _results(out)
    assert res["figure"]["concepts"][0]["seeds"] == [1, 2, 3] and res["figure"]["concepts"][2]["query"] == "window=1"
    assert len(res["figure"]["judged"]["variations"]) == 8
    ev = res["evaluation"]
    assert ev["expressions"] == 4 and set(ev["methods"]) == {"mean3", "single", "pixel", "pixel_single"}
    assert all(0 <= m["success"]["share"] <= 1 and m["success"]["n"] == 4 for m in ev["methods"].values())
    assert {"first_only", "second_only", "p_value"} <= set(ev["mean3_vs_single"])
    assert len(ev["per_expression"]) == 4 and len(ev["per_expression"][0]["seeds"]["a"]) == 3
    for name in ("figure.png", "evaluation.png"):
        with Image.open(out / name) as img:
            assert img.size[0] > 300


def test_direction_grid_and_flip_share(tiny_rooms: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, judge = tiny_rooms
    out = tmp_path / "dir"
    assert main(["direction", str(run_dir), "--from", "0-3", "--to", "window=2", "--judge", str(judge), "--min-prob", "0.2",
                 "--seeds", "0-39", "--rows", "3", "--scales", "0,1,2", "--out", str(out), "--device", "cpu"]) == 0
    res = _results(out)
    m = res["measurement"]
    used = set(res["from"]["seeds"]) | set(res["to"]["seeds"])
    assert m["targets"] == {"window": ["2"]} and m["seeds"] == len(set(range(40)) - used) and res["from"]["seeds"] == [0, 1, 2, 3]
    assert 0 <= (m["flip_share"]["share"] or 0) <= 1 and "random_direction" in m and [b["scale"] for b in m["by_scale"]] == [0, 1, 2]
    with Image.open(out / "grid.png") as img:
        assert min(img.size) > 200
    assert len(res["grid_seeds"]) == 3 and res["scales"] == [0, 1, 2]


def test_memorization_on_pixels_and_features(tiny_rooms: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, judge = tiny_rooms
    for extra, name in (([], "dfeat"), (["--judge", str(judge)], "judge")):
        out = tmp_path / name
        assert main(["memorization", str(run_dir), "--samples", "20", "--train-images", "200", "--pairs", "4", "--out", str(out),
                     "--device", "cpu", *extra]) == 0
        res = _results(out)
        assert res["train"]["images"] == 200 and res["heldout"]["images"] == 20 and "test" in res["heldout"]["data"]
        for space in ("pixel", "features"):
            r = res[space]
            assert {"samples", "heldout", "threshold", "near_copies", "expected_by_chance", "median_ratio", "closest"} <= set(r)
            assert 0 <= r["near_copies"] <= 20 and r["samples"]["median"] > 0
        assert ("judge" in res["features"]["space"]) == (name == "judge")
        for fig in ("pairs-pixel.png", "pairs-features.png", "distances.png"):
            assert (out / fig).is_file()


@pytest.mark.parametrize("argv", [
    ["walk", "RUN", "--seeds", "5"],
    ["walk", "RUN", "--seeds", "1,2", "--walks", "2"],
    ["walk", "RUN", "--judge", "/no/such/judge.pt"],
    ["arithmetic", "RUN", "--a", "1,2,3"],
    ["arithmetic", "RUN", "--a", "window=1", "--b", "1,2,3", "--c", "4,5,6"],
    ["arithmetic", "RUN", "--evaluate", "5"],
    ["direction", "RUN", "--from", "0-3", "--to", "4-7", "--exemplars", "2"],
    ["direction", "RUN", "--from", "0-3", "--to", "4-7", "--scales", "a,b"],
    ["memorization", "RUN", "--quantile", "2"],
    ["memorization", "/no/such/run"],
])
def test_user_errors_exit_2(tiny_rooms: tuple[Path, Path], argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    run_dir, _ = tiny_rooms
    assert main([str(run_dir) if a == "RUN" else a for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dcgan: error:") and "Traceback" not in err
