"""The Python API: dcgan.load, Model.sample, analysis functions returning results, one writer, one folder rule."""

from __future__ import annotations

import json

import pytest
import torch

import dcgan
from dcgan.analysis.sample import sample
from dcgan.analysis.walk import walk
from dcgan.cli import main
from dcgan.errors import UserError
from dcgan.report import output_folder, save
from dcgan.settings.walk import WalkSettings


def test_load_gives_seed_stable_uint8_samples(trained) -> None:
    model = dcgan.load(trained.run_dir)
    assert model.path == trained.latest and model.image_size == 32 and model.z_dim == 8
    images = model.sample(range(6))
    assert images.dtype == torch.uint8 and images.shape == (6, 3, 32, 32)
    assert torch.equal(model.sample([4, 5]), images[4:])  # the batch does not change an image
    assert not torch.equal(images[0], images[1])


def test_settings_refuse_bad_values_with_the_cli_message(trained, capsys) -> None:
    with pytest.raises(UserError, match="--fps must be positive"):
        WalkSettings(fps=0)
    assert main(["walk", str(trained.run_dir), "--fps", "0"]) == 2
    assert "--fps must be positive" in capsys.readouterr().err
    with pytest.raises(UserError, match="has no setting colour"):
        WalkSettings.build(colour=1)


def test_walk_returns_data_and_writes_nothing_until_saved(trained, tmp_path) -> None:
    model = dcgan.load(trained.run_dir)
    before = set(trained.run_dir.rglob("*"))
    result = walk(model, seeds=[1, 2, 3], steps=4)
    assert set(trained.run_dir.rglob("*")) == before
    assert result.images[0].shape == (2, 4, 3, 32, 32)
    assert torch.equal(result.images[0][0, 0], model.sample([1])[0])  # a walk starts at its first seed's image
    assert torch.equal(result.images[0][1, -1], model.sample([3])[0])
    saved = save(result, tmp_path / "w")
    record = json.loads(saved.results.read_text())
    assert record["tool"] == "walk" and record["settings"]["seeds"] == [1, 2, 3] and record["settings"]["steps"] == 4
    assert record["figures"] == ["walk-00.png", "walk-00.gif"] and "command" not in record


def test_walks_of_two_checkpoints_of_one_run_coexist(trained, capsys) -> None:
    assert main(["walk", str(trained.epoch1), "--points", "3", "--steps", "3"]) == 0
    assert main(["walk", str(trained.run_dir), "--points", "3", "--steps", "3"]) == 0
    first = trained.run_dir / "analysis" / "walk" / "epoch-0001" / "results.json"
    latest = trained.run_dir / "analysis" / "walk" / "results.json"
    assert json.loads(first.read_text())["source"]["checkpoint"] == str(trained.epoch1)
    assert json.loads(latest.read_text())["source"]["checkpoint"] == str(trained.latest)
    assert output_folder("walk", trained.epoch1) == first.parent


def test_sample_through_the_api_and_the_writer(trained, tmp_path) -> None:
    model = dcgan.load(trained.latest)
    result = sample(model, seeds="0-3", each=True)
    assert torch.equal(result.images, model.sample(range(4)))
    saved = save(result, tmp_path)
    assert [p.name for p in saved.figures] == ["seeds-0-3.png"]
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [f"seed-00000{i}.png" for i in range(4)]


def test_save_refuses_an_output_under_a_file(trained, tmp_path) -> None:
    (tmp_path / "f").write_text("x")
    result = sample(dcgan.load(trained.latest), seeds=[0])
    with pytest.raises(UserError, match="a file of that name exists"):
        save(result, tmp_path / "f" / "out")
