"""Latent-space analysis tools: nearest neighbours, walk/arithmetic/direction measurements with known answers (toy
generators whose images are a known function of z, a stub judge whose answers are known), and each tool through the
Python API and the command line on the shared tiny rooms model and judge (conftest ``trained``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

import dcgan
from dcgan.analysis.arithmetic import Expression, arithmetic, draw_expressions, pixel_arithmetic
from dcgan.analysis.direction import (
    apply_direction,
    direction,
    measure_flips,
    random_like,
    targets_from_exemplars,
)
from dcgan.analysis.memorization import compare, nearest_neighbours, pixel_embed
from dcgan.analysis.walk import changes_and_returns, distinct_frames
from dcgan.api import Model
from dcgan.cli import main
from dcgan.config import ModelConfig, RunConfig
from dcgan.errors import UserError
from dcgan.latent import z_from_seeds
from dcgan.report import plain, save
from dcgan.settings.arithmetic import ArithmeticSettings
from dcgan.settings.direction import DirectionSettings


def _results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


# ---------------------------------------------------------------------------------------------------
# Toys with known answers: G whose image is a known function of z, a judge that reads it back exactly.


class _LinearG(nn.Module):
    """G(z) = 0.05 * W z per pixel (no squashing): code arithmetic and pixel arithmetic agree up to rounding."""

    def __init__(self, z_dim: int, size: int = 16) -> None:
        super().__init__()
        self.size = size
        self.weight = nn.Parameter(torch.randn(3 * size * size, z_dim, generator=torch.Generator().manual_seed(0)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (0.05 * z @ self.weight.T).view(-1, 3, self.size, self.size)


class _SignG(nn.Module):
    """G(z): channel 0 is +-0.5 by the sign of z[0], channel 1 by the sign of z[1], channel 2 is 0."""

    def __init__(self, size: int = 16) -> None:
        super().__init__()
        self.size = size
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        signs = torch.stack([torch.sign(z[:, 0]), torch.sign(z[:, 1]), torch.zeros(len(z))], 1) * 0.5
        return signs.view(-1, 3, 1, 1).expand(-1, 3, self.size, self.size)


class _SignJudgeNet(nn.Module):
    """A stub judge net: 'p' is yes when channel 0 is bright, 'x' is yes when channel 1 is (what _SignG draws)."""

    def __init__(self, size: int = 16) -> None:
        from dcgan.judges import JudgeConfig

        super().__init__()
        self.cfg = JudgeConfig(size, 3, ("p", "x"), (("no", "yes"), ("no", "yes")))
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        m = x.mean((2, 3))
        return [torch.stack([-m[:, c], m[:, c]], 1) * 100 for c in (0, 1)]


def _toy(generator: nn.Module, z_dim: int, z_dist: str = "normal") -> Model:
    cfg = RunConfig(model=ModelConfig(image_size=16, channels=3, z_dim=z_dim, z_dist=z_dist))
    return Model(Path("toy.pt"), {}, cfg, generator.eval(), torch.device("cpu"))


def _sign_judge():
    from dcgan.judges import Judge

    judge = Judge(_SignJudgeNet())
    judge.source = "sign-judge"
    return judge


def _first(model: Model, count: int, keep, start: int = 0) -> list[int]:
    """Return the first ``count`` seeds from ``start`` whose code z satisfies ``keep(z)`` (the toys' ground truth)."""
    found, seed = [], start
    while len(found) < count:
        if keep(model.codes([seed])[0]):
            found.append(seed)
        seed += 1
    return found


# ---------------------------------------------------------------------------------------------------
# Library functions with known answers.


def test_nearest_neighbours_find_the_planted_images_across_chunks() -> None:
    gen = torch.Generator().manual_seed(0)
    reference = torch.randint(0, 256, (50, 1, 4, 4), dtype=torch.uint8, generator=gen)
    planted = torch.tensor([3, 17, 31, 49])
    queries = reference[planted].clone()
    queries[1, 0, 0, 0] = queries[1, 0, 0, 0] ^ 1  # one pixel off by one
    d, i = nearest_neighbours(queries, reference, pixel_embed, chunk=7)
    assert i.tolist() == planted.tolist()
    assert d[0] == 0 and d[2] == 0 and d[3] == 0  # exact copies: exactly 0, not rounding noise
    assert torch.isclose(d[1], torch.tensor(1 / (255 * 4.0)))  # RMS over 16 pixels of one unit step
    brute = torch.cdist(pixel_embed(queries).double(), pixel_embed(reference).double()).min(1)
    assert torch.equal(brute.indices, i) and torch.allclose(brute.values.float(), d, atol=1e-6)


def test_near_copies_are_counted_against_the_heldout_quantile() -> None:
    heldout = torch.linspace(1, 2, 101)
    samples = torch.cat([torch.zeros(3), torch.full((97,), 1.5)])
    stats = compare(samples, heldout, 0.01)
    assert stats["threshold"] == pytest.approx(1.01)
    assert stats["near_copies"] == 3 and stats["below_heldout_min"] == 3 and stats["expected_by_chance"] == pytest.approx(1.0)
    assert stats["median_ratio"] == pytest.approx(1.0)


@pytest.mark.parametrize(("labels", "expected"), [
    ([0, 0, 0], (0, 0)), ([0, 1, 1], (1, 0)), ([0, 1, 0], (2, 1)), ([2, 0, 1, 0, 1], (4, 2)), ([0, 1, 2, 1], (3, 1)),
])
def test_changes_and_returns(labels: list[int], expected: tuple[int, int]) -> None:
    assert changes_and_returns(labels) == expected


def test_distinct_frames_drop_shared_segment_ends() -> None:
    frames = torch.arange(3 * 4).view(3, 4)
    frames[1:, 0] = frames[:-1, -1]
    assert distinct_frames(frames).tolist() == [0, 1, 2, 3, 5, 6, 7, 9, 10, 11]


def test_pixel_arithmetic_is_exact_and_clamped() -> None:
    a = torch.full((3, 1, 2, 2), 200, dtype=torch.uint8)
    b = torch.full((3, 1, 2, 2), 50, dtype=torch.uint8)
    c = torch.tensor([10, 20, 30], dtype=torch.uint8).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    assert pixel_arithmetic(a, b, c).flatten().tolist() == [170] * 4
    assert pixel_arithmetic(a, c[:1], a).flatten().tolist() == [255] * 4


def test_random_expressions_draw_matching_exemplars() -> None:
    gen = torch.Generator().manual_seed(1)
    labels = {"wall": torch.randint(0, 3, (300,), generator=gen), "bed": torch.randint(0, 2, (300,), generator=gen),
              "rug": torch.randint(-1, 2, (300,), generator=gen)}  # -1: not judged confidently
    drawn = draw_expressions(labels, {"wall": 3, "bed": 2, "rug": 2}, 20, 3, seed=0)
    assert len(drawn) == 20 and len({e for e, _ in drawn}) == 20
    for expr, idx in drawn:
        assert expr.p_with != expr.p_without and expr.x != expr.y and expr.p_factor != expr.x_factor
        for name, want in expr.concepts().items():
            if name != "target":
                assert len(idx[name]) == 3 and len(set(idx[name].tolist())) == 3
                assert all((labels[f][idx[name]] == v).all() for f, v in want.items())
    assert Expression("bed", 1, 0, "wall", 0, 2).concepts()["target"] == {"wall": 2, "bed": 1}


def test_direction_flips_are_measured_against_scale_zero() -> None:
    z = torch.zeros(2, 3)
    assert torch.equal(apply_direction(z, torch.tensor([1.0, 0, 0]), [0, 2])[:, 1], torch.tensor([[2.0, 0, 0]] * 2))
    # 4 seeds, scales (0, 1); window target {2}. Seed 0 flips cleanly, seed 1 flips but its wall changes,
    # seed 2 does not flip, seed 3 is already at the target.
    labels = {"window": torch.tensor([[0, 2], [1, 2], [0, 1], [2, 2]]), "wall": torch.tensor([[0, 0], [1, 3], [2, 2], [0, 0]])}
    m = measure_flips(labels, [0, 1], {"window": {2}})
    assert m["eligible"] == 3 and m["already_at_target"] == 1
    assert m["flip_share"]["count"] == 1 and m["target_reached"]["count"] == 2 and m["others_kept"]["count"] == 2
    assert m["kept_by_factor"] == {"wall": pytest.approx(2 / 3)} and "confident_seeds" not in m
    sure = measure_flips(labels, [0, 1], {"window": {2}}, confident=torch.tensor([True, True, False, True]))["confident_seeds"]
    assert sure["eligible"] == 2 and sure["flip_share"]["count"] == 1 and sure["target_reached"]["count"] == 2
    assert targets_from_exemplars({"window": torch.tensor([0, 0, 1, 0]), "wall": torch.tensor([1, 1, 1, 1])},
                                  {"window": torch.tensor([2, 2, 2, 1]), "wall": torch.tensor([1, 1, 0, 1])}) == {"window": {2}}


def test_settings_take_the_python_forms_and_refuse_what_the_command_line_refuses() -> None:
    s = ArithmeticSettings(a=[1, 2, 3], b="4-6", c=" window=1 ")
    assert (s.a, s.b, s.c) == ((1, 2, 3), (4, 5, 6), "window=1") and s.to_dict()["a"] == [1, 2, 3]
    with pytest.raises(UserError, match="give all three concepts"):
        ArithmeticSettings(a=[1, 2, 3])
    with pytest.raises(UserError, match="at least 2 to compare means"):
        ArithmeticSettings(evaluate=5, exemplars=1)
    d = DirectionSettings(from_=[0, 1, 2, 3], to="window=2", scales="0,1", seeds="7-9")
    assert (d.from_, d.scales, d.seeds) == ((0, 1, 2, 3), (0.0, 1.0), (7, 8, 9))
    assert DirectionSettings.build(d, scales=[2, -1]).scales == (2.0, -1.0)
    with pytest.raises(UserError, match="give both groups"):
        DirectionSettings(to="4-7")
    with pytest.raises(UserError, match="cannot read --scales"):
        DirectionSettings(from_="0-3", to="4-7", scales="a,b")


@pytest.mark.parametrize(("z_dist", "half_width"), [("uniform", 0.25), ("normal", 0.25 * math.sqrt(3))])
def test_arithmetic_noise_is_scaled_to_the_spread_of_the_prior(z_dist: str, half_width: float, tmp_path: Path) -> None:
    # The paper's U[-0.25, 0.25] is for uniform z (sd 1/sqrt(3)); normal z (sd 1) gets sqrt(3) times it: 0.433.
    model = _toy(_LinearG(8), 8, z_dist)
    result = arithmetic(model, a=[1, 2, 3], b=[4, 5, 6], c=[7, 8, 9])
    assert result.noise_half_width == pytest.approx(half_width, rel=1e-12)
    if z_dist == "uniform":
        assert result.noise_half_width == 0.25  # exactly the paper's
    offsets = result.codes[1:] - result.codes[0]
    assert offsets.shape == (8, 8)
    assert float(offsets.abs().max()) <= half_width + 1e-6 and float(offsets.abs().max()) > 0.9 * half_width  # fills the interval
    assert float(offsets.std()) == pytest.approx(half_width / math.sqrt(3), rel=0.25)  # sd of U[-w, w] is w / sqrt(3)
    assert _results(save(result, tmp_path).folder)["figure"]["noise_half_width"] == pytest.approx(half_width)
    assert arithmetic(model, a=[1, 2, 3], b=[4, 5, 6], c=[7, 8, 9], noise=0).codes.unique(dim=0).shape[0] == 1


def test_arithmetic_decodes_the_mean_code_arithmetic_and_matches_pixels_for_a_linear_g() -> None:
    model = _toy(_LinearG(6), 6)
    result = arithmetic(model, a="3,17,42", b=[5, 8, 13, 14], c=(21, 34, 55), variations=2)
    za, zb, zc = (z_from_seeds(s, 6, "normal") for s in ([3, 17, 42], [5, 8, 13, 14], [21, 34, 55]))
    y = za.mean(0) - zb.mean(0) + zc.mean(0)
    assert torch.allclose(result.codes[0], y, atol=1e-6) and result.codes.shape == (3, 6)
    assert torch.equal(result.images[0], model.decode(y.unsqueeze(0))[0])
    assert torch.equal(result.means[1], model.decode(zb.mean(0, keepdim=True))[0])
    assert [c.seeds for c in result.concepts] == [[3, 17, 42], [5, 8, 13, 14], [21, 34, 55]]
    assert [len(e) for e in result.exemplar_images] == [3, 4, 3]
    # G is linear and nothing clips, so G(mean A - mean B + mean C) is the pixel arithmetic of the exemplars, up to rounding.
    assert int((result.images[0].int() - result.pixel[-1].int()).abs().max()) <= 2
    assert not torch.equal(result.images[0], result.means[0])
    assert result.judged is None and result.evaluation is None and result.lines() == []


def test_arithmetic_finds_query_concepts_and_judges_the_result() -> None:
    model, judge = _toy(_SignG(), 4), _sign_judge()
    result = arithmetic(model, a="p=yes,x=yes", b="p=no,x=yes", c="p=no,x=no", judge=judge, search_start=10)
    expected = _first(model, 3, lambda z: z[0] > 0 and z[1] > 0, start=10)
    assert result.concepts[0].seeds == expected and result.concepts[0].query == "p=yes,x=yes"
    y = result.codes[0]
    assert result.judged["result"] == f"p={'yes' if y[0] > 0 else 'no'} x={'yes' if y[1] > 0 else 'no'}"
    assert result.judged["pixel"] == "p=yes x=no"  # pixel arithmetic of flat images is exact: the expected concept
    with pytest.raises(UserError, match="is a judge query"):
        arithmetic(model, a="p=yes", b=[1, 2, 3], c=[4, 5, 6])


def test_arithmetic_evaluation_scores_each_method_as_computed_by_hand() -> None:
    model, judge = _toy(_SignG(), 4), _sign_judge()
    result = arithmetic(model, evaluate=6, pool=200, judge=judge, seed=3)
    ev = result.evaluation
    assert ev["expressions"] == 6 and result.concepts == [] and result.previews.shape == (6, 6, 3, 16, 16)
    index = {"p": 0, "x": 1}
    hits = {"mean3": 0, "single": 0}
    for e in ev["per_expression"]:
        za, zb, zc = (model.codes(e["seeds"][k]) for k in "abc")
        assert all(z[index[e["p_factor"]]] > 0 for z in za) == bool(e["p_with"])  # exemplars have what the expression asks
        target = {e["x_factor"]: e["y"], e["p_factor"]: e["p_with"]}
        for method, y in (("mean3", za.mean(0) - zb.mean(0) + zc.mean(0)), ("single", za[0] - zb[0] + zc[0])):
            ok = all(int(y[index[f]] > 0) == v for f, v in target.items())
            hits[method] += ok
            assert e[method]["success"] == ok
    for method in ("mean3", "single"):
        assert ev["methods"][method]["success"]["count"] == hits[method]
    # Flat images: mean A - mean B + mean C on pixels is exactly the expected image, every time.
    assert ev["methods"]["pixel"]["success"]["count"] == 6 and ev["methods"]["pixel_single"]["success"]["count"] == 6
    with pytest.raises(UserError, match="--evaluate needs --judge"):
        arithmetic(model, evaluate=6)


def test_direction_flips_are_counted_as_by_hand_against_a_known_judge(tmp_path: Path) -> None:
    model, judge = _toy(_SignG(), 4), _sign_judge()
    result = direction(model, from_="p=no", to="p=yes", judge=judge, seeds="0-99", scales=(0, 1, 2), rows=3)
    assert result.groups[0].seeds == _first(model, 4, lambda z: z[0] < 0)
    assert result.groups[1].seeds == _first(model, 4, lambda z: z[0] > 0)
    d = model.codes(result.groups[1].seeds).mean(0) - model.codes(result.groups[0].seeds).mean(0)
    assert torch.allclose(result.direction, d)
    used = set(result.groups[0].seeds) | set(result.groups[1].seeds)
    assert result.test_seeds == [s for s in range(100) if s not in used]
    z = model.codes(result.test_seeds)

    def by_hand(v: torch.Tensor, scale: float = 1.0) -> tuple[int, int]:
        """(eligible, flips): seeds not yet bright in channel 0 that become so with channel 1 unchanged."""
        moved = z + scale * v
        eligible = z[:, 0] <= 0
        flips = eligible & (moved[:, 0] > 0) & ((moved[:, 1] > 0) == (z[:, 1] > 0))
        return int(eligible.sum()), int(flips.sum())

    m = result.measurement
    assert m["targets"] == {"p": ["yes"]}
    assert (m["eligible"], m["flip_share"]["count"]) == by_hand(d)
    assert (m["random_direction"]["eligible"], m["random_direction"]["flip_share"]["count"]) == by_hand(random_like(d, 0))
    n = m["eligible"]
    assert m["by_scale"][2]["at_target"] == pytest.approx(int(((z[:, 0] <= 0) & (z[:, 0] + 2 * d[0] > 0)).sum()) / n)
    assert torch.equal(result.grid[:, 0], model.sample(result.test_seeds[:3]))  # scale 0 is each seed's own image
    assert torch.equal(result.grid[:, 2], model.decode(z[:3] + 2 * d))
    saved = save(result, tmp_path)
    assert [p.name for p in saved.figures] == ["grid.png", "exemplars.png"]
    assert _results(tmp_path)["measurement"]["flip_share"]["count"] == m["flip_share"]["count"]


def test_direction_targets_from_seed_groups_of_different_sizes() -> None:
    # 8 'from' exemplars and 4 'to' exemplars: each group's judged labels are its own (not split at --exemplars).
    model, judge = _toy(_SignG(), 4), _sign_judge()
    from_ = _first(model, 8, lambda z: z[0] < 0 and z[1] > 0)
    to = _first(model, 4, lambda z: z[0] > 0 and z[1] > 0)
    result = direction(model, from_=from_, to=to, judge=judge, seeds="200-219")
    assert result.measurement["targets"] == {"p": ["yes"]} and [len(e) for e in result.exemplar_images] == [8, 4]
    with pytest.raises(UserError, match="every test seed is an exemplar"):
        direction(model, from_=from_, to=to, seeds=to)


# ---------------------------------------------------------------------------------------------------
# Each tool through the Python API and the command line, on the shared tiny rooms model and judge.


def test_arithmetic_through_the_api_and_the_command_line(trained, tmp_path: Path) -> None:
    model = dcgan.load(trained.latest, "cpu")
    judge = dcgan.load_judge(trained.judge, model)
    result = arithmetic(model, a=[1, 2, 3], b="4,5,6", c="window=1", judge=judge, min_prob=0, evaluate=4, pool=64)
    y = model.codes([1, 2, 3]).mean(0) - model.codes([4, 5, 6]).mean(0) + model.codes(result.concepts[2].seeds).mean(0)
    assert result.concepts[2].seeds == [0, 1, 2]  # min_prob 0: every seed matches, so the first three
    assert torch.equal(result.images[0], model.decode(y.unsqueeze(0))[0])
    assert len(result.judged["variations"]) == 8 and result.evaluation["expressions"] == 4
    saved = save(result, tmp_path / "api")
    record = _results(saved.folder)
    assert record["tool"] == "arithmetic" and record["settings"]["a"] == [1, 2, 3] and record["settings"]["c"] == "window=1"
    assert [p.name for p in saved.figures] == ["figure.png", "evaluation.png"] and record["figures"] == ["figure.png", "evaluation.png"]
    assert record["figure"]["noise_half_width"] == pytest.approx(0.25 * math.sqrt(3))  # the tiny model's z is normal
    out = tmp_path / "cli"
    assert main(["arithmetic", str(trained.run_dir), "--a", "1,2,3", "--b", "4,5,6", "--c", "window=1", "--judge", str(trained.judge),
                 "--min-prob", "0", "--evaluate", "4", "--pool", "64", "--out", str(out), "--device", "cpu"]) == 0
    cli = _results(out)
    assert cli["settings"] == record["settings"] and cli["figure"] == record["figure"]
    assert cli["evaluation"] == plain(result.evaluation)  # the command is the library call, nothing else
    for name in ("figure.png", "evaluation.png"):
        with Image.open(out / name) as img:
            assert img.size[0] > 300


def test_direction_through_the_api_and_the_command_line(trained, tmp_path: Path) -> None:
    model = dcgan.load(trained.latest, "cpu")
    judge = dcgan.load_judge(trained.judge, model)
    result = direction(model, from_="0-3", to="window=2", judge=judge, min_prob=0.2, seeds="0-39", rows=3, scales="0,1,2")
    z = model.codes(result.test_seeds[:3])
    assert result.grid.shape == (3, 3, 3, 32, 32) and torch.equal(result.grid[:, 0], model.sample(result.test_seeds[:3]))
    assert torch.equal(result.grid[:, 2], model.decode(z + 2 * result.direction))
    used = set(result.groups[0].seeds) | set(result.groups[1].seeds)
    assert result.groups[0].seeds == [0, 1, 2, 3] and result.test_seeds == [s for s in range(40) if s not in used]
    m = result.measurement
    assert m["targets"] == {"window": ["2"]} and m["seeds"] == len(result.test_seeds) and [b["scale"] for b in m["by_scale"]] == [0, 1, 2]
    saved = save(result, tmp_path / "api")
    assert [p.name for p in saved.figures] == ["grid.png", "exemplars.png"]
    record = _results(saved.folder)
    out = tmp_path / "cli"
    assert main(["direction", str(trained.run_dir), "--from", "0-3", "--to", "window=2", "--judge", str(trained.judge), "--min-prob", "0.2",
                 "--seeds", "0-39", "--rows", "3", "--scales", "0,1,2", "--out", str(out), "--device", "cpu"]) == 0
    cli = _results(out)
    assert cli["settings"] == record["settings"] and cli["measurement"] == record["measurement"] and cli["grid_seeds"] == result.test_seeds[:3]
    with Image.open(out / "grid.png") as img:
        assert min(img.size) > 200


def test_walk_writes_grid_gif_and_judged_numbers(trained, tmp_path: Path) -> None:
    run_dir, judge = trained.run_dir, trained.judge
    out = tmp_path / "walk"
    assert main(["walk", str(run_dir), "--points", "3", "--walks", "2", "--steps", "4", "--judge", str(judge), "--out", str(out), "--device", "cpu"]) == 0
    res = _results(out)
    assert res["mode"] == "slerp" and len(res["walks"]) == 2 and res["walks"][1]["seeds"] == [3, 4, 5]
    s = res["summary"]
    assert s["segments"] == 4 and s["frames"] == 14
    assert 0 <= s["confident_share"] <= 1 and s["returns_per_segment"] >= 0 and set(s["returns_by_factor"]) >= {"wall", "window"}
    assert s["confident_returns_per_segment"] >= 0 and s["shuffled_returns_per_segment"] >= 0
    seg = res["walks"][0]["judge"]["segments"][0]
    assert len(seg["factors"]["wall"]["values"]) == 4
    with Image.open(out / "walk-00.gif") as gif:
        assert gif.n_frames == 7 and gif.size[0] >= 128
    with Image.open(out / "walk-00.png") as grid:
        assert grid.size == (4 * 34 + 2, 2 * 34 + 2)  # 4 columns (steps) x 2 rows (segments), 2 px padding


def test_walk_default_folder_is_inside_the_run(trained) -> None:
    run_dir = trained.run_dir
    assert main(["walk", str(trained.epoch1), "--points", "2", "--steps", "3", "--device", "cpu"]) == 0
    folder = run_dir / "analysis" / "walk" / "epoch-0001"
    assert (folder / "walk-00.gif").is_file() and "summary" not in _results(folder)


def test_memorization_on_pixels_and_features(trained, tmp_path: Path) -> None:
    run_dir, judge = trained.run_dir, trained.judge
    for extra, name in (([], "dfeat"), (["--judge", str(judge)], "judge")):
        out = tmp_path / name
        assert main(["memorization", str(run_dir), "--samples", "20", "--train-images", "200", "--pairs", "4", "--out", str(out),
                     "--device", "cpu", *extra]) == 0
        res = _results(out)
        assert res["train"]["images"] == 200 and res["heldout"]["images"] == 20 and "test" in res["heldout"]["data"]
        for space in ("pixel", "features"):
            r = res[space]
            assert {"samples", "heldout", "threshold", "near_copies", "expected_by_chance", "median_ratio", "closest"} <= set(r)
            assert 0 <= r["near_copies"] <= 20 and r["samples"]["median"] > 0
        assert ("judge" in res["features"]["space"]) == (name == "judge")
        for fig in ("pairs-pixel.png", "pairs-features.png", "distances.png"):
            assert (out / fig).is_file()


@pytest.mark.parametrize("argv", [
    ["walk", "RUN", "--seeds", "5"],
    ["walk", "RUN", "--seeds", "1,2", "--walks", "2"],
    ["walk", "RUN", "--judge", "/no/such/judge.pt"],
    ["arithmetic", "RUN", "--a", "1,2,3"],
    ["arithmetic", "RUN", "--a", "window=1", "--b", "1,2,3", "--c", "4,5,6"],
    ["arithmetic", "RUN", "--a", "1,2", "--b", "3,4,5", "--c", "6,7,8"],
    ["arithmetic", "RUN", "--evaluate", "5"],
    ["arithmetic", "RUN", "--a", "1,2,3", "--b", "4,5,6", "--c", "7,8,9", "--noise", "-1"],
    ["direction", "RUN", "--to", "4-7"],
    ["direction", "RUN", "--from", "0-3", "--to", "4-7", "--exemplars", "2"],
    ["direction", "RUN", "--from", "0-3", "--to", "4-7", "--scales", "a,b"],
    ["direction", "RUN", "--from", "0-3", "--to", "4-7", "--seeds", "0-7"],
    ["memorization", "RUN", "--quantile", "2"],
    ["memorization", "/no/such/run"],
])
def test_user_errors_exit_2(trained, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(trained.run_dir) if a == "RUN" else a for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dcgan: error:") and "Traceback" not in err
