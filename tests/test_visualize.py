"""Guided back-propagation of D's units: the guided ReLUs, shapes, the untouched model, the pointing game,
settings, the Python API (with known pointing answers) and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import dcgan
import dcgan.analysis.visualize
from dcgan.analysis.visualize import (
    GuidedActivation,
    UnitViews,
    edge_peaks,
    guided_backprop,
    guided_copy,
    pointing_game,
    saliency_peaks,
    top_images,
    unit_responses,
    unit_views,
)
from dcgan.cli import main
from dcgan.config import ModelConfig
from dcgan.errors import UserError
from dcgan.models import build_models
from dcgan.report.visualize import gradient_pictures
from dcgan.settings.visualize import VisualizeSettings


def tiny_d(size: int = 16, seed: int = 0) -> nn.Module:
    return build_models(ModelConfig(image_size=size, channels=3, z_dim=8, ngf=8, ndf=8), seed=seed)[1].eval()


def random_images(n: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_guided_relus_pass_only_positive_gradients_where_the_input_was_positive() -> None:
    d = tiny_d()
    guided = guided_copy(d)
    acts = [m for m in guided.modules() if isinstance(m, GuidedActivation)]
    assert len(acts) == len(d.blocks) and all(a.negative_slope == pytest.approx(0.2) for a in acts)
    seen: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (forward input, gradient in, gradient out)
    inputs: dict[int, torch.Tensor] = {}
    for i, act in enumerate(acts):
        act.register_forward_hook(lambda m, inp, out, i=i: inputs.__setitem__(i, inp[0].detach()))
        act.register_full_backward_hook(lambda m, g_in, g_out, i=i: seen.append((inputs[i], g_in[0].detach(), g_out[0].detach())))
    images = random_images(4)
    units = torch.tensor([0, 1, 2, 3])
    grads = guided_backprop(guided, images, len(d.blocks) - 1, units, torch.zeros(4, dtype=torch.long))
    assert grads.shape == (4, 3, 16, 16) and grads.dtype == torch.float32
    assert len(seen) == len(acts)
    some_negative_upstream = False
    for x, g_in, g_out in seen:
        assert (g_in >= 0).all()  # nothing negative passes a guided ReLU
        assert (g_in[x <= 0] == 0).all()  # nor anything where the forward input was not positive
        assert torch.equal(g_in, g_out.clamp(min=0) * (x > 0))
        some_negative_upstream |= bool((g_out < 0).any())
    assert some_negative_upstream  # the test saw gradients that guidance had to remove


def test_guided_equals_vanilla_when_no_unit_is_negative_and_differs_otherwise() -> None:
    d = tiny_d()
    with torch.no_grad():  # positive weights and positive inputs: every pre-activation and every gradient is positive
        for m in d.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.abs_()
    images = torch.randint(140, 256, (3, 3, 16, 16), dtype=torch.uint8)
    layer, units, where = len(d.blocks) - 1, torch.tensor([0, 5, 9]), torch.tensor([0, 3, 15])
    guided = guided_backprop(guided_copy(d), images, layer, units, where)
    vanilla = guided_backprop(d, images, layer, units, where)  # the original D: plain gradient
    assert (vanilla > 0).any()
    torch.testing.assert_close(guided, vanilla)
    # A random D has negative units and gradients: guidance changes the result.
    d2 = tiny_d(seed=1)
    images2 = random_images(3)
    assert not torch.allclose(guided_backprop(guided_copy(d2), images2, layer, units, where), guided_backprop(d2, images2, layer, units, where))


def test_original_model_is_untouched() -> None:
    d = tiny_d()
    before = {k: v.clone() for k, v in d.state_dict().items()}
    images = random_images(6)
    out_before = d(images.float() / 127.5 - 1)
    views = unit_views(d, images, -1 % len(d.blocks), [0, 1], k=3)
    assert views.grads is not None
    for k, v in d.state_dict().items():
        assert torch.equal(v, before[k]), k
    acts = [m for m in d.modules() if isinstance(m, nn.LeakyReLU)]
    assert acts and all(a.inplace for a in acts) and not any(isinstance(m, GuidedActivation) for m in d.modules())
    assert all(p.requires_grad for p in d.parameters()) and not d.training
    torch.testing.assert_close(d(images.float() / 127.5 - 1), out_before)


def test_unit_views_shapes_and_top_images() -> None:
    d = tiny_d()
    images = random_images(20)
    layer = len(d.blocks) - 1
    values, where = unit_responses(d, images, layer)
    assert values.shape == where.shape == (20, 16)  # ndf 8 -> 16 maps at 4x4
    assert int(where.max()) < 16
    index = top_images(values, [2, 7], 5)
    assert index.shape == (2, 5)
    for row, unit in zip(index, (2, 7), strict=True):
        picked = values[row, unit]
        assert torch.equal(picked, values[:, unit].sort(descending=True).values[:5])
    views = unit_views(d, images, layer, [2, 7], 5, (values, where))
    assert views.image_index.shape == views.response.shape == (2, 5)
    assert views.peaks.shape == (2, 5, 2)
    assert views.grads is not None and views.grads.shape == (2, 5, 3, 16, 16)
    assert torch.equal(views.peaks.view(-1, 2), saliency_peaks(views.grads.flatten(0, 1)))
    # The same result whatever the batch size: images are independent in eval mode.
    again = unit_views(d, images, layer, [2, 7], 5, batch_size=3)
    assert again.grads is not None
    torch.testing.assert_close(again.grads, views.grads)


def test_pointing_game_counts_hits_and_chance() -> None:
    masks = {"window": torch.zeros(3, 8, 8), "bed": torch.zeros(3, 8, 8)}
    masks["window"][0, :2, :4] = 1.0  # image 0: 8 window pixels
    masks["bed"][1, 4:, :] = 1.0  # image 1: 32 bed pixels
    views = UnitViews(units=[0, 1], image_index=torch.tensor([[0, 1], [2, 0]]), response=torch.zeros(2, 2),
                      peaks=torch.tensor([[[1, 3], [5, 0]], [[0, 0], [7, 7]]]), grads=None)
    p = pointing_game(views, masks)
    # hits: (img 0, (1,3)) window yes; (img 1, (5,0)) bed yes; (img 2) nothing; (img 0, (7,7)) no.
    assert p["hits"] == 2 and p["trials"] == 4 and p["hit_rate"] == 0.5
    assert p["window_hit_rate"] == 0.25 and p["bed_hit_rate"] == 0.25
    assert p["chance"] == pytest.approx((8 + 32 + 0 + 8) / (4 * 64))
    assert p["units_mostly_on_objects"] == 1  # unit 0 hit on both of its images, unit 1 on none
    views.peaks[0, 0] = torch.tensor([7, 7])
    assert pointing_game(views, masks)["units_mostly_on_objects"] == 0  # 1 of 2 is not "mostly"
    images = torch.zeros(3, 3, 8, 8, dtype=torch.uint8)
    images[0, :, 1, 2] = 255  # image 0's strongest edge: a dot on its window
    images[1, :, 0, 7] = 255  # image 1's: a dot outside its bed
    images[2, 0, 6, 6] = 255
    assert edge_peaks(images).tolist() == [[1, 2], [0, 7], [6, 6]]
    assert pointing_game(views, masks, images)["edge_hit_rate"] == 0.5  # trials on images 0, 1, 2, 0


def test_gradient_pictures_are_grey_at_zero_and_scaled_per_map() -> None:
    grads = torch.zeros(2, 1, 10, 10)
    grads[1, 0, 0, :] = torch.linspace(-1.0, 1.0, 10) * 100  # a map a hundred times stronger
    pictures = gradient_pictures(grads)
    assert pictures.dtype == torch.uint8 and (pictures[0] == 128).all()  # no gradient: mid grey
    assert pictures[1, 0, 0, 0] == 0 and pictures[1, 0, 0, -1] == 255 and (pictures[1, 0, 1:] == 128).all()


def test_settings_read_unit_lists_and_refuse_bad_values() -> None:
    s = VisualizeSettings(units="0-2,1", pointing_units="3,17")
    assert s.units == (0, 1, 2) and s.pointing_units == (3, 17)
    assert VisualizeSettings(units=[4, 4, 2]).units == (4, 2) and VisualizeSettings().pointing_units == "all"
    for bad, message in (({"units": "a-b"}, "cannot read --units"), ({"pointing_units": "some"}, "cannot read --pointing-units"),
                         ({"top_k": 0}, "--num-images, --top-k and --batch-size must be positive")):
        with pytest.raises(UserError, match=message):
            VisualizeSettings(**bad)


def test_visualize_through_the_api_with_known_pointing_answers(trained, tmp_path: Path) -> None:
    from dcgan.data.rooms import render_rooms, split_indices

    model = dcgan.load(trained.run_dir)
    images = render_rooms(split_indices("test", 0, 24), 32).images
    left = torch.zeros(24, 32, 32)
    left[:, :, :16] = 1.0  # the "window" is the left half of every image, and there is no bed
    masks = {"window": left, "bed": torch.zeros(24, 32, 32)}
    files_before = set(trained.run_dir.rglob("*"))
    result = dcgan.analysis.visualize(model, images=images, masks=masks, units="0-3", top_k=3, pointing_units="0-3")
    assert set(trained.run_dir.rglob("*")) == files_before
    assert result.layer == 2 and result.chance_all_images == 0.5
    for (title, views), name in zip(result.panels, ("random", "trained"), strict=True):
        p = result.models[name]["pointing"]
        assert title == f"{name} D, layer 2" and p["trials"] == 12 and p["units"] == 4
        # A peak hits when it lies in the left half; chance is the left half's area; no bed, no bed hits.
        assert p["hit_rate"] == p["window_hit_rate"] == float((views.peaks[..., 1] < 16).float().mean())
        assert p["chance"] == 0.5 and p["bed_hit_rate"] == p["bed_chance"] == 0.0
        edges = edge_peaks(images[views.image_index.reshape(-1)])
        assert p["edge_hit_rate"] == float((edges[:, 1] < 16).float().mean())
    # The trained panel is the checkpoint's D on its strongest images; the random one is a fresh D of --random-seed.
    values, _ = unit_responses(model.discriminator, images, 2)
    assert result.models["trained"]["top_images"] == values[:, :4].topk(3, dim=0).indices.T.tolist()
    random_d = build_models(model.config, seed=0)[1].eval()
    assert result.models["random"]["top_images"] == unit_responses(random_d, images, 2)[0][:, :4].topk(3, dim=0).indices.T.tolist()

    saved = dcgan.report.save(result, tmp_path / "out")
    record = json.loads(saved.results.read_text())
    assert record["tool"] == "visualize" and record["settings"]["units"] == [0, 1, 2, 3] and record["images"] == 24
    assert record["figures"] == ["figure.png", "top_images.png"] and all((saved.folder / f).is_file() for f in record["figures"])
    assert record["models"]["trained"]["pointing"]["chance"] == 0.5 and "command" not in record
    # Without masks there is no pointing game, and the result says why.
    plain = dcgan.analysis.visualize(model, images=images, units=[0], top_k=2)
    assert "pointing" not in plain.models["trained"] and plain.chance_all_images is None
    assert plain.pointing_skipped == "the pointing game needs rooms data (object masks)"
    with pytest.raises(UserError, match="takes uint8"):
        dcgan.analysis.visualize(model, images=images.float())


def test_cli_visualize_writes_figures_and_pointing_game(trained, tmp_path: Path, capsys) -> None:
    from dcgan.analysis.visualize import search_images

    out = tmp_path / "vis"
    code = main(["visualize", str(trained.run_dir), "--num-images", "48", "--top-k", "4", "--units", "0-2", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert (out / "figure.png").is_file() and (out / "top_images.png").is_file()
    report = json.loads((out / "results.json").read_text())
    assert report["layer"] == 2 and report["units"] == [0, 1, 2] and report["images"] == 48 and report["data"] == "rooms"
    for name in ("trained", "random"):
        entry = report["models"][name]
        assert len(entry["top_images"]) == 3 and len(entry["top_images"][0]) == 4
        p = entry["pointing"]
        assert p["units"] == entry["channels"] == 32 and p["trials"] == 32 * 4
        assert p["hits"] == round(p["hit_rate"] * p["trials"])
    _, masks, _ = search_images("rooms", None, 32, 3, 48)  # the same rooms, rendered with their object masks
    union = torch.stack([m > 0.5 for m in masks.values()]).any(0)
    assert report["chance_all_images"] == pytest.approx(float(union.float().mean()))
    assert "trained D: saliency peak" in text and "random D: saliency peak" in text
    assert main(["visualize", str(trained.run_dir), "--num-images", "16", "--top-k", "2", "--no-pointing", "--out", str(out)]) == 0
    assert "pointing" not in json.loads((out / "results.json").read_text())["models"]["trained"]


@pytest.mark.parametrize(("flags", "message"), [
    (["--layer", "7"], "--layer 7 does not exist"),
    (["--units", "40"], "units [40] do not exist"),
    (["--units", "a-b"], "cannot read --units"),
    (["--top-k", "99", "--num-images", "10"], "--top-k 99 is more than"),
    (["--num-images", "0"], "--num-images, --top-k and --batch-size must be positive"),
])
def test_cli_visualize_user_errors(trained, tmp_path: Path, capsys, flags: list[str], message: str) -> None:
    code = main(["visualize", str(trained.run_dir), "--num-images", "16", "--out", str(tmp_path / "v"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "v").exists()
