"""dcgan project: known-answer recovery of G(z*), the prior constraint, reproducibility, codes in the latent tools, bad inputs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import dcgan
import dcgan.analysis
from dcgan.analysis.project import Embedding, constrain, fit_codes, judge_matches, norm_shell
from dcgan.checkpoint import digest
from dcgan.cli import main
from dcgan.codes import looks_like_codes, parse_code_ref, read_codes, resolve_codes
from dcgan.config import ModelConfig
from dcgan.data.base import to_unit_range
from dcgan.errors import UserError
from dcgan.models import Discriminator, Generator


def save_pngs(images: torch.Tensor, folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        path = folder / f"img-{i}.png"
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(path)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def model(trained):
    return dcgan.load(trained.latest, "cpu")


@pytest.fixture(scope="module")
def projected(trained, model, tmp_path_factory):
    """Three held-out rooms projected (few steps) and saved: the codes file the latent tools read."""
    result = dcgan.analysis.project(model, images="rooms:test", num_images=3, steps=20, restarts=2, baseline=16, progress=False)
    saved = dcgan.analysis.save(result, tmp_path_factory.mktemp("proj"))
    return result, saved.folder / "projected.npz"


# ---------------------------------------------------------------------------------------------------
# Known answers.


def test_projecting_a_generated_image_recovers_it_and_its_code(model, tmp_path):
    z_star = model.codes([5001, 6002, 7003])  # outside the baseline's seeds 0-255
    targets = model.decode(z_star)
    files = save_pngs(targets, tmp_path / "gen")
    r = dcgan.analysis.project(model, images=files, steps=300, restarts=4, seed=7, baseline=256, progress=False)
    assert r.names == ["img-0.png", "img-1.png", "img-2.png"]
    assert torch.equal(r.targets, targets)  # a lossless PNG of G(z*) reads back exactly: fitted as training data
    # G(z*) is reachable (z* lies in the prior's shell), so the search gets much closer than any random sample.
    assert float(r.pixel.max()) < 0.01, r.pixel
    assert bool((r.losses < 0.5 * r.baseline_losses).all()), (r.losses, r.baseline_losses)
    # The code itself: much closer to z* than random codes are (typical distance sqrt(2 z_dim) = 4).
    err = (r.codes - z_star).norm(dim=1)
    assert float(err.max()) < 0.5 * math.sqrt(2 * model.z_dim), err
    # The codes file: decoding its codes gives the reconstructions.
    assert torch.equal(model.decode(r.codes), r.images)


def test_embedding_distance_is_pixel_mse_plus_weighted_feature_distance(model):
    x = to_unit_range(model.sample([1, 2]))
    y = to_unit_range(model.sample([3, 4]))
    d = model.discriminator.eval()
    emb = Embedding(d, 2.0, 0.5, "dfeat")
    with torch.no_grad():
        got = ((emb(x) - emb(y)) ** 2).sum(1)
        mse = ((x - y) ** 2).flatten(1).mean(1)
        feats = []
        for fx, fy in zip(d.features(x), d.features(y), strict=True):  # written the long way: per position, unit vectors
            ux, uy = fx / (fx.norm(dim=1, keepdim=True) + 1e-8), fy / (fy.norm(dim=1, keepdim=True) + 1e-8)
            feats.append(((ux - uy) ** 2).sum(1).mean((1, 2)))
        want = 2.0 * mse + 0.5 * torch.stack(feats).mean(0)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_norm_shell_holds_the_prior_mass():
    lo, hi = norm_shell(100, 0.999)
    assert lo == pytest.approx(7.7392, abs=1e-3) and hi == pytest.approx(12.3761, abs=1e-3)
    norms = torch.randn(400_000, 100, generator=torch.Generator().manual_seed(0)).norm(dim=1)
    inside = float(((norms > lo) & (norms < hi)).float().mean())
    assert abs(inside - 0.999) < 3e-4, inside


# ---------------------------------------------------------------------------------------------------
# The prior constraint, G and D unchanged, reproducibility.


def test_normal_codes_stay_in_the_shell(model, projected):
    result, _ = projected
    lo, hi = norm_shell(model.z_dim, result.settings.prior_mass)
    norms = result.codes.norm(dim=1)
    assert bool(((norms >= lo - 1e-4) & (norms <= hi + 1e-4)).all()), (norms, lo, hi)
    assert result.prior["shell"] == pytest.approx([lo, hi])
    # a code pushed far outside comes back onto the shell's edge, one inside is left alone
    z = torch.stack([torch.full((model.z_dim,), 10.0), torch.full((model.z_dim,), 0.01), torch.ones(model.z_dim)])
    before = z[2].clone()
    constrain(z, "normal", (lo, hi))
    assert z.norm(dim=1)[:2].tolist() == pytest.approx([hi, lo], rel=1e-5)
    if lo < before.norm() < hi:
        assert torch.equal(z[2], before)


def test_uniform_codes_stay_in_the_cube():
    torch.manual_seed(0)
    cfg = ModelConfig(image_size=16, z_dim=8, ngf=8, ndf=8, z_dist="uniform")
    g, d = Generator(cfg).eval(), Discriminator(cfg).eval()
    target = torch.rand(2, 3, 16, 16) * 2 - 1  # noise: the search pushes hard, against the cube's walls
    starts = torch.full((2, 8), 0.99)
    out = fit_codes(g, Embedding(d, 1.0, 0.1), target, starts, 30, 0.5, "uniform", None)
    assert float(out["codes"].abs().max()) <= 1.0
    assert out["losses"].shape == (2,) and out["restart_losses"].shape == (2, 2)
    assert bool((out["losses"] <= out["start_losses"].min(1).values + 1e-6).all())  # best kept: never worse than a start


def test_projection_changes_neither_g_nor_d_and_is_reproducible(model):
    g_before, d_before = digest(model.generator.state_dict()), digest(model.discriminator.state_dict())
    kw = dict(images="rooms:test", num_images=2, steps=15, restarts=2, baseline=0, progress=False)
    a = dcgan.analysis.project(model, seed=3, **kw)
    b = dcgan.analysis.project(model, seed=3, **kw)
    c = dcgan.analysis.project(model, seed=4, **kw)
    assert torch.equal(a.codes, b.codes) and torch.equal(a.losses, b.losses)
    assert not torch.equal(a.codes, c.codes)
    assert digest(model.generator.state_dict()) == g_before and digest(model.discriminator.state_dict()) == d_before
    assert all(p.grad is None for p in [*model.generator.parameters(), *model.discriminator.parameters()])
    assert not model.generator.training and not model.discriminator.training


def test_judge_scores_against_the_true_labels(trained, model):
    judge = dcgan.load_judge(trained.judge, model)
    r = dcgan.analysis.project(model, images="rooms:test", num_images=4, steps=3, restarts=1, baseline=8, judge=judge, progress=False)
    probs = judge.predict(r.images)
    want = torch.ones(4, dtype=torch.bool)
    for f, truth in r.labels.items():
        want &= probs[f].argmax(1) == truth  # rooms labels and the judge's values share their order
    assert r.judged["projection"]["all_factors"]["count"] == int(want.sum())
    # the real images themselves, judged against their own labels: a known upper reference
    real = judge_matches(judge, r.targets, r.labels, r.label_names)
    assert real["all_factors"]["n"] == 4 and set(real["by_factor"]) == set(r.labels)


# ---------------------------------------------------------------------------------------------------
# Codes in the latent tools.


def test_code_references_parse():
    assert parse_code_ref("out/projected.npz:0-2,5").rows == (0, 1, 2, 5)
    assert parse_code_ref("projected.npz").rows is None
    assert parse_code_ref("a/projected.npz:3").text() == "a/projected.npz:3"
    assert looks_like_codes("x.NPZ:1") and not looks_like_codes("0-3") and not looks_like_codes("window=1")
    with pytest.raises(UserError, match="no rows"):
        parse_code_ref("projected.npz:")


def test_codes_file_round_trip(model, projected):
    result, path = projected
    codes = read_codes(f"{path}:2,0", model)
    assert torch.equal(codes.z, result.codes[[2, 0]])
    assert codes.labels[0].endswith("(row 2)") and "rooms" in codes.labels[0]
    with np.load(path) as f:
        assert f["names"].tolist() == result.names and int(f["z_dim"]) == model.z_dim
    assert torch.equal(resolve_codes([5, 6], model).z, model.codes([5, 6]))
    with pytest.raises(UserError, match="there is no row 7"):
        read_codes(f"{path}:7", model)


def test_walk_arithmetic_and_direction_take_projected_codes(trained, model, projected):
    result, path = projected
    z = result.codes
    w = dcgan.analysis.walk(model, codes=f"{path}:0,2,1", steps=4)
    path_z = w.codes[0]  # (2 segments, 4 steps, z_dim): the segments' ends are the projected codes, in the order given
    for got, row in ((path_z[0, 0], 0), (path_z[0, -1], 2), (path_z[1, 0], 2), (path_z[1, -1], 1)):
        torch.testing.assert_close(got, z[row], rtol=1e-5, atol=1e-5)
    assert torch.equal(w.images[0][0, 0], result.images[0])
    assert w.walks[0]["codes"][1].endswith("(row 2)")
    a = dcgan.analysis.arithmetic(model, a=f"{path}:0", b=f"{path}:1", c=f"{path}:2", variations=2)
    torch.testing.assert_close(a.codes[0], z[0] - z[1] + z[2])
    assert a.concepts[0].label() == f"codes {path}:0"
    d = dcgan.analysis.direction(model, from_="0-3", to="4-7", apply=str(path), scales="0,1", rows=3)
    assert torch.equal(d.grid[:, 0], result.images)  # scale 0: the projected images themselves
    want = model.decode(z + (model.codes(range(4, 8)).mean(0) - model.codes(range(4)).mean(0)))
    assert torch.equal(d.grid[:, 1], want)
    assert d.summary()["applied_to"]["count"] == 3 and d.test_seeds == []


def test_cli_project_then_walk(trained, tmp_path, capsys):
    out = tmp_path / "p"
    assert main(["project", str(trained.latest), "rooms:test", "--num-images", "2", "--steps", "3", "--restarts", "1",
                 "--baseline", "4", "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "2 image(s) projected" in printed and (out / "projected.npz").is_file() and (out / "projection.png").is_file()
    assert (out / "results.json").is_file()
    assert main(["walk", str(trained.latest), "--codes", str(out / "projected.npz"), "--steps", "3", "--out", str(tmp_path / "w"),
                 "--device", "cpu"]) == 0
    assert (tmp_path / "w" / "walk-00.gif").is_file()


# ---------------------------------------------------------------------------------------------------
# Bad inputs: one line, exit 2, nothing written.


def _refused(capsys, argv: list[str], match: str, out: Path) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dcgan: error:") and len(err.splitlines()) == 1 and match in err, err
    assert not out.exists()


def test_unreadable_image_is_refused(trained, tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png at all")
    out = tmp_path / "out"
    _refused(capsys, ["project", str(trained.latest), str(bad), "--out", str(out), "--device", "cpu"], "cannot read image", out)
    _refused(capsys, ["project", str(trained.latest), str(tmp_path / "missing.jpg"), "--out", str(out)], "image not found", out)


def test_wrong_channel_count_is_refused(trained, tmp_path, capsys):
    npz = tmp_path / "four.npz"
    np.savez(npz, x=np.zeros((3, 32, 32, 4), dtype=np.uint8))  # RGBA arrays: no 1- or 3-channel fit exists
    out = tmp_path / "out"
    _refused(capsys, ["project", str(trained.latest), str(npz), "--out", str(out), "--device", "cpu"], "four.npz", out)


def test_codes_of_another_checkpoint_size_are_refused(trained, model, projected, tmp_path, capsys):
    _, path = projected
    other = tmp_path / "z5.npz"
    np.savez(other, codes=np.zeros((3, 5), dtype=np.float32), z_dim=np.int64(5), z_dist=np.asarray("normal"))
    out = tmp_path / "out"
    _refused(capsys, ["walk", str(trained.latest), "--codes", str(other), "--out", str(out)], "codes of z 5", out)
    _refused(capsys, ["arithmetic", str(trained.latest), "--a", f"{other}:0", "--b", "1", "--c", "2", "--exemplars", "1",
                      "--out", str(out)], "this checkpoint takes z 8", out)
    # codes of the same size from another checkpoint (epoch 1 of the run): a code only reproduces its image under its own G
    _refused(capsys, ["direction", str(trained.epoch1), "--from", "0-3", "--to", "4-7", "--apply", str(path), "--out", str(out)],
             "another checkpoint", out)
    _refused(capsys, ["project", str(trained.latest), "rooms:test", "--steps", "0", "--out", str(out)], "--steps", out)


def test_help_lists_every_setting(capsys):
    from dataclasses import fields

    from dcgan.settings import flag_name
    from dcgan.settings.project import ProjectSettings

    with pytest.raises(SystemExit) as exit_info:
        main(["project", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "IMAGES_OR_SPEC" in text and "--judge" in text and "--out" in text
    for f in fields(ProjectSettings):
        if f.name != "images":
            assert flag_name(f.name) in text and f.metadata["help"][:20] in text
    for tool, flag in (("walk", "--codes"), ("direction", "--apply")):
        with pytest.raises(SystemExit):
            main([tool, "--help"])
        assert flag in capsys.readouterr().out


def test_lpips_embedding_is_lpips_itself_and_missing_weights_are_refused(monkeypatch, tmp_path):
    lpips = pytest.importorskip("lpips")
    torch.manual_seed(0)
    # A random AlexNet (pnet_rand) with LPIPS's shipped linear weights: no download, the same arithmetic as the real one.
    net = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False).eval()
    x, y = torch.rand(3, 3, 64, 64) * 2 - 1, torch.rand(3, 3, 64, 64) * 2 - 1
    emb = Embedding(None, 0.0, 1.0, "lpips", net)
    with torch.no_grad():
        got = ((emb(x) - emb(y)) ** 2).sum(1)
        want = net(x, y).flatten()
    torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-6)
    from dcgan.analysis.project import load_lpips

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # no AlexNet weights installed there
    with pytest.raises(UserError, match="never downloads"):
        load_lpips(torch.device("cpu"))
