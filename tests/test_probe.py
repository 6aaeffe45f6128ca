"""The linear probe: the paper's features, eval-mode BatchNorm, C chosen without test data, balanced
draws, the exact span reduction, the feature cache, the Python API and the CLI end to end."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import dcgan
from dcgan.checkpoint import load_checkpoint, save_checkpoint
from dcgan.cli import main
from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from dcgan.errors import UserError
from dcgan.features import d_features, describe_split, discriminator_extractor, feature_split
from dcgan.features.discriminator import BN_MODE, PROTOCOL
from dcgan.models import build_models
from dcgan.report import save
from dcgan.settings.probe import ProbeSettings
from dcgan.train import train

P = importlib.import_module("dcgan.analysis.probe")  # the module (dcgan.analysis.probe is the function)


def tiny_d(size: int = 32, channels: int = 3, seed: int = 0) -> nn.Module:
    return build_models(ModelConfig(image_size=size, channels=channels, z_dim=8, ngf=8, ndf=8), seed=seed)[1]


def images(n: int, size: int = 32, channels: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def blobs(n: int, d: int, classes: int, seed: int, shift: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian classes in d dimensions whose means differ in a few coordinates (a learnable problem)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    means = np.random.default_rng(123).normal(0, shift, (classes, d)) * (np.arange(d) < 8)
    return (means[y] + rng.normal(0, 1, (n, d))).astype(np.float32), y


# ----------------------------------------------------------------------------------------------------
# Features


@pytest.mark.parametrize("size", [16, 32])
def test_every_conv_layer_is_max_pooled_to_4x4_and_concatenated(size: int) -> None:
    d = tiny_d(size).eval()
    split = feature_split(d)
    widths = [block[0].out_channels for block in d.blocks]
    assert split == [16 * c for c in widths] and len(widths) == int(np.log2(size)) - 2
    x = images(5, size)
    feats = discriminator_extractor(d).features(x).numpy()
    assert feats.shape == (5, sum(16 * c for c in widths)) and feats.dtype == np.float32
    # Rebuild by hand: each block's activation, 4x4 max pooling (plain windows: sizes are powers of two), flattened (C, 4, 4).
    acts, h = [], x.float() / 127.5 - 1
    for block in d.blocks:
        h = block(h)
        acts.append(h)
    assert acts[0].shape[-1] == size // 2 and acts[-1].shape[-1] == 4
    by_hand = torch.cat([F.max_pool2d(a, a.shape[-1] // 4).flatten(1) for a in acts], 1)
    np.testing.assert_allclose(feats, by_hand.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert "conv1" in describe_split(d) and str(sum(split)) in describe_split(d)


def test_extraction_uses_eval_mode_batchnorm_and_restores_the_mode() -> None:
    d = tiny_d(32)
    with torch.no_grad():  # running statistics unlike a fresh batch's, so eval and train mode differ
        for m in d.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    d.train()
    modes: list[bool] = []
    bns = [m for m in d.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns
    for m in bns:
        m.register_forward_hook(lambda mod, inp, out: modes.append(mod.training))
    before = [m.running_mean.clone() for m in bns]
    x = images(12, 32)
    extractor = discriminator_extractor(d, batch_size=12)
    batched = extractor.features(x).numpy()
    assert BN_MODE == "eval" and PROTOCOL["batchnorm"] == "eval" and modes and not any(modes)
    assert d.training  # the caller's mode is back
    assert all(torch.equal(b, m.running_mean) for b, m in zip(before, bns, strict=True))  # statistics untouched
    one_by_one = np.concatenate([extractor.features(x[i : i + 1]).numpy() for i in range(12)])
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-5, atol=1e-6)  # features never depend on the batch
    np.testing.assert_allclose(batched, d_features(d.eval(), x).numpy(), rtol=1e-5, atol=1e-6)
    train_mode = d_features(d.train(), x).numpy()  # what train-mode BatchNorm would have given instead
    assert np.abs(train_mode - batched).max() > 1e-2


# ----------------------------------------------------------------------------------------------------
# Classifier protocol


def test_c_is_chosen_without_test_data() -> None:
    x, y = blobs(600, 40, 3, seed=0)
    settings = ProbeSettings(c_grid=(1e-4, 1e-2, 1.0), labels_per_class=10, draws=3, val_size=150)
    results = []
    for test_seed, n_test in ((1, 200), (2, 57)):
        x_test, y_test = blobs(n_test, 40, 3, seed=test_seed)
        x_test = x_test * (1 + test_seed)  # a different scale too: standardisation must not look at it
        results.append((P.probe_all_labels(x, y, x_test, y_test, settings), P.probe_few_labels(x, y, x_test, y_test, settings)))
    (all_a, few_a), (all_b, few_b) = results
    assert all_a["C"] == all_b["C"] and all_a["val_accuracy_by_C"] == all_b["val_accuracy_by_C"]
    assert few_a["C_per_draw"] == few_b["C_per_draw"]
    assert len(set(all_a["val_accuracy_by_C"].values())) > 1  # the grid made a difference, so the choice is real
    assert all_a["test_accuracy"] != all_b["test_accuracy"]  # while the test sets did differ
    assert all_a["n_fit"] + all_a["n_val"] == 600


def test_c_selection_picks_the_best_validation_score_smallest_on_ties() -> None:
    x, y = blobs(200, 10, 2, seed=0)
    fitter = P.SvmFitter(x, y)
    model, scores = P.select_c(fitter, x, y, (1e-6, 1e-5, 1.0))
    assert min(c for c in (1e-6, 1e-5, 1.0) if scores[f"{c:g}"] == max(scores.values())) == model.C


def test_balanced_draws_take_k_per_class_from_the_pool_only() -> None:
    y = np.repeat(np.arange(4), 50)
    settings = ProbeSettings(labels_per_class=5, val_size=40)
    val, pool = P.few_label_split(y, settings)
    assert len(val) == 40 and np.bincount(y[val]).tolist() == [10] * 4 and not set(val) & set(pool)
    draws = [P.balanced_draw(y, pool, 5, np.random.default_rng([0, r])) for r in range(3)]
    for drawn in draws:
        assert np.bincount(y[drawn], minlength=4).tolist() == [5] * 4
        assert set(drawn) <= set(pool) and len(set(drawn)) == 20
    assert not np.array_equal(draws[0], draws[1])
    assert np.array_equal(draws[0], P.balanced_draw(y, pool, 5, np.random.default_rng([0, 0])))  # seeded
    with pytest.raises(UserError, match="labels-per-class"):
        P.balanced_draw(y, pool, 41, np.random.default_rng(0))
    few = P.probe_few_labels(*blobs(200, 12, 4, seed=0), *blobs(80, 12, 4, seed=1), ProbeSettings(labels_per_class=5, draws=4, val_size=40))
    assert few["n_labelled"] == 20 and len(few["test_errors"]) == 4
    assert few["test_error_mean"] == pytest.approx(np.mean(few["test_errors"]), abs=1e-4)
    assert few["test_error_std"] == pytest.approx(np.std(few["test_errors"], ddof=1), abs=1e-4)


def test_fitting_in_the_span_of_the_rows_gives_linearsvc_s_classifier() -> None:
    x, y = blobs(60, 300, 3, seed=0)  # fewer rows than features: the fitter works in their span
    fitter = P.SvmFitter(x.astype(np.float64), y, tol=1e-4)
    assert fitter.dual and fitter.span and fitter.z.shape[1] <= 60
    for c in (1e-3, 1e-1):
        ours = fitter.fit(c)
        direct = P.make_svm(c, dual=True, tol=1e-4).fit(x.astype(np.float64), y)
        np.testing.assert_allclose(ours.coef, direct.coef_, atol=1e-8 + 1e-6 * np.abs(direct.coef_).max())
        np.testing.assert_allclose(ours.intercept, direct.intercept_, atol=1e-6)
        x_new, _ = blobs(50, 300, 3, seed=5)
        assert np.array_equal(ours.predict(x_new), direct.predict(x_new))
    x2, y2 = blobs(100, 5, 2, seed=0)  # more rows than features: the primal on the features themselves
    fitter2 = P.SvmFitter(x2, y2)
    assert not fitter2.dual and not fitter2.span and fitter2.back is None
    assert np.array_equal(fitter2.fit(0.1).predict(x2), P.make_svm(0.1, dual=False, tol=1e-3).fit(x2, y2).predict(x2))


# ----------------------------------------------------------------------------------------------------
# Cache


def test_feature_cache_is_keyed_by_checkpoint_data_and_protocol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d_a, d_b = tiny_d(16, seed=0), tiny_d(16, seed=1)
    for name, d in (("a", d_a), ("b", d_b)):
        save_checkpoint(tmp_path / f"{name}.pt", {"config": RunConfig(model=d.cfg).to_dict(), "discriminator": d.state_dict()})
    id_a, id_b = (f"checkpoint:{load_checkpoint(tmp_path / f'{n}.pt')['digest']}" for n in "ab")
    assert id_a != id_b
    x, other = images(10, 16), images(10, 16, seed=1)
    root = tmp_path / "cache"

    def feats(d: nn.Module, ident: str, imgs: torch.Tensor) -> P.FeatureSet:
        return P.feature_set("D", discriminator_extractor(d, identity=ident), imgs, imgs[:4], cache_root=root)

    first = feats(d_a, id_a, x)
    assert not first.cached and len(set(first.cache_paths)) == 2 and all(Path(p).is_file() for p in first.cache_paths)
    again = feats(d_a, id_a, x)
    assert again.cached and again.cache_paths == first.cache_paths and np.array_equal(first.train, again.train)
    assert isinstance(again.train, np.memmap)  # the probe reads large arrays memory-mapped
    # A changed checkpoint (other weights, so another digest) misses and gives its own features.
    changed = feats(d_b, id_b, x)
    assert not changed.cached and changed.cache_paths != first.cache_paths and not np.allclose(changed.train, first.train)
    # So do other images, and a change of the extraction protocol.
    assert not feats(d_a, id_a, other).cached
    monkeypatch.setitem(PROTOCOL, "version", PROTOCOL["version"] + 1)
    assert not feats(d_a, id_a, x).cached
    # The cache answers with what it stored, so a stale key would be visible: the entry for (a, x) is a's.
    monkeypatch.setitem(PROTOCOL, "version", PROTOCOL["version"] - 1)
    np.testing.assert_array_equal(feats(d_b, id_a, x).train, first.train)


# ----------------------------------------------------------------------------------------------------
# Command line


def labelled_npz(path: Path, n_train: int = 240, n_test: int = 90, size: int = 16) -> Path:
    """Three classes a linear probe can tell apart: bright top, bright left, dark images (plus noise)."""
    rng = np.random.default_rng(0)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % 3
        x = rng.integers(0, 90, (n, size, size, 1))
        x[y == 0, : size // 2] += 150
        x[y == 1, :, : size // 2] += 150
        return x.clip(0, 255).astype(np.uint8), y.astype(np.int64)

    (xtr, ytr), (xte, yte) = make(n_train), make(n_test)
    np.savez(path, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte, class_names=np.array(["top", "left", "dark"]))
    return path


def test_probe_through_the_python_api(trained, tmp_path: Path) -> None:
    from dcgan.config import DataConfig
    from dcgan.data import load_data

    npz = labelled_npz(tmp_path / "toy.npz")  # 16x16 grey: fitted to the model's 32x32 RGB, as the CLI does
    model = dcgan.load(trained.run_dir, device="cpu")
    before = set(trained.run_dir.rglob("*"))
    options = dict(labels_per_class=5, draws=2, val_size=30, c_grid=(1e-3, 0.1), max_iter=300)
    result = P.probe(model, train=str(npz), test=f"{npz}:test", **options)
    assert set(trained.run_dir.rglob("*")) == before  # the library writes nothing (features go to the cache folder)
    rows = {r["features"]: r for r in result.rows}
    assert list(rows) == ["trained D", "random D", "pixels"]
    assert rows["trained D"]["dim"] == rows["random D"]["dim"] == 16 * (8 + 16 + 32) and rows["trained D"]["split"] == [128, 256, 512]
    assert rows["pixels"]["dim"] == 3 * 32 * 32
    assert rows["pixels"]["all_labels"]["test_accuracy"] == 1.0  # the toy classes differ by +150 on half the image: separable
    assert all(r["few_labels"]["n_labelled"] == 15 and len(r["few_labels"]["test_errors"]) == 2 for r in rows.values())
    assert result.report["n_train"] == 240 and result.report["n_test"] == 90 and result.report["protocol"]["batchnorm"] == "eval"
    assert any("(conv3, 32 ch)" in line for line in result.lines()) and result.table.splitlines()[0].startswith("features")
    saved = save(result, tmp_path / "out")
    record = json.loads(saved.results.read_text())
    assert record["tool"] == "probe" and record["settings"]["labels_per_class"] == 5 and record["settings"]["c_grid"] == [0.001, 0.1]
    assert record["table"] == result.table.splitlines() and record["source"]["checkpoint"] == str(trained.latest)
    assert (tmp_path / "out" / "table.txt").read_text() == result.table + "\n" and record["figures"] == ["table.txt"]
    # the same images given as data objects: the same table, D's features now from the cache
    data = {split: load_data(DataConfig(spec=spec, image_size=32, channels=3)) for split, spec in (("train", str(npz)), ("test", f"{npz}:test"))}
    again = P.probe(model, result.settings, train_data=data["train"], test_data=data["test"])
    assert again.table == result.table and any("trained D: 896 features (from cache)" in line for line in again.lines())
    with pytest.raises(UserError, match="give --test SPEC"):
        P.probe(model, train=str(npz))


def test_probe_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    npz = labelled_npz(tmp_path / "toy.npz")
    run_dir = train(RunConfig(
        data=DataConfig(spec=str(npz), image_size=16),
        model=ModelConfig(z_dim=8, ngf=8, ndf=8),
        train=TrainConfig(batch_size=16, max_steps=4, log_every=2, num_fixed_samples=4, out=str(tmp_path / "runs"), name="toy"),
    ))
    args = ["probe", str(run_dir), "--train", str(npz), "--test", f"{npz}:test", "--labels-per-class", "5",
            "--draws", "3", "--val-size", "30", "--c-grid", "0.001,0.1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    results = json.loads((run_dir / "analysis" / "probe" / "results.json").read_text())
    rows = {r["features"]: r for r in results["rows"]}
    assert list(rows) == ["trained D", "random D", "pixels"]
    assert rows["trained D"]["dim"] == rows["random D"]["dim"] == 16 * (8 + 16)
    assert rows["trained D"]["split"] == [128, 256] and rows["pixels"]["dim"] == 16 * 16
    for row in rows.values():
        assert 0 <= row["all_labels"]["test_accuracy"] <= 1 and row["all_labels"]["C"] in (0.001, 0.1)
        assert len(row["few_labels"]["test_errors"]) == 3 and row["few_labels"]["n_labelled"] == 15
    assert rows["pixels"]["all_labels"]["test_accuracy"] > 0.9  # the toy classes are linearly separable in pixels
    assert results["n_train"] == 240 and results["n_test"] == 90 and results["protocol"]["batchnorm"] == "eval"
    assert "trained D" in out and "random D" in out and "results:" in out and "(conv1, 8 ch)" in out
    assert (run_dir / "analysis" / "probe" / "table.txt").read_text().strip() == "\n".join(results["table"])
    # A rerun reads D's features from the cache and gives the same table.
    assert main(args) == 0
    assert "(from cache)" in capsys.readouterr().out
    assert json.loads((run_dir / "analysis" / "probe" / "results.json").read_text())["table"] == results["table"]


def test_probe_cli_refuses_unlabelled_data_and_bad_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    npz = tmp_path / "nolabels.npz"
    np.savez(npz, x_train=np.zeros((20, 16, 16, 1), np.uint8), x_test=np.zeros((10, 16, 16, 1), np.uint8))
    g, d = build_models(ModelConfig(image_size=16, channels=1, z_dim=8, ngf=8, ndf=8), seed=0)
    ckpt = tmp_path / "ckpt.pt"
    save_checkpoint(ckpt, {"config": RunConfig(model=d.cfg).to_dict(), "generator": g.state_dict(), "discriminator": d.state_dict()})
    assert main(["probe", str(ckpt), "--train", str(npz)]) == 2
    assert "give --test SPEC" in capsys.readouterr().err
    assert main(["probe", str(ckpt), "--train", str(npz), "--test", f"{npz}:test"]) == 2
    assert "has no labels" in capsys.readouterr().err
    labelled = labelled_npz(tmp_path / "toy.npz")
    assert main(["probe", str(ckpt), "--train", str(labelled), "--test", f"{labelled}:test", "--label", "colour"]) == 2
    assert "no label 'colour'" in capsys.readouterr().err
    assert main(["probe", str(ckpt), "--train", str(labelled), "--test", f"{labelled}:test", "--baselines", "kmeans"]) == 2
    assert "unknown baseline" in capsys.readouterr().err
    assert main(["probe", str(ckpt), "--train", str(labelled), "--test", f"{labelled}:test", "--no-all-labels"]) == 2
    assert "nothing to do" in capsys.readouterr().err
