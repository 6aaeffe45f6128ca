"""Latent codes: interpolation endpoints and norms, concept means, arithmetic, noise bounds, query selection."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from dcgan.analysis.common import resolve_concept
from dcgan.api import Model
from dcgan.config import ModelConfig, RunConfig
from dcgan.errors import UserError
from dcgan.latent import (
    arithmetic,
    concept_mean,
    default_mode,
    lerp,
    path,
    path_typicality,
    slerp,
    uniform_noise,
    z_from_seeds,
)
from dcgan.seeds import looks_like_seeds


@pytest.mark.parametrize("fn", [lerp, slerp])
def test_interpolation_hits_both_endpoints(fn) -> None:
    a, b = z_from_seeds([1, 2], 100, "normal")
    assert torch.allclose(fn(a, b, 0.0), a, atol=1e-6)
    assert torch.allclose(fn(a, b, 1.0), b, atol=1e-5)


def test_slerp_keeps_the_norm_where_lerp_sags() -> None:
    a, b = z_from_seeds([3, 4], 100, "normal")
    b = b * (a.norm() / b.norm())  # equal norms: slerp must keep exactly that norm all the way
    ts = torch.linspace(0, 1, 11).unsqueeze(-1)
    slerp_norms = slerp(a.unsqueeze(0), b.unsqueeze(0), ts).norm(dim=-1)
    lerp_norms = lerp(a.unsqueeze(0), b.unsqueeze(0), ts).norm(dim=-1)
    assert torch.allclose(slerp_norms, a.norm().expand(11), rtol=1e-5)
    # Two near-orthogonal codes: the straight line's middle is about 1/sqrt(2) as long.
    assert 0.6 < float(lerp_norms[5] / a.norm()) < 0.8


def test_slerp_of_parallel_vectors_falls_back_to_lerp() -> None:
    a = torch.ones(1, 8)
    assert torch.allclose(slerp(a, 3 * a, 0.5), 2 * a, atol=1e-5)


def test_path_shape_and_shared_segment_ends() -> None:
    points = z_from_seeds([0, 1, 2, 3], 16, "normal")
    p = path(points, 5, "slerp")
    assert p.shape == (3, 5, 16)
    assert torch.allclose(p[0, -1], p[1, 0], atol=1e-5) and torch.allclose(p[2, -1], points[3], atol=1e-5)
    with pytest.raises(UserError):
        path(points, 1)
    with pytest.raises(UserError):
        path(points, 4, "cubic")


def test_typicality_tells_lerp_from_slerp() -> None:
    points = z_from_seeds(range(9), 100, "normal")
    t_slerp = path_typicality(path(points, 9, "slerp"), "normal")
    t_lerp = path_typicality(path(points, 9, "lerp"), "normal")
    assert t_slerp["norm_ratio_min"] > 0.85 and t_lerp["norm_ratio_min"] < 0.8
    u = z_from_seeds(range(9), 100, "uniform")
    assert path_typicality(path(u, 9, "lerp"), "uniform")["outside_cube_share"] == 0.0  # the cube is convex
    assert path_typicality(path(u, 9, "slerp"), "uniform")["outside_cube_share"] > 0.0
    assert default_mode("normal") == "slerp" and default_mode("uniform") == "lerp"  # each keeps codes where G was trained


def test_concept_means_and_arithmetic() -> None:
    z = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]])
    assert torch.equal(concept_mean(z), torch.tensor([3.0, 2.0]))
    a, b, c = z, z + 1, torch.zeros(3, 2)
    assert torch.allclose(arithmetic(a, b, c), torch.tensor([-1.0, -1.0]))
    assert torch.allclose(arithmetic(z[0], z[1], z[2]), z[0] - z[1] + z[2])  # single codes are used as they are
    with pytest.raises(ValueError):
        concept_mean(torch.zeros(0, 2))


def test_uniform_noise_stays_within_bounds_and_is_seeded() -> None:
    y = torch.randn(100)
    v = uniform_noise(y, 8, 0.25, seed=3)
    assert v.shape == (8, 100)
    delta = v - y
    assert float(delta.abs().max()) <= 0.25 and float(delta.abs().max()) > 0.2  # fills the interval
    assert float(delta.std()) > 0.1
    assert torch.equal(v, uniform_noise(y, 8, 0.25, seed=3)) and not torch.equal(v, uniform_noise(y, 8, 0.25, seed=4))


def test_seed_lists_are_told_from_queries() -> None:
    assert looks_like_seeds("3,17,42") and looks_like_seeds("0-9") and looks_like_seeds(" 0-3, 7 ")
    assert not looks_like_seeds("window=1,wall=red") and not looks_like_seeds("bed!=none") and not looks_like_seeds(",")


class _Brightness(nn.Module):
    """A stub judge net: one factor, 'bright' yes when the image's mean is above mid-grey."""

    def __init__(self) -> None:
        from dcgan.judges import JudgeConfig

        super().__init__()
        self.cfg = JudgeConfig(16, 3, ("bright",), (("no", "yes"),))
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        m = x.mean((1, 2, 3))
        return [torch.stack([-m, m], 1) * 100]


class _SignGenerator(nn.Module):
    """A stub G: a flat image, bright when z[0] > 0, dark otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sign(z[:, 0]).view(-1, 1, 1, 1).expand(-1, 3, 16, 16) * 0.5


def test_query_selection_picks_the_first_matching_seeds() -> None:
    from dcgan.judges import Judge

    model = ModelConfig(image_size=16, channels=3, z_dim=8)
    loaded = Model(Path("x.pt"), {}, RunConfig(model=model), _SignGenerator().eval())
    judge = Judge(_Brightness())
    expected = [s for s in range(200) if float(z_from_seeds([s], 8, "normal")[0, 0]) > 0][:5]
    concept = resolve_concept("a", "bright=yes", loaded, judge, 5)
    assert concept.seeds == expected and concept.query == "bright=yes"
    dark = resolve_concept("b", "bright=no", loaded, judge, 5, start_seed=100)
    assert all(s >= 100 and float(z_from_seeds([s], 8, "normal")[0, 0]) < 0 for s in dark.seeds)
    assert resolve_concept("c", "4,5,6,7", loaded, None, 3).seeds == [4, 5, 6, 7]  # seeds need no judge; all are used
    with pytest.raises(UserError, match="judge query"):
        resolve_concept("a", "bright=yes", loaded, None, 3)
    with pytest.raises(UserError, match="exemplars"):
        resolve_concept("a", "4,5", loaded, None, 3)
