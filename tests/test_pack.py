"""dcgan data pack: round trips (pixels, labels, skip list), resume after an interruption, refusals, training from a pack."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan.cli import main
from dcgan.config import DataConfig
from dcgan.data import load_data
from dcgan.data.pack import PARTIAL, is_pack, open_pack, open_source, pack, write_pack
from dcgan.errors import UserError


def photo_folder(root: Path, per_class: int = 6) -> dict[str, np.ndarray]:
    """Write PNGs of known pixels (32x32, so packing at 32 keeps them exactly) in two class folders, plus two bad files."""
    rng = np.random.default_rng(0)
    written = {}
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            arr = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / cls / f"{i:02d}.png")
            written[f"{cls}/{i:02d}.png"] = arr
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (root / "cat" / "notes.jpg").write_text("not an image")
    return written


def mapped_file(address: int) -> str | None:
    """Return the file mapped at ``address`` in this process (Linux /proc/self/maps), or None for anonymous memory."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("needs /proc/self/maps (Linux)")
    for line in maps.read_text().splitlines():
        parts = line.split(maxsplit=5)
        lo, hi = (int(v, 16) for v in parts[0].split("-"))
        if lo <= address < hi:
            return parts[5] if len(parts) == 6 else None
    return None


@pytest.mark.parametrize("workers", [1, 2])
def test_folder_round_trip_keeps_pixels_labels_and_the_skip_list(tmp_path: Path, workers: int) -> None:
    written = photo_folder(tmp_path / "photos")
    result = pack(src=str(tmp_path / "photos"), out=str(tmp_path / "pack"), image_size=32, workers=workers, chunk=4)
    images, labels, meta = open_pack(tmp_path / "pack")
    names = sorted(written)
    assert result.count == len(names) == meta["count"] == len(images)
    assert meta["files"] == names  # source order, bad files left out
    for i, name in enumerate(names):
        assert np.array_equal(images[i], written[name].transpose(2, 0, 1)), name
    assert meta["labels"] == {"label": ["cat", "dog"]}
    assert labels["label"].tolist() == [0 if n.startswith("cat") else 1 for n in names]
    assert {s["file"] for s in meta["skipped"]} == {"cat/notes.jpg", "dog/broken.png"}
    assert all(s["reason"] for s in meta["skipped"])
    assert meta["source"]["kind"] == "folder" and meta["source"]["items"] == len(names) + 2
    assert not (tmp_path / "pack" / PARTIAL).exists()


def test_training_data_from_a_pack_is_memory_mapped_without_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = photo_folder(tmp_path / "photos")
    pack(src=str(tmp_path / "photos"), out=str(tmp_path / "pack"), image_size=32, workers=1)

    def no_decoding(*_args, **_kwargs):
        raise AssertionError("a pack must not decode images")

    monkeypatch.setattr(Image, "open", no_decoding)
    data = load_data(DataConfig(spec=str(tmp_path / "pack"), image_size=32))
    assert len(data) == len(written) and data.skipped == 2
    assert mapped_file(data.images.data_ptr()) == str((tmp_path / "pack" / "images.npy").resolve())  # a map, not a copy
    assert torch.equal(data.images[0], torch.from_numpy(written["cat/00.png"].transpose(2, 0, 1).copy()))
    assert data.labels["label"].tolist()[-1] == 1 and data.label_names["label"] == ["cat", "dog"]
    grey = load_data(DataConfig(spec=str(tmp_path / "pack"), image_size=16, channels=1, num_images=3))
    assert grey.images.shape == (3, 1, 16, 16)  # another size or channel count is fitted from the packed pixels


def test_rooms_pack_equals_the_rendered_rooms_chunk_by_chunk(tmp_path: Path) -> None:
    result = pack(src="rooms:test", out=str(tmp_path / "rooms"), image_size=16, num_images=300, chunk=128)
    rendered = load_data(DataConfig(spec="rooms:test", image_size=16, num_images=300))
    data = load_data(DataConfig(spec=str(tmp_path / "rooms"), image_size=16))
    assert result.count == 300 and torch.equal(data.images, rendered.images)
    assert set(data.labels) == set(rendered.labels)
    for k in rendered.labels:
        assert torch.equal(data.labels[k], rendered.labels[k])
    meta = json.loads((tmp_path / "rooms" / "dataset.json").read_text())
    assert meta["files"][0] == "rooms:0:1000000000" and sum(meta["label_counts"]["wall"]) == 300


