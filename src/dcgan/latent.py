"""Latent codes: one z per integer seed, independent of batching, and paths between codes."""

from __future__ import annotations

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


# ---------------------------------------------------------------------------------------------------
# Choosing an interpolation, concepts and vector arithmetic (PAPER.md section 5).

# Why these defaults (README "Latent-space experiments"): for normal z the norms of typical codes
# concentrate near sqrt(z_dim) and a straight line between two of them dips to about 0.71 of that at its
# middle, a region G never saw in training; slerp keeps the norm typical, so normal z walks by slerp.
# For uniform z in [-1, 1]^d G was trained on the cube, whose whole inside has the same density: a
# straight line stays inside it (its norm dips to about 0.6-0.7 of sqrt(d/3), but such codes are still
# in the support), while slerp keeps the norm and pushes about 5% of the coordinates outside [-1, 1] (by
# up to ~0.43), where G never was; so uniform z walks by lerp. Measured on 32 px rooms models (30 walks
# x 8 segments, judged), the judged frame quality barely differed (normal z: slerp 36.9%, lerp 35.8%;
# uniform z: slerp 40.7%, lerp 41.5% confident), so the rule follows the support; ``path_typicality``
# reports both effects for every walk.
DEFAULT_MODE = {"normal": "slerp", "uniform": "lerp"}


def default_mode(z_dist: str) -> str:
    """Return the interpolation ``walk --mode auto`` uses for ``z_dist``: slerp for normal z, lerp for uniform z."""
    return DEFAULT_MODE[z_dist]


def path_typicality(z: torch.Tensor, z_dist: str) -> dict[str, float]:
    """Return how typical the codes ``z`` (..., z_dim) are for ``z_dist``: norm range relative to the expected norm, share outside the support."""
    flat = z.reshape(-1, z.shape[-1])
    d = flat.shape[-1]
    expected = (d if z_dist == "normal" else d / 3) ** 0.5  # sqrt(E|z|^2): 1 per coordinate, or 1/3 for U[-1, 1]
    ratio = flat.norm(dim=-1) / expected
    out = {"norm_ratio_min": float(ratio.min()), "norm_ratio_max": float(ratio.max()), "norm_ratio_mean": float(ratio.mean())}
    if z_dist == "uniform":
        out["outside_cube_share"] = float((flat.abs() > 1).float().mean())
        out["outside_cube_max"] = float((flat.abs().max() - 1).clamp_min(0))
    return out


def concept_mean(z: torch.Tensor) -> torch.Tensor:
    """Return the (z_dim,) average of a concept's (k, z_dim) exemplar codes (the paper averages k = 3)."""
    if z.ndim != 2 or len(z) == 0:
        raise ValueError("a concept needs a (k, z_dim) tensor with k >= 1 exemplar codes")
    return z.mean(0)


def arithmetic(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Return a - b + c, where each argument is one code (z_dim,) or exemplar codes (k, z_dim) averaged first."""
    a, b, c = (concept_mean(x) if x.ndim == 2 else x for x in (a, b, c))
    return a - b + c


def uniform_noise(y: torch.Tensor, n: int, scale: float = 0.25, seed: int = 0) -> torch.Tensor:
    """Return (n, z_dim) variations y + U[-scale, scale] noise per coordinate; ``scale`` is absolute.

    The paper's 0.25 is for z uniform in [-1, 1]; ``dcgan.analysis.arithmetic.noise_half_width`` scales it to other priors.
    """
    gen = torch.Generator().manual_seed(int(seed))
    noise = (torch.rand(n, y.shape[-1], generator=gen) * 2 - 1) * scale
    return y.reshape(1, -1) + noise.to(y.dtype)

