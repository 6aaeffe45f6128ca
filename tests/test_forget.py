"""Forgetting an object: the layer choice, positives/negatives for the regression, the drop hook, drop files,
the localiser's boxes, the measurement against a judge with known answers, the Python API and the CLI."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import dcgan
from dcgan.analysis.sample import sample
from dcgan.cli import main
from dcgan.config import ModelConfig
from dcgan.errors import UserError
from dcgan.latent import z_from_seeds
from dcgan.models import build_models
from dcgan.report import write_json
from dcgan.sampling import generate
from dcgan.settings.forget import ForgetSettings

fg = importlib.import_module("dcgan.analysis.forget")  # the module (dcgan.analysis.forget is the function)


def tiny_g(size: int = 32, ngf: int = 8) -> torch.nn.Module:
    return build_models(ModelConfig(image_size=size, channels=3, z_dim=8, ngf=ngf, ndf=8), seed=0)[0].eval()


def test_default_layer_is_the_second_highest_conv_layer() -> None:
    g = tiny_g(64, ngf=4)  # the paper's figure: 4x4 (8 ngf) -> 8x8 (4 ngf) -> 16x16 (2 ngf) -> 32x32 (ngf) -> image
    assert fg.layer_names(g) == ["project", "blocks.0", "blocks.1", "blocks.2", "to_image"]
    index = fg.resolve_layer(g, fg.DEFAULT_LAYER)
    assert fg.layer_names(g)[index] == "blocks.1"
    acts = fg.layer_activations(g, z_from_seeds([0, 1], 8, "normal"), fg.DEFAULT_LAYER)
    assert acts.shape == (2, 8, 16, 16) and fg.layer_channels(g, index) == 8
    with pytest.raises(UserError, match="output layer"):
        fg.resolve_layer(g, -1)
    with pytest.raises(UserError, match="does not exist"):
        fg.resolve_layer(g, 5)


def test_box_cells() -> None:
    cells = fg.box_cells([(4, 4, 12, 8)], image_size=16, grid=4)  # cell centres at 2, 6, 10, 14
    assert cells.nonzero().tolist() == [[1, 1], [1, 2]]
    small = fg.box_cells([(13, 1, 14, 2)], image_size=16, grid=4)  # smaller than a cell: the cell of its centre
    assert small.nonzero().tolist() == [[0, 3]]
    assert fg.box_cells([], 16, 4).sum() == 0


def test_positives_inside_boxes_only_and_negatives_from_the_same_images() -> None:
    boxes = [[(0, 0, 16, 8)], [], [(8, 8, 24, 24), (0, 24, 6, 32)], [(30, 30, 31, 31)]]
    where, y = fg.sample_locations(boxes, image_size=32, grid=8, seed=3)
    assert set(where[:, 0].tolist()) == {0, 2, 3}  # image 1 has no box: neither positives nor negatives
    step = 32 / 8
    for (i, r, c), label in zip(where.tolist(), y.tolist(), strict=True):
        cx, cy = (c + 0.5) * step, (r + 0.5) * step
        inside = any(x0 <= cx < x1 and y0 <= cy < y1 for x0, y0, x1, y1 in boxes[i]) or (i == 3 and (r, c) == (7, 7))
        assert inside == bool(label), (i, r, c, label)
    for i in (0, 2, 3):
        mine = where[:, 0] == i
        assert y[mine].sum() == (1 - y[mine]).sum()  # as many negatives as positives, per image
        assert len({tuple(w) for w in where[mine].tolist()}) == mine.sum()  # no position twice
    assert y[where[:, 0] == 0].sum() == 8 and y[where[:, 0] == 2].sum() == 16 + 2
    _, capped = fg.sample_locations([[(0, 0, 32, 24)]], 32, 8)  # 48 cells in the box, 16 outside: all 16 taken
    assert capped.sum() == 48 and (1 - capped).sum() == 16
    again, y2 = fg.sample_locations(boxes, 32, 8, seed=3)
    assert np.array_equal(again, where) and np.array_equal(y2, y)
    other, _ = fg.sample_locations(boxes, 32, 8, seed=4)
    assert not np.array_equal(other, where)  # negatives are random
    with pytest.raises(UserError, match="no object boxes"):
        fg.sample_locations([[], []], 32, 8)


def test_features_at_and_fit_drop_set() -> None:
    acts = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)
    where = np.array([[1, 2, 3], [0, 0, 1]])
    assert fg.features_at(acts, where).tolist() == [acts[1, :, 2, 3].tolist(), acts[0, :, 0, 1].tolist()]
    rng = np.random.default_rng(0)
    y = np.repeat([1, 0], 200)
    x = rng.normal(size=(400, 4)).astype(np.float32)
    x[:, 0] += 3 * y  # map 0 fires on the object, map 1 off it, maps 2-3 are noise
    x[:, 1] += 3 * (1 - y)
    fit = fg.fit_drop_set(x, y, groups=np.arange(400) % 20)
    assert 0 in fit["maps"] and 1 not in fit["maps"]
    assert fit["weights"][0] > 0 > fit["weights"][1]
    assert fit["cv_accuracy"] > 0.9 and fit["positives"] == fit["negatives"] == 200
    assert fg.strongest_maps(fit["weights"]) == fit["maps"]
    assert fg.strongest_maps([0.5, -1.0, 2.0, 0.1, 0.0], 2) == [0, 2] and fg.strongest_maps([0.5, -1.0, 2.0, 0.1], None) == [0, 2, 3]


def test_drop_hook_zeroes_only_the_dropped_maps_and_removal_restores() -> None:
    g = tiny_g()
    z = z_from_seeds(range(6), 8, "normal")
    layer = fg.DEFAULT_LAYER
    plain_acts = fg.layer_activations(g, z, layer)
    plain_images = generate(g, z)
    maps = [0, 3, 5]
    with fg.drop_maps(g, layer, maps):
        acts = fg.layer_activations(g, z, layer)
        dropped_images = generate(g, z)
    keep = [m for m in range(acts.shape[1]) if m not in maps]
    assert (acts[:, maps] == 0).all() and (plain_acts[:, maps] != 0).any()
    assert torch.equal(acts[:, keep], plain_acts[:, keep])
    assert not torch.equal(dropped_images, plain_images)  # the drop reaches the image
    assert torch.equal(generate(g, z), plain_images)  # removed on exit
    assert not g.layers()[fg.resolve_layer(g, layer)]._forward_hooks
    handle = fg.add_drop_hook(g, layer, maps)
    assert torch.equal(generate(g, z), dropped_images)
    handle.remove()
    assert torch.equal(generate(g, z), plain_images)
    with pytest.raises(UserError, match="do not exist"):
        fg.add_drop_hook(g, layer, [99])


def test_renorm_stats_are_the_dropped_batch_statistics_and_leave_g_untouched() -> None:
    g = tiny_g()
    state = {k: v.clone() for k, v in g.state_dict().items()}
    z = z_from_seeds(range(40), 8, "normal")
    maps = [1, 2, 7]
    bns = fg.later_batchnorms(g, -3)
    assert list(bns) == ["blocks.1.1"]  # 32 px: the drop is in blocks.0, the BatchNorm of blocks.1 follows
    stats = fg.renorm_stats(g, -3, maps, z)
    for k, v in g.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert not any(m.training for m in g.modules())
    seen = []
    handle = bns["blocks.1.1"].register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach().clone()))
    with torch.no_grad(), fg.drop_maps(g, -3, maps):
        g(z)
    handle.remove()
    x = seen[0]
    torch.testing.assert_close(torch.tensor(stats["blocks.1.1"]["mean"]), x.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.tensor(stats["blocks.1.1"]["var"]), x.var((0, 2, 3)), rtol=1e-3, atol=1e-5)
    # Applied inside drop_maps only, images stay independent of their batch, and everything is restored on exit.
    plain = generate(g, z[:4])
    with fg.drop_maps(g, -3, maps, stats):
        a = generate(g, z[:4], batch_size=4)
        b = generate(g, z[:4], batch_size=1)
    with fg.drop_maps(g, -3, maps):
        c = generate(g, z[:4])
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(generate(g, z[:4]), plain)
    for k, v in g.state_dict().items():
        assert torch.equal(v, state[k]), k
    with pytest.raises(UserError, match="does not have"), fg.drop_maps(g, -3, maps, {"blocks.9.1": {"mean": [0.0], "var": [1.0]}}):
        pass


def test_same_seeds_same_images_with_and_without_drop() -> None:
    g = tiny_g()
    seeds = [4, 9, 100, 7]
    with fg.drop_maps(g, -3, [1, 2]):
        a = generate(g, z_from_seeds(seeds, 8, "normal"), batch_size=4)
        b = generate(g, z_from_seeds([100, 4], 8, "normal"), batch_size=1)
    assert torch.equal(a[[2, 0]], b)
    assert torch.equal(generate(g, z_from_seeds(seeds, 8, "normal")), generate(g, z_from_seeds(seeds, 8, "normal")))


def test_boxes_file_and_drop_file_errors(tmp_path: Path) -> None:
    good = tmp_path / "boxes.json"
    good.write_text(json.dumps({"object": "window", "image_size": 32, "boxes": {"3": [[1, 2, 10, 12]], "5": []}}))
    assert fg.load_boxes_file(good) == ("window", 32, {3: [(1.0, 2.0, 10.0, 12.0)], 5: []})
    for raw, message in (({"3": [[1, 2, 3, 4]]}, "no 'boxes' mapping"), ({"boxes": {"x": []}}, "seed 'x'"),
                         ({"boxes": {"1": [[5, 2, 3, 4]]}}, "x0 < x1"), ({"boxes": {}}, "lists no seeds")):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(raw))
        with pytest.raises(UserError, match=message):
            fg.load_boxes_file(bad)
    g = tiny_g()
    path = write_json(tmp_path / "d.json", fg.drop_record(checkpoint="c.pt", digest="abc", layer=1, layer_name="blocks.0", channels=16,
                                                          maps=[1, 4], obj="window"))
    assert fg.load_drop_file(path, g, "abc")[:2] == (1, [1, 4])
    with pytest.raises(UserError, match="another checkpoint"):
        fg.load_drop_file(path, g, "other")
    with pytest.raises(UserError, match="does not fit"):
        fg.load_drop_file(path, tiny_g(ngf=4), "abc")  # 8 maps there, not 16
    with pytest.raises(UserError, match="not a drop file"):
        fg.load_drop_file(good, g)


# ---------------------------------------------------------------------------------------------------
# Settings, the localiser's boxes, and the measurement against a judge with known answers.


def test_settings_refuse_bad_values_with_the_cli_messages(trained) -> None:
    s = ForgetSettings(seeds="0-3,7", eval_seeds=[5, 6])
    assert s.seeds == (0, 1, 2, 3, 7) and s.eval_seeds == (5, 6)
    for bad, message in (({"c": 0}, "--C, --negatives"), ({"control_draws": -1}, "--control-draws not negative"),
                         ({"max_maps": 0}, "--max-maps must be positive"), ({"seeds": "3-1"}, "cannot read seeds"),
                         ({"eval_seeds": []}, "no eval seeds")):
        with pytest.raises(UserError, match=message):
            ForgetSettings(**bad)
    with pytest.raises(UserError, match="give --boxes FILE"):
        dcgan.analysis.forget(dcgan.load(trained.run_dir))


@pytest.fixture(scope="module")
def localiser():
    """A localiser trained long enough to find windows (the shared fixture's is trained for 15 steps only, to stay fast)."""
    from dcgan.judges import TrainSettings, train_localiser

    return train_localiser(32, 3, TrainSettings(width=8, localiser_steps=150, localiser_batch=16, localiser_val=16, device="cpu",
                                                threads=1, log=lambda _msg: None))


def test_localiser_boxes_cover_the_true_windows(localiser) -> None:
    from types import SimpleNamespace

    from dcgan.data.rooms import render_rooms, split_indices
    from dcgan.judges import iou

    rooms = render_rooms(split_indices("test", 0, 64), 32, seed=0, masks=True)
    judge = SimpleNamespace(localiser=localiser, path="tiny.pt")
    found = fg.localiser_boxes(judge, rooms.images, "window")
    drawn = torch.zeros(64, 32, 32)
    for i, boxes in enumerate(found):
        for x0, y0, x1, y1 in boxes:
            drawn[i, int(y0) : int(y1), int(x0) : int(x1)] = 1.0
    truth = rooms.object_mask("window")
    assert iou(drawn, truth) >= 0.5  # boxes drawn around the found windows overlap the rendered ones
    assert sum(1 for b in found if b) >= 0.8 * int((truth > 0.5).flatten(1).any(1).sum())  # most rooms with a window get a box
    with pytest.raises(UserError, match="not 'lamp'"):
        fg.localiser_boxes(judge, rooms.images, "lamp")
    with pytest.raises(UserError, match="has no localiser"):
        fg.localiser_boxes(SimpleNamespace(localiser=None, path="j.pt"), rooms.images, "window")


class KnownJudge:
    """A judge whose answers are fixed in advance: sure (probability 1) of the images it was shown, unsure (0.6) of any
    other; a window on exactly the ``with_window`` images; the wall red on every image."""

    localiser = None
    source = "known answers"
    value_names = {"window": ["0", "1"], "wall": ["red", "blue"]}

    def __init__(self, seen: torch.Tensor, with_window: torch.Tensor) -> None:
        self.seen = {img.numpy().tobytes() for img in seen}
        self.windows = {img.numpy().tobytes() for img in with_window}

    def predict(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        keys = [img.numpy().tobytes() for img in images]
        sure = torch.tensor([1.0 if k in self.seen else 0.6 for k in keys])
        window = torch.tensor([k in self.windows for k in keys])
        p_window = torch.where(window, sure, 1 - sure)
        return {"window": torch.stack([1 - p_window, p_window], 1), "wall": torch.stack([sure, 1 - sure], 1)}

    def labels(self, probs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {f: p.argmax(1) for f, p in probs.items()}

    def confident(self, probs: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.stack([p.max(1).values > 0.9 for p in probs.values()]).all(0)


def write_boxes(path: Path, seeds: range) -> Path:
    boxes = {str(s): ([[4 + s % 5, 3, 14 + s % 5, 12]] if s % 3 else []) for s in seeds}
    boxes["2"].append([20, 4, 28, 11])
    path.write_text(json.dumps({"object": "window", "image_size": 32, "boxes": boxes}))
    return path


def test_forget_through_the_api_measures_known_answers_exactly(trained, tmp_path: Path) -> None:
    model = dcgan.load(trained.run_dir)
    eval_seeds = list(range(500, 508))
    originals = model.sample(eval_seeds)
    judge = KnownJudge(originals, with_window=originals[[0, 3, 6]])  # 3 of the 8 show a window before the drop
    boxes = write_boxes(tmp_path / "boxes.json", range(12))
    state = {k: v.clone() for k, v in model.generator.state_dict().items()}
    files_before = set(trained.run_dir.rglob("*"))
    result = dcgan.analysis.forget(model, judge=judge, boxes=str(boxes), eval_seeds=eval_seeds, control_draws=2, figure_count=4)
    assert set(trained.run_dir.rglob("*")) == files_before  # nothing written until saved
    assert all(torch.equal(v, state[k]) for k, v in model.generator.state_dict().items())  # G is left as it was
    assert torch.equal(result.figure_rows[0][1], model.sample(result.figure_seeds)) and result.figure_seeds == [1, 2, 4, 5]

    m = result.measure
    assert m["count"] == 8 and m["seeds"] == "500-507"
    # Every image changes with the drop (checked below), so the judge knows none of them afterwards: no window, unsure.
    window = m["dropped"]["window"]
    assert (window["present_before"], window["present_after"], window["kept"]) == (3 / 8, 0.0, 5 / 8)
    assert window["histogram_before"] == {"0": 5, "1": 3} and window["histogram_after"] == {"0": 8, "1": 0}
    assert m["dropped"]["wall"] == {"kept": 1.0, "histogram_before": {"red": 8, "blue": 0}, "histogram_after": {"red": 8, "blue": 0}}
    assert m["control"]["window"]["present_after"] == 0.0 and m["control"]["window"]["kept"] == 5 / 8 and len(m["control_draws"]) == 2
    assert m["confident_share"] == {"before": 1.0, "dropped": 0.0, "control": 0.0}
    assert "pixel_share" not in m  # no localiser, no pixel counts
    assert any("window: 37.5% of 8 fresh samples before, 0.0% after" in line for line in result.lines())

    saved = dcgan.report.save(result, tmp_path / "out")
    record = json.loads(saved.results.read_text())
    assert record["tool"] == "forget" and record["settings"]["eval_seeds"] == eval_seeds and record["judge"] == "known answers"
    assert record["measure"]["dropped"]["window"]["present_after"] == 0.0 and "command" not in record
    assert record["figures"] == ["figure.png", "dropped.json"] and (saved.folder / "figure.png").is_file()
    drop = json.loads((saved.folder / "dropped.json").read_text())
    assert drop["format"] == fg.DROP_FORMAT and drop["maps"] == record["dropped_maps"] == result.dropped_maps
    assert drop["checkpoint"] == str(trained.latest.resolve()) and drop["digest"] == model.payload["digest"]
    # The known answers rest on the drop changing every image; dropped.json, applied by sample, shows that it does.
    dropped = sample(model, seeds=eval_seeds, drop=str(saved.folder / "dropped.json")).images
    assert all(not torch.equal(a, b) for a, b in zip(dropped, originals, strict=True))


# ---------------------------------------------------------------------------------------------------
# The command line, on the shared tiny rooms run.


def test_cli_forget_with_hand_drawn_boxes_and_sample_drop(trained, tmp_path: Path, capsys) -> None:
    run = str(trained.run_dir)
    out = tmp_path / "forget"
    boxes = write_boxes(tmp_path / "boxes.json", range(12))
    assert main(["forget", run, "--boxes", str(boxes), "--figure-count", "4", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert (out / "figure.png").is_file() and "logistic regression on blocks.0" in text
    report = json.loads((out / "results.json").read_text())
    drop = json.loads((out / "dropped.json").read_text())
    assert report["layer_name"] == drop["layer_name"] == "blocks.0" and report["layer_shape"] == [16, 8, 8]
    assert drop["maps"] == report["dropped_maps"] and drop["count"] == len(drop["maps"]) == report["dropped_count"] > 0
    assert drop["maps"] == [i for i, w in enumerate(report["fit"]["weights"]) if w > 0]
    assert report["samples_with_boxes"] == 8 and report["boxes"] == 9 and report["fit_seeds"] == list(range(12))
    assert report["figure_seeds"] == [1, 2, 4, 5] and "measure" not in report  # no judge, no measurement
    assert len(report["control_maps"]) == 3 and all(len(c) == drop["count"] for c in report["control_maps"])
    assert report["settings"]["renorm"] is True and set(drop["renorm"]) == {"blocks.1.1"}
    # Same seeds, same images: 'sample --drop' reproduces the figure's "dropped" row.
    name = "seeds-1-2,4-5.png"
    assert main(["sample", run, "--seeds", "1,2,4,5", "--out", str(tmp_path / "plain")]) == 0
    for folder in ("dropped", "again"):
        assert main(["sample", run, "--seeds", "1,2,4,5", "--out", str(tmp_path / folder), "--drop", str(out / "dropped.json")]) == 0
    assert f"dropped {drop['count']} feature maps" in capsys.readouterr().out
    plain, dropped, again = (np.asarray(Image.open(p)) for p in (tmp_path / "plain" / name, tmp_path / "dropped" / name.replace(
        ".png", "-drop.png"), tmp_path / "again" / name.replace(".png", "-drop.png")))
    assert not np.array_equal(plain, dropped) and np.array_equal(again, dropped)
    model = dcgan.load(trained.run_dir)
    with fg.drop_maps(model.generator, drop["layer"], drop["maps"], drop["renorm"]):
        expected = model.sample([1, 2, 4, 5])
    from dcgan.images import grid_image

    assert np.array_equal(np.asarray(grid_image(expected)), dropped)
    # --max-maps keeps only the strongest positive weights.
    assert main(["forget", run, "--boxes", str(boxes), "--max-maps", "2", "--control-draws", "0", "--out", str(tmp_path / "f2")]) == 0
    top2 = json.loads((tmp_path / "f2" / "dropped.json").read_text())["maps"]
    weights = report["fit"]["weights"]
    assert len(top2) == 2 and set(top2) <= set(drop["maps"]) and min(weights[m] for m in top2) >= max(
        (w for i, w in enumerate(weights) if i not in top2 and i in drop["maps"]), default=float("-inf"))
    # A drop file of another checkpoint is refused with one line.
    drop["digest"] = "0" * 64
    (tmp_path / "other.json").write_text(json.dumps(drop))
    capsys.readouterr()
    assert main(["sample", run, "--seeds", "0", "--out", str(tmp_path / "x"), "--drop", str(tmp_path / "other.json")]) == 2
    assert "another checkpoint" in capsys.readouterr().err


def test_cli_forget_with_a_judge_localiser_measures_what_the_judge_says(trained, tmp_path: Path, capsys, monkeypatch) -> None:
    from dcgan.judges import Localiser

    # The shared judge's localiser is barely trained: its boxes are fixed here, so that every run finds some.
    found: list[int] = []

    def boxes(self, images, threshold=0.5, min_pixels=4):
        found.append(len(images))
        return [{"window": [(2 + i % 7, 2, 12 + i % 7, 12)] if i % 2 else [], "bed": [], "rug": []} for i in range(len(images))]

    monkeypatch.setattr(Localiser, "boxes", boxes)
    out = tmp_path / "forget"
    code = main(["forget", str(trained.run_dir), "--judge", str(trained.judge), "--seeds", "0-19", "--eval-seeds", "1000-1031",
                 "--control-draws", "2", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and found == [20]
    report = json.loads((out / "results.json").read_text())
    m = report["measure"]
    assert m["count"] == 32 and m["seeds"] == "1000-1031" and report["judge"] == str(trained.judge)
    assert report["samples_with_boxes"] == 10 and report["boxes_source"] == f"localiser of judge {trained.judge}"
    # "Before" is what the judge says of the untouched samples.
    model = dcgan.load(trained.run_dir)
    judge = dcgan.load_judge(trained.judge, model)
    probs = judge.predict(model.sample(range(1000, 1032)))
    assert m["dropped"]["window"]["present_before"] == pytest.approx(float((judge.labels(probs)["window"] != 0).float().mean()))
    assert m["confident_share"]["before"] == pytest.approx(float(judge.confident(probs).float().mean()))
    assert m["pixel_share"]["before"] == pytest.approx(float((judge.localiser.masks(model.sample(range(1000, 1032)))["window"] > 0.5)
                                                             .float().mean()))
    assert "present_before" in m["dropped"]["bed"] and "present_before" not in m["dropped"]["wall"]
    assert len(m["control_draws"]) == 2 and sum(m["dropped"]["wall"]["histogram_after"].values()) == 32
    assert m["control"]["wall"]["kept"] == pytest.approx(np.mean([d["wall"]["kept"] for d in m["control_draws"]]))
    assert set(m["pixel_share"]) == {"before", "dropped", "control"} and set(m["confident_share"]) == {"before", "dropped", "control"}
    assert "window:" in text and "wall: same value kept" in text


def test_cli_forget_user_errors(trained, tmp_path: Path, capsys) -> None:
    boxes = write_boxes(tmp_path / "boxes.json", range(6))
    for flags, message in ((["--object", "bed", "--boxes", str(boxes)], "shows 'window', not --object 'bed'"),
                           ([], "give --boxes FILE"), (["--boxes", str(boxes), "--layer", "-1"], "output layer"),
                           (["--boxes", str(tmp_path / "nope.json")], "boxes file not found"),
                           (["--boxes", str(boxes), "--C", "0"], "--C, --negatives")):
        assert main(["forget", str(trained.run_dir), "--out", str(tmp_path / "f"), *flags]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "f").exists()
