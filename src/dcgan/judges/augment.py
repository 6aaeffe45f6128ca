"""Image changes used in training: mild degradations a judge must ignore, and negatives its realness net must reject.

Both work on [-1, 1] float batches (B, C, S, S) on any device, drawing from a CPU ``torch.Generator``
so that a seed gives the same images everywhere.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Kinds of synthetic "not this data" images, in the order ``make_negatives`` draws them.
NEGATIVES = ("pixel noise", "smooth blobs", "shuffled patches", "heavily blurred", "heavily noised")


def degrade(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Return a copy of [-1, 1] images (B, C, S, S), half of them degraded the way generated images are.

    Generated images are blurrier and noisier than the data, with blotches at the scale of G's last
    upsampling, and their colours drift a little; a judge that has only seen clean images reads such
    changes of finish as changes of content. Each degraded image gets a Gaussian blur (sigma up to
    S/64 pixels), pixel noise and 2x2-pixel blotch noise (std up to 0.06 each, on [-1, 1]), and a
    brightness and per-channel gain within +-4%: all far smaller than the differences between factor values.
    """
    from torchvision.transforms.v2.functional import gaussian_blur

    b, c, s = x.shape[0], x.shape[1], x.shape[-1]
    pick = torch.rand(b, generator=gen) < 0.5
    if not pick.any():
        return x
    y = x[pick]
    sigma = float(torch.rand(1, generator=gen)) * max(1.0, s / 64) + 0.2
    k = 2 * int(2 * sigma + 0.5) + 1
    y = gaussian_blur(y, [k, k], [sigma, sigma])
    gain = 1 + (torch.rand(len(y), c, 1, 1, generator=gen) - 0.5) * 0.08
    gain = gain * (1 + (torch.rand(len(y), 1, 1, 1, generator=gen) - 0.5) * 0.08)
    noise = torch.randn(y.shape, generator=gen) * (torch.rand(len(y), 1, 1, 1, generator=gen) * 0.06)
    blotch = torch.randn(len(y), c, (s + 1) // 2, (s + 1) // 2, generator=gen) * (torch.rand(len(y), 1, 1, 1, generator=gen) * 0.06)
    noise = noise + F.interpolate(blotch, scale_factor=2, mode="nearest")[..., :s, :s]
    y = ((y + 1) * gain.to(y.device) - 1 + noise.to(y.device)).clamp(-1, 1)
    out = x.clone()
    out[pick] = y
    return out


def _rand(gen: torch.Generator, like: torch.Tensor, *shape: int) -> torch.Tensor:
    return torch.rand(shape, generator=gen).to(like.device)


def _randn(gen: torch.Generator, like: torch.Tensor, *shape: int) -> torch.Tensor:
    return torch.randn(shape, generator=gen).to(like.device)


def _level(gen: torch.Generator, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return a random mean (per image, tinted per channel) and contrast: from near-black to near-white, flat to harsh."""
    n, c = x.shape[:2]
    mean = (_rand(gen, x, n, 1, 1, 1) - 0.5) * 1.2 + (_rand(gen, x, n, c, 1, 1) - 0.5) * 0.4
    return mean, _rand(gen, x, n, 1, 1, 1) * 0.6 + 0.05


def _field(gen: torch.Generator, x: torch.Tensor, side: int) -> torch.Tensor:
    """Return (N, C, side, side) standard normal noise, grey (equal in every channel) for about half the images."""
    n, c = x.shape[:2]
    z = _randn(gen, x, n, c, side, side)
    grey = _rand(gen, x, n, 1, 1, 1) < 0.5
    return torch.where(grey, z[:, :1].expand_as(z), z)


def _pixel_noise(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    mean, std = _level(gen, x)
    z = _field(gen, x, x.shape[-1])
    uniform = (_rand(gen, x, *x.shape) * 2 - 1) * 1.7  # the same spread as N(0, 1)
    return mean + std * torch.where(_rand(gen, x, len(x), 1, 1, 1) < 0.5, z, uniform)


def _smooth_blobs(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Low-resolution noise upsampled: the soft colour blobs an untrained or collapsed G draws."""
    s = x.shape[-1]
    side = int(torch.randint(2, max(3, s // 4) + 1, (1,), generator=gen))
    mean, std = _level(gen, x)
    y = mean + 1.5 * std * F.interpolate(_field(gen, x, side), size=s, mode="bilinear", align_corners=False)
    return y + _randn(gen, x, *x.shape) * _rand(gen, x, len(x), 1, 1, 1) * 0.15


def _shuffled_patches(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Real images cut into a 4x4 grid of patches put back in random order: real texture, wrong layout."""
    n, c, s = x.shape[0], x.shape[1], x.shape[-1]
    g, p = 4, s // 4
    patches = x.reshape(n, c, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(n, g * g, c, p, p)
    order = torch.argsort(torch.rand(n, g * g, generator=gen), 1).to(x.device)
    patches = patches[torch.arange(n, device=x.device)[:, None], order]
    return patches.reshape(n, g, g, c, p, p).permute(0, 3, 1, 4, 2, 5).reshape(n, c, s, s)


def _heavily_blurred(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Real images averaged down to 2..S/8 pixels a side and smoothly upsampled: the layout's colours, nothing else."""
    s = x.shape[-1]
    side = int(torch.randint(2, max(2, s // 8) + 1, (1,), generator=gen))
    return F.interpolate(F.adaptive_avg_pool2d(x, side), size=s, mode="bilinear", align_corners=False)


def _heavily_noised(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Real images under pixel noise of std 0.3..0.8 (``degrade`` adds at most 0.12)."""
    return x + _randn(gen, x, *x.shape) * (_rand(gen, x, len(x), 1, 1, 1) * 0.5 + 0.3)


_MAKERS = (_pixel_noise, _smooth_blobs, _shuffled_patches, _heavily_blurred, _heavily_noised)


def make_negatives(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Return one image unlike the data per [-1, 1] real image in ``x``: each of a random kind of ``NEGATIVES``.

    Cheap and needing no G, these teach a realness net what "not this data" looks like: noise and blobs
    (what a bad G draws), and real images whose layout or detail is destroyed. Mild changes are left to
    ``degrade``, whose images count as real, so that blurry but sound samples are not rejected.
    """
    kind = torch.randint(0, len(_MAKERS), (len(x),), generator=gen)
    out = torch.empty_like(x)
    for k, make in enumerate(_MAKERS):
        idx = (kind == k).nonzero().flatten().to(x.device)
        if len(idx):
            out[idx] = make(x[idx], gen).clamp(-1, 1)
    return out