def test_npz_pack_equals_the_npz_source(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (20, 16, 16, 3), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.arange(20) % 3, class_names=np.array(["a", "b", "c"]))
    pack(src=str(tmp_path / "d.npz"), out=str(tmp_path / "p"), image_size=16)
    images, labels, meta = open_pack(tmp_path / "p")
    assert np.array_equal(images, x.transpose(0, 3, 1, 2)) and labels["label"].tolist() == (np.arange(20) % 3).tolist()
    assert meta["labels"]["label"] == ["a", "b", "c"]


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["stored", "deflated"])
def test_an_npz_is_packed_a_chunk_at_a_time_never_whole(tmp_path: Path, save) -> None:
    import tracemalloc

    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (6000, 32, 32, 3), dtype=np.uint8)  # 18 MB of pixels
    save(tmp_path / "big.npz", x_train=x, y_train=np.arange(6000) % 7)
    tracemalloc.start()  # numpy reports its buffers to tracemalloc: reading the array whole would peak above 18 MB
    try:
        pack(src=str(tmp_path / "big.npz"), out=str(tmp_path / "p"), image_size=32, chunk=256)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes / 4, f"packing peaked at {peak / 1e6:.1f} MB of Python/numpy memory for {x.nbytes / 1e6:.1f} MB of pixels"
    images, labels, meta = open_pack(tmp_path / "p")
    assert np.array_equal(images, x.transpose(0, 3, 1, 2)) and np.array_equal(labels["label"], np.arange(6000) % 7)
    assert meta["source"]["kind"] == "npz" and meta["files"][5999] == f"{tmp_path / 'big.npz'}#5999"


def test_an_npz_pack_resizes_each_chunk_as_the_whole_set_is_resized(tmp_path: Path) -> None:
    x = np.random.default_rng(3).integers(0, 256, (40, 24, 20, 1), dtype=np.uint8)  # grey, not square: crop + resize
    np.savez_compressed(tmp_path / "g.npz", x_train=x)
    pack(src=str(tmp_path / "g.npz"), out=str(tmp_path / "p"), image_size=16, channels=3, chunk=7)
    whole = load_data(DataConfig(spec=str(tmp_path / "g.npz"), image_size=16, channels=3))
    assert torch.equal(torch.from_numpy(np.array(open_pack(tmp_path / "p")[0])), whole.images)


def test_an_interrupted_pack_resumes_where_it_stopped(tmp_path: Path) -> None:
    out = tmp_path / "rooms"
    source = open_source("rooms", 16, None, limit=320)
    fill, calls = source.fill, []

    def interrupted(a: int, b: int, images: np.ndarray):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append((a, b))
        return fill(a, b, images)

    source.fill = interrupted
    with pytest.raises(KeyboardInterrupt):
        write_pack(source, out, 16, chunk=64, progress=False)
    assert (out / PARTIAL / "status.npy").is_file() and not is_pack(out)
    assert np.count_nonzero(np.load(out / PARTIAL / "status.npy")) == 128

    again = open_source("rooms", 16, None, limit=320)
    fill2, calls2 = again.fill, []
    again.fill = lambda a, b, images: (calls2.append((a, b)), fill2(a, b, images))[1]
    result = write_pack(again, out, 16, chunk=64, progress=False)
    assert calls2 == [(128, 192), (192, 256), (256, 320)]  # only the chunks the first run did not finish
    assert result.resumed_items == 128 and result.decoded_items == 192 and result.count == 320
    whole = load_data(DataConfig(spec="rooms", image_size=16, num_images=320))
    data = load_data(DataConfig(spec=str(out), image_size=16))
    assert torch.equal(data.images, whole.images)
    for k in whole.labels:
        assert torch.equal(data.labels[k], whole.labels[k])


