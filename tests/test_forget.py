"""Forgetting an object: the layer choice, positives/negatives for the regression, the drop hook, drop files, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan.analysis import forget as fg
from dcgan.cli import main
from dcgan.config import ModelConfig
from dcgan.errors import UserError
from dcgan.latent import z_from_seeds
from dcgan.models import build_models
from dcgan.sampling import generate

TINY32 = ["--image-size", "32", "--ngf", "8", "--ndf", "8", "--z-dim", "8", "--batch-size", "16"]


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
    path = fg.save_drop_file(tmp_path / "d.json", checkpoint="c.pt", digest="abc", layer=1, layer_name="blocks.0", channels=16,
                             maps=[1, 4], obj="window")
    assert fg.load_drop_file(path, g, "abc")[:2] == (1, [1, 4])
    with pytest.raises(UserError, match="another checkpoint"):
        fg.load_drop_file(path, g, "other")
    with pytest.raises(UserError, match="does not fit"):
        fg.load_drop_file(path, tiny_g(ngf=4), "abc")  # 8 maps there, not 16
    with pytest.raises(UserError, match="not a drop file"):
        fg.load_drop_file(good, g)


# ---------------------------------------------------------------------------------------------------
# End to end on a tiny rooms checkpoint.


@pytest.fixture(scope="module")
def rooms_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    assert main(["train", "--data", "rooms", "--num-images", "64", "--max-steps", "3", *TINY32, "--out", str(out)]) == 0
    return next(out.iterdir())


def write_boxes(path: Path, seeds: range) -> Path:
    boxes = {str(s): ([[4 + s % 5, 3, 14 + s % 5, 12]] if s % 3 else []) for s in seeds}
    boxes["2"].append([20, 4, 28, 11])
    path.write_text(json.dumps({"object": "window", "image_size": 32, "boxes": boxes}))
    return path


def test_cli_forget_with_hand_drawn_boxes_and_sample_drop(rooms_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "forget"
    boxes = write_boxes(tmp_path / "boxes.json", range(12))
    assert main(["forget", str(rooms_run), "--boxes", str(boxes), "--figure-count", "4", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert (out / "figure.png").is_file() and "logistic regression on blocks.0" in text
    report = json.loads((out / "results.json").read_text())
    drop = json.loads((out / "dropped.json").read_text())
    assert report["layer_name"] == drop["layer_name"] == "blocks.0" and report["layer_shape"] == [16, 8, 8]
    assert drop["maps"] == report["dropped_maps"] and drop["count"] == len(drop["maps"]) > 0
    assert drop["maps"] == [i for i, w in enumerate(report["fit"]["weights"]) if w > 0]
    assert report["samples_with_boxes"] == 8 and report["boxes"] == 9 and report["fit_seeds"] == list(range(12))
    assert report["figure_seeds"] == [1, 2, 4, 5] and "measure" not in report  # no judge, no measurement
    assert len(report["control_maps"]) == 3 and all(len(c) == drop["count"] for c in report["control_maps"])
    # Same seeds, same images: 'sample --drop' reproduces the figure's "dropped" row.
    plain, dropped = tmp_path / "plain.png", tmp_path / "dropped.png"
    assert main(["sample", str(rooms_run), "--seeds", "1,2,4,5", "--grid", str(plain)]) == 0
    assert main(["sample", str(rooms_run), "--seeds", "1,2,4,5", "--grid", str(dropped), "--drop", str(out / "dropped.json")]) == 0
    assert f"dropped {drop['count']} feature maps" in capsys.readouterr().out
    assert not np.array_equal(np.asarray(Image.open(plain)), np.asarray(Image.open(dropped)))
    again = tmp_path / "again.png"
    assert main(["sample", str(rooms_run), "--seeds", "1,2,4,5", "--grid", str(again), "--drop", str(out / "dropped.json")]) == 0
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(dropped)))
    assert report["renorm"] is True and set(drop["renorm"]) == {"blocks.1.1"}
    from dcgan.checkpoint import generator_from_checkpoint, load_checkpoint

    g = generator_from_checkpoint(load_checkpoint(rooms_run))
    with fg.drop_maps(g, drop["layer"], drop["maps"], drop["renorm"]):
        expected = generate(g, z_from_seeds([1, 2, 4, 5], 8, "normal"))
    from dcgan.images import grid_image

    assert np.array_equal(np.asarray(grid_image(expected)), np.asarray(Image.open(dropped)))
    # --max-maps keeps only the strongest positive weights.
    assert main(["forget", str(rooms_run), "--boxes", str(boxes), "--max-maps", "2", "--out", str(tmp_path / "f2")]) == 0
    top2 = json.loads((tmp_path / "f2" / "dropped.json").read_text())["maps"]
    weights = report["fit"]["weights"]
    assert len(top2) == 2 and set(top2) <= set(drop["maps"]) and min(weights[m] for m in top2) >= max(
        (w for i, w in enumerate(weights) if i not in top2 and i in drop["maps"]), default=float("-inf"))
    # A drop file of another checkpoint is refused with one line.
    drop["digest"] = "0" * 64
    (tmp_path / "other.json").write_text(json.dumps(drop))
    capsys.readouterr()
    assert main(["sample", str(rooms_run), "--seeds", "0", "--grid", str(again), "--drop", str(tmp_path / "other.json")]) == 2
    assert "another checkpoint" in capsys.readouterr().err


def test_cli_forget_with_a_judge_localiser_measures_before_after_and_control(rooms_run: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    from dcgan.data.rooms import FACTORS, OBJECTS
    from dcgan.judges import (
        Judge,
        JudgeConfig,
        JudgeNet,
        Localiser,
        LocaliserConfig,
        LocaliserNet,
        save_judge,
    )

    # An untrained judge is enough to test the wiring; its localiser's boxes are fixed so that every run finds some.
    torch.manual_seed(0)
    net = JudgeNet(JudgeConfig(32, 3, tuple(FACTORS), tuple(tuple(v) for v in FACTORS.values()), width=4, feature_dim=16))
    loc = Localiser(LocaliserNet(LocaliserConfig(32, 3, OBJECTS, width=4)))
    judge_path = save_judge(tmp_path / "judge.pt", Judge(net, localiser=loc))
    found: list[int] = []

    def boxes(self, images, threshold=0.5, min_pixels=4):
        found.append(len(images))
        return [{"window": [(2 + i % 7, 2, 12 + i % 7, 12)] if i % 2 else [], "bed": [], "rug": []} for i in range(len(images))]

    monkeypatch.setattr(Localiser, "boxes", boxes)
    out = tmp_path / "forget"
    code = main(["forget", str(rooms_run), "--judge", str(judge_path), "--seeds", "0-19", "--eval-seeds", "1000-1031",
                 "--control-draws", "2", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and found == [20]
    report = json.loads((out / "results.json").read_text())
    m = report["measure"]
    assert m["count"] == 32 and m["seeds"] == "1000-1031"
    assert report["samples_with_boxes"] == 10 and report["boxes_source"].startswith("localiser of judge")
    for key in ("present_before", "present_after", "kept"):
        assert 0 <= m["dropped"]["window"][key] <= 1 and 0 <= m["control"]["window"][key] <= 1
    assert "present_before" in m["dropped"]["bed"] and "present_before" not in m["dropped"]["wall"]
    assert len(m["control_draws"]) == 2 and sum(m["dropped"]["wall"]["histogram_after"].values()) == 32
    assert m["control"]["wall"]["kept"] == pytest.approx(np.mean([d["wall"]["kept"] for d in m["control_draws"]]))
    assert set(m["pixel_share"]) == {"before", "dropped", "control"} and set(m["confident_share"]) == {"before", "dropped", "control"}
    assert "window:" in text and "wall: same value kept" in text


def test_cli_forget_user_errors(rooms_run: Path, tmp_path: Path, capsys) -> None:
    boxes = write_boxes(tmp_path / "boxes.json", range(6))
    for flags, message in ((["--object", "bed", "--boxes", str(boxes)], "shows 'window', not --object 'bed'"),
                           ([], "give --boxes FILE"), (["--boxes", str(boxes), "--layer", "-1"], "output layer"),
                           (["--boxes", str(tmp_path / "nope.json")], "boxes file not found")):
        assert main(["forget", str(rooms_run), "--out", str(tmp_path / "f"), *flags]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
