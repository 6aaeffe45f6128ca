"""Procedural rooms: determinism, ground truth consistency (labels, boxes, masks), sizes, specs, preview."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan.cli import main
from dcgan.config import DataConfig
from dcgan.data import load_data
from dcgan.data.rooms import (
    FACTORS,
    SLOT_KIND,
    SLOTS,
    default_count,
    parse_rooms_spec,
    render_rooms,
    uniforms,
)
from dcgan.errors import UserError


def test_same_index_same_pixels_labels_and_boxes_whatever_the_batch() -> None:
    many = render_rooms(range(140), 64)  # crosses a chunk boundary (128 images at 64x64)
    picked = [139, 3, 128, 64]
    few = render_rooms(picked, 64)
    assert torch.equal(few.images, many.images[picked])
    for name in FACTORS:
        assert torch.equal(few.labels[name], many.labels[name][picked])
    assert torch.equal(few.boxes, many.boxes[picked])
    again = render_rooms(picked, 64)
    assert torch.equal(again.images, few.images)


def test_seed_changes_the_images_and_indices_differ() -> None:
    a, b = render_rooms(range(8), 32, seed=0), render_rooms(range(8), 32, seed=1)
    assert not torch.equal(a.images, b.images)
    assert len({bytes(img.numpy()) for img in a.images}) == 8


def test_uniforms_are_a_pure_function_of_seed_index_and_column() -> None:
    u = uniforms(5, np.array([0, 1, 2, 10**12]), 4)
    assert u.shape == (4, 4) and (u >= 0).all() and (u < 1).all()
    assert np.array_equal(u[3], uniforms(5, np.array([10**12]), 4)[0])
    assert not np.array_equal(u, uniforms(6, np.array([0, 1, 2, 10**12]), 4))


@pytest.mark.parametrize("size", [16, 32, 64, 128, 256])
def test_any_size(size: int) -> None:
    batch = render_rooms(range(3), size, masks=True)
    assert batch.images.shape == (3, 3, size, size) and batch.images.dtype == torch.uint8
    assert batch.masks is not None and batch.masks.shape == (3, len(SLOTS), size, size)
    assert batch.boxes.shape == (3, len(SLOTS), 4)
    assert batch.images.float().std() > 10  # not blank
    with pytest.raises(UserError, match="image size"):
        render_rooms(range(2), 48)


def test_factors_are_balanced_and_independent() -> None:
    labels = render_rooms(range(6000), 16).labels
    for name, values in FACTORS.items():
        share = torch.bincount(labels[name], minlength=len(values)).float() / 6000
        assert (share - 1 / len(values)).abs().max() < 0.03, (name, share)
    # independence: the joint of two factors is the product of the marginals
    joint = torch.bincount(labels["wall"] * 3 + labels["window"], minlength=12).float() / 6000
    assert (joint - 1 / 12).abs().max() < 0.02


@pytest.mark.parametrize("size", [32, 64, 128])
def test_labels_boxes_and_masks_agree(size: int) -> None:
    b = render_rooms(range(300), size, masks=True)
    assert b.masks is not None
    windows = b.present[:, [i for i, k in enumerate(SLOT_KIND) if k == "window"]].sum(1)
    assert torch.equal(windows, b.labels["window"])  # the window factor counts the windows drawn
    assert torch.equal(b.present[:, SLOTS.index("bed")], b.labels["bed"] > 0)
    assert torch.equal(b.present[:, SLOTS.index("rug")], b.labels["rug"] > 0)
    cols = torch.arange(size).view(1, size)
    rows = torch.arange(size).view(size, 1)
    for slot in range(len(SLOTS)):
        m = b.masks[:, slot]
        area = (m > 0).flatten(1).sum(1)
        # an absent object has an empty mask; a present one is visible (windows can hide behind a bed a little)
        assert (area[~b.present[:, slot]] == 0).all()
        assert (area[b.present[:, slot]] > 0).all(), SLOTS[slot]
        # every pixel of the mask touches the object's box
        x0, y0, x1, y1 = (b.boxes[:, slot, k].view(-1, 1, 1) for k in range(4))
        inside = (cols + 1 > x0) & (cols < x1) & (rows + 1 > y0) & (rows < y1)
        assert not ((m > 0) & ~inside).any(), SLOTS[slot]
    bed_mask = b.object_mask("bed")
    assert torch.equal(bed_mask.flatten(1).amax(1) > 0, b.labels["bed"] > 0)
    # a rug is always at least about half visible, so that its label can be seen
    rug = b.present[:, SLOTS.index("rug")]
    box = b.boxes[rug, SLOTS.index("rug")]
    box_area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
    assert (b.masks[rug, SLOTS.index("rug")].flatten(1).sum(1) > 0.4 * box_area).all()


def test_load_data_spec_grammar_splits_and_channels() -> None:
    train = load_data(DataConfig(spec="rooms", image_size=32, num_images=20))
    assert len(train) == 20 and set(train.labels) == set(FACTORS)
    assert train.label_names["wall"] == FACTORS["wall"]
    test = load_data(DataConfig(spec="rooms:test", image_size=32, num_images=20))
    assert not any(torch.equal(a, b) for a in train.images for b in test.images)  # disjoint splits
    shifted = load_data(DataConfig(spec="rooms:seed=0,start=5", image_size=32, num_images=3))
    assert torch.equal(shifted.images, train.images[5:8])
    seeded = load_data(DataConfig(spec="rooms:seed=3:test", image_size=32, num_images=3))
    assert torch.equal(seeded.images, render_rooms(np.arange(3) + 10**9, 32, seed=3).images)
    grey = load_data(DataConfig(spec="rooms", image_size=32, channels=1, num_images=4))
    assert grey.images.shape == (4, 1, 32, 32)
    assert parse_rooms_spec("rooms:seed=7") == {"seed": 7, "start": 0}
    assert default_count(64) == 50_000 and default_count(256) < 50_000


@pytest.mark.parametrize("spec", ["rooms:colour=3", "rooms:seed=x", "rooms:seed=-1", "rooms:seed"])
def test_bad_specs_are_user_errors(spec: str) -> None:
    with pytest.raises(UserError):
        load_data(DataConfig(spec=spec, image_size=32, num_images=2))


def test_preview_writes_a_labelled_grid(tmp_path, capsys) -> None:
    out = tmp_path / "preview.png"
    assert main(["data", "preview", "rooms", "--count", "6", "--nrow", "3", "--image-size", "32", "--out", str(out)]) == 0
    assert f"grid: {out}" in capsys.readouterr().out
    with Image.open(out) as img:
        w, h = img.size
    scale = 4  # 32-pixel tiles are enlarged to 128
    assert w == 3 * (32 * scale + 4)
    assert h > 2 * (32 * scale + 4) + 2 * 6 * 10  # two rows of tiles, six caption lines under each
    assert main(["data", "preview", "rooms:nope=1", "--out", str(out)]) == 2
    assert main(["data", "preview", "rooms", "--labels", "colour", "--out", str(out)]) == 2