def test_an_existing_pack_is_never_overwritten_without_force(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "p"
    pack(src="rooms", out=str(out), image_size=16, num_images=40)
    before = (out / "images.npy").read_bytes()
    capsys.readouterr()
    assert main(["data", "pack", "rooms", str(out), "--image-size", "16", "--num-images", "50"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already holds a pack" in err and "--force" in err
    assert (out / "images.npy").read_bytes() == before
    assert main(["data", "pack", "rooms", str(out), "--image-size", "16", "--num-images", "50", "--force"]) == 0
    assert open_pack(out)[2]["count"] == 50

    other = tmp_path / "other"
    other.mkdir()
    (other / "mine.txt").write_text("keep")
    with pytest.raises(UserError, match="not empty"):
        pack(src="rooms", out=str(other), image_size=16, num_images=10)
    assert sorted(p.name for p in other.iterdir()) == ["mine.txt"]  # a refused pack writes nothing


def test_an_interrupted_pack_of_another_source_is_not_resumed(tmp_path: Path) -> None:
    out = tmp_path / "p"
    source = open_source("rooms", 16, None, limit=100)
    source.fill = lambda *a: (_ for _ in ()).throw(KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        write_pack(source, out, 16, chunk=50, progress=False)
    with pytest.raises(UserError, match="interrupted pack of another source"):
        pack(src="rooms", out=str(out), image_size=32, num_images=100)
    assert pack(src="rooms", out=str(out), image_size=32, num_images=100, force=True).count == 100


def test_unreadable_sources_are_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images in"):
        pack(src=str(tmp_path / "empty"), out=str(tmp_path / "o1"), image_size=16)
    bad = tmp_path / "bad"
    bad.mkdir()
    for i in range(3):
        (bad / f"{i}.jpg").write_bytes(b"garbage")
    with pytest.raises(UserError, match="none of the 3 items"):
        pack(src=str(bad), out=str(tmp_path / "o2"), image_size=16, workers=1)
    capsys.readouterr()
    assert main(["data", "pack", str(tmp_path / "missing"), str(tmp_path / "o3")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing" in err
    assert not any((tmp_path / name).exists() for name in ("o1", "o2", "o3"))  # nothing left behind
    with pytest.raises(UserError, match="--image-size"):
        pack(src="rooms", out=str(tmp_path / "o4"), image_size=48)


def test_lsun_style_lmdb_is_packed_with_its_keys_when_lmdb_is_installed(tmp_path: Path) -> None:
    lmdb = pytest.importorskip("lmdb")
    import io

    rng = np.random.default_rng(2)
    arrays = {}
    env = lmdb.open(str(tmp_path / "bedroom_train_lmdb"), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i in range(7):
            arr = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, format="PNG")
            txn.put(f"key{i:02d}".encode(), buf.getvalue())
            arrays[f"key{i:02d}"] = arr
        txn.put(b"key99", b"not an image")
    env.close()
    result = pack(src="lsun:bedroom", data_root=str(tmp_path), out=str(tmp_path / "p"), image_size=16, workers=2, chunk=3)
    images, _labels, meta = open_pack(tmp_path / "p")
    assert result.count == 7 and meta["files"] == sorted(arrays) and meta["source"]["kind"] == "lmdb"
    assert [s["file"] for s in meta["skipped"]] == ["key99"]
    for i, key in enumerate(sorted(arrays)):
        assert np.array_equal(images[i], arrays[key].transpose(2, 0, 1))


def test_dcgan_train_runs_from_a_pack(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pack(src="rooms", out=str(tmp_path / "p"), image_size=16, num_images=64)
    argv = ["train", "--data", str(tmp_path / "p"), "--image-size", "16", "--ngf", "8", "--ndf", "8", "--z-dim", "8",
            "--batch-size", "16", "--max-steps", "2", "--out", str(tmp_path / "runs"), "--name", "packed"]
    assert main(argv) == 0
    config = json.loads(next((tmp_path / "runs").glob("*-packed/config.json")).read_text())
    assert config["data"]["spec"] == str(tmp_path / "p")
    assert "memory-mapped, no decoding" in next((tmp_path / "runs").glob("*-packed/log.txt")).read_text()


def test_pack_help_lists_every_setting(capsys: pytest.CaptureFixture) -> None:
    from dataclasses import fields

    from dcgan.settings import flag_name
    from dcgan.settings.data import PackSettings

    with pytest.raises(SystemExit):
        main(["data", "pack", "--help"])
    text = capsys.readouterr().out
    assert "SRC" in text and "OUT" in text
    for f in fields(PackSettings):
        if f.name not in ("src", "out"):
            assert flag_name(f.name) in text
