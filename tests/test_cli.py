"""The command line: help texts, the MNIST smoke run, sampling, and one-line errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan.cli import main
from dcgan.commands.train import SECTIONS
from dcgan.settings import flag_name

TINY = ["--image-size", "16", "--ngf", "8", "--ndf", "8", "--z-dim", "8", "--batch-size", "8"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tiny_run_dir(trained) -> Path:
    return trained.run_dir


@pytest.mark.parametrize("command", [[], ["train"], ["sample"]])
def test_help_describes_every_flag(command: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    if command == ["train"]:
        for cls in SECTIONS.values():  # every config field with a help text is a flag, its help shown
            for f in fields(cls):
                if "help" in f.metadata:
                    assert (f.metadata["flag"] or flag_name(f.name)) in text and f.metadata["help"][:20] in " ".join(text.split())
        assert "--resume" in text and "default: 0.0002" in text and "--no-channels-last" in text
        assert "--image-size" in text and "--spec" not in text  # model.image_size follows the data's; data.spec is --data
    elif command == ["sample"]:
        for flag in ("--seeds", "--no-grid", "--each", "--out", "--batch-size", "--device", "--drop"):
            assert flag in text
    else:
        assert "train" in text and "sample" in text


@pytest.mark.data
def test_mnist_smoke_run_sample_and_resume(mnist_npz: Path, tmp_path: Path, capsys) -> None:
    code, out, _ = run_cli(capsys, "train", "--data", str(mnist_npz), "--image-size", "32", "--ngf", "8", "--ndf", "8",
                           "--max-steps", "20", "--num-images", "4096", "--out", str(tmp_path / "runs"), "--name", "mnist")
    assert code == 0
    run_dir = tmp_path / "runs" / "00000-mnist"
    assert f"run folder: {run_dir}" in out
    for name in ("config.json", "log.txt", "metrics.jsonl", "loss_curves.png", "checkpoints/latest.pt"):
        assert (run_dir / name).is_file()
    assert list((run_dir / "samples").glob("*.png"))
    code, out, _ = run_cli(capsys, "sample", str(run_dir), "--seeds", "0-15", "--each")
    assert code == 0
    each = run_dir / "analysis" / "sample" / "images"
    assert (run_dir / "analysis" / "sample" / "seeds-0-15.png").is_file()
    assert sorted(p.name for p in each.iterdir())[:2] == ["seed-000000.png", "seed-000001.png"]
    assert Image.open(each / "seed-000003.png").size == (32, 32)
    code, _, _ = run_cli(capsys, "train", "--resume", str(run_dir), "--max-steps", "30")
    assert code == 0
    from dcgan.checkpoint import load_checkpoint

    assert load_checkpoint(run_dir)["step"] == 30


def test_same_seed_same_image_whatever_the_batch(tiny_run_dir: Path, tmp_path: Path, capsys) -> None:
    run_cli(capsys, "sample", str(tiny_run_dir), "--seeds", "0-9", "--out", str(tmp_path / "a"), "--batch-size", "4", "--no-grid", "--each")
    run_cli(capsys, "sample", str(tiny_run_dir), "--seeds", "7", "--out", str(tmp_path / "b"), "--each")
    a = np.asarray(Image.open(tmp_path / "a" / "images" / "seed-000007.png"))
    b = np.asarray(Image.open(tmp_path / "b" / "images" / "seed-000007.png"))
    assert np.array_equal(a, b)
    assert (tmp_path / "b" / "seeds-7.png").is_file() and not list((tmp_path / "a").glob("*.png"))
    assert not np.array_equal(a, np.asarray(Image.open(tmp_path / "a" / "images" / "seed-000006.png")))


def _bad_checkpoints(tmp_path: Path, run_dir: Path) -> dict[str, Path]:
    good = (run_dir / "checkpoints" / "latest.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(good[: len(good) // 3])
    torch.save({"netG": torch.zeros(3)}, tmp_path / "foreign.pt")
    return {"truncated or corrupt": tmp_path / "truncated.pt", "not a dcgan checkpoint": tmp_path / "foreign.pt",
            "checkpoint not found": tmp_path / "nope.pt"}


def test_bad_checkpoints_exit_2_with_one_line(tiny_run_dir: Path, tmp_path: Path, capsys) -> None:
    for message, path in _bad_checkpoints(tmp_path, tiny_run_dir).items():
        code, _, err = run_cli(capsys, "sample", str(path))
        assert code == 2, path
        assert err.count("\n") == 1 and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--data", "/no/such/folder"], "no data at"),
        (["train", "--data", "fake", "--image-size", "48"], "power of two"),
        (["train", "--data", "fake", "--batch-size", "1"], "at least 2"),
        (["train", "--data", "fake", "--num-images", "4", "--batch-size", "8"], "smaller --batch-size"),
        (["train", "--data", "fake", "--device", "cuda:0"] if not torch.cuda.is_available() else ["train", "--data", "fake", "--device", "tpu"], "device"),
        (["train", "--resume", "/no/such/run"], "checkpoint not found"),
        (["sample", "/no/such.pt", "--seeds", "x-y"], "cannot read seeds"),
    ],
)
def test_user_errors_exit_2_with_one_line(argv: list[str], message: str, tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(capsys, *argv, *(["--out", str(tmp_path)] if argv[0] == "train" else []))
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_all_corrupt_folder_and_partly_corrupt_folder(tmp_path: Path, capsys) -> None:
    (tmp_path / "bad").mkdir()
    for i in range(3):
        (tmp_path / "bad" / f"{i}.jpg").write_bytes(b"not an image")
    code, _, err = run_cli(capsys, "train", "--data", str(tmp_path / "bad"), *TINY, "--out", str(tmp_path / "runs"))
    assert code == 2 and "none of the 3 images" in err
    rng = np.random.default_rng(0)
    for i in range(16):
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(tmp_path / "bad" / f"ok{i}.png")
    code, _, _ = run_cli(capsys, "train", "--data", str(tmp_path / "bad"), *TINY, "--max-steps", "2", "--out", str(tmp_path / "runs"))
    assert code == 0
    log = next((tmp_path / "runs").glob("*/log.txt")).read_text()
    assert "skipped 3 unreadable images" in log


def test_console_script_exit_status(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "dcgan.cli", "train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("dcgan: error: no data at") and result.stderr.count("\n") == 1
