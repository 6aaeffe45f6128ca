"""The bad-input matrix (issue 21): one row per case, each must exit 2 with one line, no traceback, nothing written.

Runs the real command line in-process (``dcgan.cli.main``) so the 50-odd rows stay fast; a traceback
would escape ``main`` as an exception and fail the row.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dcgan.cli import main

pytestmark = pytest.mark.faults

TINY = ["--image-size", "32", "--z-dim", "8", "--ngf", "8", "--ndf", "8", "--batch-size", "32"]


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with the SHA-256 of its bytes (folders too, so a new empty folder shows)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root) + "/"] = ""
        for f in filenames:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, root)] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def world(trained, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a copy of the tiny run and every kind of bad file the rows name."""
    w = tmp_path_factory.mktemp("bad")
    shutil.copytree(trained.run_dir, w / "run")
    shutil.copy(trained.judge, w / "judge.pt")
    (w / "empty.pt").write_bytes(b"")
    (w / "empty.npz").write_bytes(b"")
    (w / "garbage.pt").write_bytes(os.urandom(4096))
    (w / "garbage.npz").write_bytes(os.urandom(4096))
    good = (w / "run" / "checkpoints" / "latest.pt").read_bytes()
    (w / "truncated.pt").write_bytes(good[: len(good) // 2])
    (w / "afile").write_text("not a folder\n")
    (w / "emptydir").mkdir()
    (w / "junkimages").mkdir()
    (w / "junkimages" / "a.png").write_bytes(b"not a png")
    (w / "junkimages" / "b.jpg").write_bytes(b"")
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    np.savez(w / "float.npz", x=img.astype(np.float64) / 3.3)
    np.savez(w / "shape2d.npz", x=img[..., 0].reshape(40, -1))
    np.savez(w / "shape5d.npz", x=img[None])
    np.savez(w / "nokeys.npz", pictures=img)
    np.savez(w / "labels_short.npz", x=img, y=np.zeros(7, np.int64))
    np.savez(w / "labels_float.npz", x=img, y=np.full(40, 0.5))
    np.savez(w / "labels_neg.npz", x=img, y=-np.ones(40, np.int64))
    np.savez(w / "objects.npz", x=np.array([img[0], "a"], dtype=object))
    np.savez(w / "zero_images.npz", x=img[:0])
    np.savez(w / "channels7.npz", x=rng.integers(0, 256, (40, 32, 32, 7), dtype=np.uint8))
    # an archive that names itself .npz but holds a text file
    with zipfile.ZipFile(w / "foreign.npz", "w") as z:
        z.writestr("readme.txt", "hello")
    # a judge file given where a checkpoint belongs, and a checkpoint given where a judge belongs
    return w


def ckpt(w: Path) -> str:
    return str(w / "run" / "checkpoints" / "latest.pt")


# (id, argv builder): every row is a user error.
ROWS = [
    # missing, empty, corrupt and zero-byte checkpoints, for the commands that read one
    ("sample-missing", lambda w: ["sample", str(w / "nope.pt"), "--out", str(w / "o")]),
    ("sample-empty-pt", lambda w: ["sample", str(w / "empty.pt"), "--out", str(w / "o")]),
    ("sample-garbage-pt", lambda w: ["sample", str(w / "garbage.pt"), "--out", str(w / "o")]),
    ("sample-truncated-pt", lambda w: ["sample", str(w / "truncated.pt"), "--out", str(w / "o")]),
    ("sample-empty-folder", lambda w: ["sample", str(w / "emptydir"), "--out", str(w / "o")]),
    ("sample-judge-as-ckpt", lambda w: ["sample", str(w / "judge.pt"), "--out", str(w / "o")]),
    ("sample-under-file", lambda w: ["sample", str(w / "afile" / "x.pt")]),
    ("sample-out-under-file", lambda w: ["sample", ckpt(w), "--seeds", "0-3", "--out", str(w / "afile" / "o")]),
    ("sample-grid-under-file", lambda w: ["sample", ckpt(w), "--seeds", "0-3", "--grid", str(w / "afile" / "g.png")]),
    ("sample-seeds-malformed", lambda w: ["sample", ckpt(w), "--seeds", "3-x"]),
    ("sample-seeds-reversed", lambda w: ["sample", ckpt(w), "--seeds", "9-2"]),
    ("sample-seeds-negative", lambda w: ["sample", ckpt(w), "--seeds", "-5"]),
    ("sample-seeds-empty", lambda w: ["sample", ckpt(w), "--seeds", ""]),
    ("sample-cuda-on-cpu", lambda w: ["sample", ckpt(w), "--seeds", "0-3", "--device", "cuda"]),
    ("sample-batch-zero", lambda w: ["sample", ckpt(w), "--seeds", "0-3", "--batch-size", "0"]),
    ("sample-nrow-zero", lambda w: ["sample", ckpt(w), "--seeds", "0-3", "--nrow", "0"]),
    ("walk-empty-pt", lambda w: ["walk", str(w / "empty.pt")]),
    ("walk-judge-as-ckpt", lambda w: ["walk", str(w / "judge.pt")]),
    ("walk-out-under-file", lambda w: ["walk", ckpt(w), "--out", str(w / "afile" / "walk")]),
    ("walk-steps-zero", lambda w: ["walk", ckpt(w), "--steps", "0"]),
    ("walk-judge-empty", lambda w: ["walk", ckpt(w), "--judge", str(w / "empty.pt")]),
    ("walk-ckpt-as-judge", lambda w: ["walk", ckpt(w), "--judge", ckpt(w)]),
    ("arithmetic-empty-pt", lambda w: ["arithmetic", str(w / "empty.pt")]),
    ("direction-empty-pt", lambda w: ["direction", str(w / "empty.pt")]),
    ("eval-empty-pt", lambda w: ["eval", str(w / "empty.pt")]),
    ("probe-empty-pt", lambda w: ["probe", str(w / "empty.pt")]),
    ("memorization-empty-pt", lambda w: ["memorization", str(w / "empty.pt")]),
    ("visualize-empty-pt", lambda w: ["visualize", str(w / "empty.pt")]),
    ("forget-empty-pt", lambda w: ["forget", str(w / "empty.pt")]),
    # data: missing, empty, corrupt files and folders; .npz with wrong dtype, shape, keys, labels, objects
    ("train-unknown-data", lambda w: ["train", "--data", "no-such-dataset", *TINY, "--out", str(w / "runs")]),
    ("train-missing-npz", lambda w: ["train", "--data", str(w / "missing.npz"), *TINY, "--out", str(w / "runs")]),
    ("train-empty-npz", lambda w: ["train", "--data", str(w / "empty.npz"), *TINY, "--out", str(w / "runs")]),
    ("train-garbage-npz", lambda w: ["train", "--data", str(w / "garbage.npz"), *TINY, "--out", str(w / "runs")]),
    ("train-foreign-npz", lambda w: ["train", "--data", str(w / "foreign.npz"), *TINY, "--out", str(w / "runs")]),
    ("train-float-npz", lambda w: ["train", "--data", str(w / "float.npz"), *TINY, "--out", str(w / "runs")]),
    ("train-2d-npz", lambda w: ["train", "--data", str(w / "shape2d.npz"), *TINY, "--out", str(w / "runs")]),
    ("train-5d-npz", lambda w: ["train", "--data", str(w / "shape5d.npz"), *TINY, "--out", str(w / "runs")]),
    ("train-nokeys-npz", lambda w: ["train", "--data", str(w / "nokeys.npz"), *TINY, "--out", str(w / "runs")]),
    ("train-labels-short", lambda w: ["train", "--data", str(w / "labels_short.npz"), *TINY, "--out", str(w / "runs")]),
    ("train-labels-float", lambda w: ["train", "--data", str(w / "labels_float.npz"), *TINY, "--out", str(w / "runs")]),
    ("train-labels-negative", lambda w: ["train", "--data", str(w / "labels_neg.npz"), *TINY, "--out", str(w / "runs")]),
    ("train-object-npz", lambda w: ["train", "--data", str(w / "objects.npz"), *TINY, "--out", str(w / "runs")]),
    ("train-zero-images", lambda w: ["train", "--data", str(w / "zero_images.npz"), *TINY, "--out", str(w / "runs")]),
    ("train-7-channels", lambda w: ["train", "--data", str(w / "channels7.npz"), *TINY, "--out", str(w / "runs")]),
    ("train-empty-folder", lambda w: ["train", "--data", str(w / "emptydir"), *TINY, "--out", str(w / "runs")]),
    ("train-junk-images", lambda w: ["train", "--data", str(w / "junkimages"), *TINY, "--out", str(w / "runs")]),
    # impossible sizes and counts, devices a CPU does not have
    ("train-size-not-pow2", lambda w: ["train", "--data", "rooms", "--image-size", "33", "--out", str(w / "runs")]),
    ("train-size-zero", lambda w: ["train", "--data", "rooms", "--image-size", "0", "--out", str(w / "runs")]),
    ("train-batch-zero", lambda w: ["train", "--data", "rooms", *TINY[:-2], "--batch-size", "0", "--out", str(w / "runs")]),
    ("train-batch-over-data", lambda w: ["train", "--data", "rooms", "--num-images", "16", *TINY, "--out", str(w / "runs")]),
    ("train-num-images-zero", lambda w: ["train", "--data", "rooms", "--num-images", "0", *TINY, "--out", str(w / "runs")]),
    ("train-epochs-negative", lambda w: ["train", "--data", "rooms", *TINY, "--epochs", "-1", "--out", str(w / "runs")]),
    ("train-lr-negative", lambda w: ["train", "--data", "rooms", *TINY, "--lr", "-0.1", "--out", str(w / "runs")]),
    ("train-zdim-zero", lambda w: ["train", "--data", "rooms", "--image-size", "32", "--z-dim", "0", "--out", str(w / "runs")]),
    ("train-cuda-on-cpu", lambda w: ["train", "--data", "rooms", *TINY, "--device", "cuda", "--out", str(w / "runs")]),
    ("train-fp16-on-cpu", lambda w: ["train", "--data", "rooms", *TINY, "--precision", "fp16", "--out", str(w / "runs")]),
    ("train-out-is-file", lambda w: ["train", "--data", "rooms", "--num-images", "64", *TINY, "--out", str(w / "afile")]),
    # bad resumes (each must leave the run folder as it was)
    ("resume-empty-pt", lambda w: ["train", "--resume", str(w / "empty.pt")]),
    ("resume-missing", lambda w: ["train", "--resume", str(w / "nope")]),
    ("resume-judge", lambda w: ["train", "--resume", str(w / "judge.pt")]),
    ("resume-other-size", lambda w: ["train", "--resume", str(w / "run"), "--image-size", "64"]),
    ("resume-other-zdim", lambda w: ["train", "--resume", str(w / "run"), "--z-dim", "16"]),
    ("resume-max-steps-below", lambda w: ["train", "--resume", str(w / "run"), "--max-steps", "2"]),
    ("resume-finished", lambda w: ["train", "--resume", str(w / "run")]),
    ("resume-fp16-on-cpu", lambda w: ["train", "--resume", str(w / "run"), "--precision", "fp16", "--epochs", "5"]),
    ("resume-cuda-on-cpu", lambda w: ["train", "--resume", str(w / "run"), "--device", "cuda", "--epochs", "5"]),
    # judges: unknown factors, too few exemplars
    ("judge-score-empty", lambda w: ["judge", "score", str(w / "empty.pt"), ckpt(w)]),
    ("arithmetic-unknown-factor", lambda w: ["arithmetic", ckpt(w), "--judge", str(w / "judge.pt"), "--a", "nosuchfactor=x",
                                             "--b", "2,3,4", "--c", "5,6,7"]),
    ("direction-unknown-factor", lambda w: ["direction", ckpt(w), "--judge", str(w / "judge.pt"), "--from", "nosuch=1", "--to", "nosuch=2"]),
    ("arithmetic-too-few-exemplars", lambda w: ["arithmetic", ckpt(w), "--a", "1", "--b", "2,3,4", "--c", "5,6,7"]),
    ("direction-too-few-exemplars", lambda w: ["direction", ckpt(w), "--from", "0-1", "--to", "2-3"]),
]


@pytest.mark.parametrize("argv", [r[1] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_input_is_one_line_exit_2_nothing_written(world: Path, argv, capsys, monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # 'a CPU' even on a machine with a GPU
    monkeypatch.chdir(world)  # a tool that wrote under the current folder would show in the snapshot
    before = snapshot(world)
    try:
        rc = main(argv(world))
    except SystemExit as exc:  # argparse refuses a malformed flag value itself
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and "%|" not in line]  # tqdm bars are progress, not messages
    assert lines and lines[-1].startswith("dcgan") and "error" in lines[-1], err
    if not lines[0].startswith("usage:"):  # our own errors are exactly one line
        assert len(lines) == 1, err
    assert snapshot(world) == before, "a refused command changed files"


def test_matrix_has_at_least_45_rows() -> None:
    assert len(ROWS) >= 45
