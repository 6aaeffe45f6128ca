"""Checkpoints: self-describing round trip, safe loading, tamper and truncation detection, atomic writes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import torch

from dcgan import checkpoint
from dcgan.checkpoint import generator_from_checkpoint, load_checkpoint, load_generator, save_checkpoint
from dcgan.config import RunConfig
from dcgan.errors import UserError
from dcgan.models import build_models


def _payload(tiny) -> dict:
    g, d = build_models(tiny, seed=1)
    return {"config": RunConfig(model=tiny).to_dict(), "generator": g.state_dict(), "discriminator": d.state_dict(), "step": 3}


def test_round_trip_rebuilds_the_generator_from_the_file_alone(tmp_path: Path, tiny) -> None:
    payload = _payload(tiny)
    save_checkpoint(tmp_path / "c.pt", payload)
    g, cfg = load_generator(tmp_path / "c.pt")
    assert cfg == tiny and not g.training
    original, _ = build_models(tiny, seed=1)
    z = torch.randn(4, tiny.z_dim)
    assert torch.equal(g(z), original.eval()(z))


def test_changed_tensor_fails_the_checksum(tmp_path: Path, tiny) -> None:
    save_checkpoint(tmp_path / "c.pt", _payload(tiny))
    raw = torch.load(tmp_path / "c.pt", weights_only=True)
    raw["generator"]["project.0.weight"][0, 0, 0, 0] += 1.0
    torch.save(raw, tmp_path / "c.pt")
    with pytest.raises(UserError, match="checksum"):
        load_checkpoint(tmp_path / "c.pt")


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickled_code_is_refused(tmp_path: Path) -> None:
    torch.save({"format": checkpoint.FORMAT, "evil": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(UserError, match="refusing to load"):
        load_checkpoint(tmp_path / "evil.pt")


def test_truncated_file(tmp_path: Path, tiny) -> None:
    save_checkpoint(tmp_path / "c.pt", _payload(tiny))
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "c.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / "c.pt")


def test_foreign_checkpoint(tmp_path: Path, tiny) -> None:
    g, _ = build_models(tiny)
    torch.save(g.state_dict(), tmp_path / "netG.pth")  # what pytorch/examples writes
    with pytest.raises(UserError, match="not a dcgan checkpoint"):
        load_checkpoint(tmp_path / "netG.pth")


def test_weights_that_do_not_fit_the_config(tmp_path: Path, tiny) -> None:
    payload = _payload(tiny)
    payload["config"]["model"]["ngf"] = 16
    save_checkpoint(tmp_path / "c.pt", payload)
    with pytest.raises(UserError, match="do not fit"):
        generator_from_checkpoint(load_checkpoint(tmp_path / "c.pt"))


def test_crash_mid_save_leaves_the_old_file_intact(tmp_path: Path, tiny, monkeypatch) -> None:
    path = tmp_path / "latest.pt"
    save_checkpoint(path, _payload(tiny))
    before = path.read_bytes()

    def crash(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.os, "fsync", crash)
    with pytest.raises(UserError, match=r"cannot write .*latest\.pt: disk full"):  # one line, naming the file
        save_checkpoint(path, {**_payload(tiny), "step": 4})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pt"]  # no temporary file left behind


def test_run_folder_resolves_to_latest(tmp_path: Path, tiny) -> None:
    save_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt", _payload(tiny))
    assert load_checkpoint(tmp_path / "run")["step"] == 3
    assert checkpoint.run_dir_of(tmp_path / "run" / "checkpoints" / "latest.pt") == (tmp_path / "run").resolve()
    with pytest.raises(UserError, match="no checkpoint in"):
        load_checkpoint(tmp_path)


def test_digest_is_order_independent_and_content_sensitive(tiny) -> None:
    p = _payload(tiny)
    reordered = dict(reversed(list(p.items())))
    assert checkpoint.digest(p) == checkpoint.digest(reordered)
    p2 = {**p, "step": 4}
    assert checkpoint.digest(p) != checkpoint.digest(p2)
    buffer = io.BytesIO()
    torch.save(p, buffer)  # payloads hold only types weights_only accepts
    buffer.seek(0)
    torch.load(buffer, weights_only=True)


def test_the_digest_catches_damage_but_not_a_deliberate_edit(tmp_path: Path, tiny) -> None:
    """What docs/reliability.md promises, no more: an edit whose digest was recomputed loads (the digest is unkeyed)."""
    path = tmp_path / "latest.pt"
    save_checkpoint(path, _payload(tiny))
    payload = torch.load(path, weights_only=True)
    key = next(k for k, v in payload["generator"].items() if v.is_floating_point())
    payload["generator"][key] = payload["generator"][key] + 1.0
    torch.save(payload, path)  # edited, old digest: refused as damaged
    with pytest.raises(UserError, match="checksum"):
        load_checkpoint(path)
    payload["digest"] = checkpoint.digest(payload)
    torch.save(payload, path)  # edited and digest recomputed: loads, with the edited weights
    assert torch.equal(load_checkpoint(path)["generator"][key], payload["generator"][key])
