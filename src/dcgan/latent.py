"""Latent codes: one z per integer seed, independent of batching, and paths between codes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import torch

from dcgan.errors import UserError


def sample_z(n: int, z_dim: int, dist: str, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """Return (n, z_dim) codes from N(0, 1) or U[-1, 1], drawn from ``generator``."""
    if dist == "normal":
        return torch.randn(n, z_dim, generator=generator, device=device)
    if dist == "uniform":
        return torch.rand(n, z_dim, generator=generator, device=device) * 2 - 1
    raise ValueError(f"unknown z distribution {dist!r}")


def z_from_seeds(seeds: Iterable[int], z_dim: int, dist: str) -> torch.Tensor:
    """Return (len(seeds), z_dim) codes; seed s always gives the same z, whatever else is in the batch."""
    rows = []
    for seed in seeds:
        gen = torch.Generator().manual_seed(int(seed))
        rows.append(sample_z(1, z_dim, dist, gen)[0])
    if not rows:
        raise UserError("no seeds given")
    return torch.stack(rows)


def parse_seeds(text: str) -> list[int]:
    """Parse '0-63', '3,17,42' or '0-9,100' into a list of non-negative seeds."""
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match or (match[2] is not None and int(match[2]) < int(match[1])):
            raise UserError(f"cannot read seeds {text!r}: use a range '0-63', a list '3,17,42' or both '0-9,100'")
        seeds.extend(range(int(match[1]), int(match[2] or match[1]) + 1))
    if not seeds:
        raise UserError(f"no seeds in {text!r}")
    return seeds


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Return the straight-line point (1 - t) a + t b."""
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float, eps: float = 1e-7) -> torch.Tensor:
    """Return the spherical interpolation between a and b (last dim), keeping Gaussian codes typical.

    The angle is taken between directions; norms are interpolated linearly, so endpoints are exact.
    Falls back to lerp when the vectors are (anti)parallel.
    """
    a_norm, b_norm = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    a_dir, b_dir = a / a_norm.clamp_min(eps), b / b_norm.clamp_min(eps)
    cos = (a_dir * b_dir).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    t = torch.as_tensor(t, dtype=a.dtype)
    direction = (torch.sin((1 - t) * omega) * a_dir + torch.sin(t * omega) * b_dir) / sin.clamp_min(eps)
    direction = torch.where(sin.abs() < 1e-4, lerp(a_dir, b_dir, t), direction)
    return direction * lerp(a_norm, b_norm, t)


def path(points: Sequence[torch.Tensor] | torch.Tensor, steps: int, mode: str = "slerp") -> torch.Tensor:
    """Return (len(points) - 1, steps, z_dim): each row walks from one point to the next, both ends included."""
    fn = {"slerp": slerp, "lerp": lerp}.get(mode)
    if fn is None:
        raise UserError(f"--mode must be 'slerp' or 'lerp', not {mode!r}")
    if steps < 2:
        raise UserError("--steps must be at least 2 (the two end points)")
    points = torch.as_tensor(torch.stack(list(points)) if not isinstance(points, torch.Tensor) else points)
    ts = torch.linspace(0, 1, steps).unsqueeze(-1)  # (steps, 1)
    return torch.stack([fn(points[i].unsqueeze(0), points[i + 1].unsqueeze(0), ts) for i in range(len(points) - 1)])
