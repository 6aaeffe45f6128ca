"""Data sources: image folders (with corrupt files), .npz arrays, fitting, batches, named-set errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan.config import DataConfig
from dcgan.data import BatchSampler, fit_images, load_data, split_spec, to_uint8, to_unit_range
from dcgan.errors import UserError


def _write_folder(root: Path) -> None:
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (root / cls / "deeper").mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")
        Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(root / cls / "deeper" / "x.jpg")
        Image.fromarray(rng.integers(0, 255, (30, 30), dtype=np.uint8)).save(root / cls / "grey.webp")
    (root / "cats" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (root / "dogs" / "notes.txt").write_text("ignored")


def test_folder_source_recursive_with_corrupt_files_and_labels(tmp_path: Path) -> None:
    _write_folder(tmp_path / "imgs")
    data = load_data(DataConfig(spec=str(tmp_path / "imgs"), image_size=16))
    assert data.images.shape == (10, 3, 16, 16) and data.images.dtype == torch.uint8
    assert data.skipped == 1
    assert data.label_names["label"] == ["cats", "dogs"]
    assert data.labels["label"].tolist() == [0] * 5 + [1] * 5
    grey = load_data(DataConfig(spec=str(tmp_path / "imgs"), image_size=16, channels=1))
    assert grey.images.shape == (10, 1, 16, 16)


def test_folder_cache_is_reused_and_invalidated(tmp_path: Path, monkeypatch) -> None:
    from dcgan.data import folder

    _write_folder(tmp_path / "imgs")
    cfg = DataConfig(spec=str(tmp_path / "imgs"), image_size=16)
    first = load_data(cfg).images.clone()
    calls = []
    original = folder.decode_image
    monkeypatch.setattr(folder, "decode_image", lambda *a: calls.append(a) or original(*a))
    assert torch.equal(load_data(cfg).images, first) and not calls  # decoded once
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "imgs" / "cats" / "0.png")
    changed = load_data(cfg).images
    assert calls and changed[0].sum() == 0  # the changed file was decoded again


def test_grey_folder_is_inferred_as_one_channel(tmp_path: Path) -> None:
    (tmp_path / "g").mkdir()
    for i in range(3):
        Image.fromarray(np.full((20, 20), 60 * i, np.uint8)).save(tmp_path / "g" / f"{i}.png")
    data = load_data(DataConfig(spec=str(tmp_path / "g"), image_size=16))
    assert data.channels == 1 and "label" not in data.labels


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no data at"):
        load_data(DataConfig(spec=str(tmp_path / "missing")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images in"):
        load_data(DataConfig(spec=str(tmp_path / "empty")))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.png").write_bytes(b"garbage")
    with pytest.raises(UserError, match="none of the 1 images"):
        load_data(DataConfig(spec=str(tmp_path / "bad")))


def test_npz_source_with_splits_and_factor_labels(tmp_path: Path) -> None:
    x = np.random.default_rng(0).integers(0, 255, (6, 20, 20, 1), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.arange(6) % 2, class_names=np.array(["even", "odd"]),
             y_train_size=np.arange(6) % 3, x_test=x[:2], y_test=np.array([1, 0]))
    train = load_data(DataConfig(spec=str(tmp_path / "d.npz"), image_size=16))
    assert train.images.shape == (6, 1, 16, 16)
    assert train.label_names == {"label": ["even", "odd"], "size": ["0", "1", "2"]}
    assert train.labels["size"].tolist() == [0, 1, 2, 0, 1, 2]
    test = load_data(DataConfig(spec=str(tmp_path / "d.npz") + ":test", image_size=16, channels=3))
    assert test.images.shape == (2, 3, 16, 16) and test.labels["label"].tolist() == [1, 0]


def test_npz_errors(tmp_path: Path) -> None:
    np.savez(tmp_path / "f.npz", x=np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(UserError, match="expected uint8"):
        load_data(DataConfig(spec=str(tmp_path / "f.npz"), image_size=16))
    with pytest.raises(UserError, match="no images for split 'test'"):
        load_data(DataConfig(spec=str(tmp_path / "f.npz:test"), image_size=16))
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(UserError, match="not a valid .npz"):
        load_data(DataConfig(spec=str(tmp_path / "junk.npz"), image_size=16))


def test_named_dataset_missing_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"mnist not found under .*--download"):
        load_data(DataConfig(spec="mnist", data_root=str(tmp_path), image_size=32))


def _write_idx_gz(path: Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) as a gzip-compressed idx file, the format of MNIST's own downloads."""
    import gzip

    path.parent.mkdir(parents=True, exist_ok=True)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize(("spec", "folder"), [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_from_the_original_gz_files_in_torchvisions_layout(tmp_path: Path, spec: str, folder: str) -> None:
    rng = np.random.default_rng(0)
    written = {}
    for split, prefix, n in (("train", "train", 5), ("test", "t10k", 3)):
        written[split] = rng.integers(0, 256, (n, 16, 16)), rng.integers(0, 10, n)
        _write_idx_gz(tmp_path / folder / "raw" / f"{prefix}-images-idx3-ubyte.gz", written[split][0])
        _write_idx_gz(tmp_path / folder / "raw" / f"{prefix}-labels-idx1-ubyte.gz", written[split][1])
    for split, (images, labels) in written.items():
        data = load_data(DataConfig(spec=f"{spec}:{split}", data_root=str(tmp_path), image_size=16))
        assert data.images.shape == (len(images), 1, 16, 16) and data.images.dtype == torch.uint8
        assert np.array_equal(data.images[:, 0].numpy(), images)  # pixels round-trip exactly
        assert data.labels["label"].tolist() == labels.tolist()
        assert len(data.label_names["label"]) == 10
    (tmp_path / folder / "raw" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(UserError, match="cannot read .*t10k-labels-idx1-ubyte.gz"):
        load_data(DataConfig(spec=f"{spec}:test", data_root=str(tmp_path), image_size=16))


@pytest.mark.data
def test_mnist_by_name_from_the_shared_data_root(mnist_npz: Path) -> None:
    data = load_data(DataConfig(spec="mnist:test", data_root=str(mnist_npz.parent), image_size=32))
    assert data.images.shape == (10000, 1, 32, 32)
    assert data.labels["label"].bincount().tolist()[:2] == [980, 1135]  # MNIST's known test class counts


def test_fit_images_crops_centre_then_resizes() -> None:
    x = torch.zeros(1, 1, 4, 8, dtype=torch.uint8)
    x[..., 2:6] = 200  # the central square of a 4x8 image
    assert torch.equal(fit_images(x, 4), torch.full((1, 1, 4, 4), 200, dtype=torch.uint8))
    assert fit_images(x, 16).shape == (1, 1, 16, 16)
    rgb = fit_images(torch.full((2, 3, 8, 8), 100, dtype=torch.uint8), 8, channels=1)
    assert rgb.shape == (2, 1, 8, 8) and int(rgb[0, 0, 0, 0]) == 100


def test_unit_range_round_trip() -> None:
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    y = to_unit_range(x)
    assert y.min() == -1 and y.max() == 1
    assert torch.equal(to_uint8(y), x)


def test_batches_cover_each_epoch_once_and_depend_only_on_seed_and_epoch() -> None:
    s = BatchSampler(100, 10, seed=3)
    assert s.steps_per_epoch == 10
    epoch0 = torch.cat([s.indices(i) for i in range(10)])
    assert sorted(epoch0.tolist()) == list(range(100))
    assert not torch.equal(epoch0, torch.cat([s.indices(i) for i in range(10, 20)]))
    fresh = BatchSampler(100, 10, seed=3)
    assert torch.equal(fresh.indices(13), s.indices(13))  # no hidden state: resume sees the same batches


def test_batches_are_disjoint_across_processes() -> None:
    shards = [BatchSampler(64, 8, seed=0, rank=r, world_size=2) for r in range(2)]
    assert shards[0].steps_per_epoch == 4
    seen = torch.cat([s.indices(i) for s in shards for i in range(4)])
    assert sorted(seen.tolist()) == list(range(64))


def test_too_little_data_for_a_batch() -> None:
    with pytest.raises(UserError, match="smaller --batch-size"):
        BatchSampler(5, 8, seed=0)


def test_split_spec() -> None:
    assert split_spec("mnist:test") == ("mnist", "test")
    assert split_spec("lsun:bedroom") == ("lsun:bedroom", "train")
    assert split_spec("/data/x.npz") == ("/data/x.npz", "train")
