"""``rooms``: procedural bedroom scenes with known content (the default training data; no files needed).

Each image shows a back wall, side walls and a floor in one-point perspective, zero to two windows
(a white frame and bar around two panes showing the sky), an optional bed (headboard, blanket,
turned-down sheet, pillow, foot board) and an optional rug. Six factors are drawn independently and
uniformly:

    wall    red | green | blue | yellow        colour of the walls
    floor   wood | carpet | tiles              brown planks, plain purple carpet, off-white tiles
    window  0 | 1 | 2                          number of windows on the back wall
    bed     none | red | blue                  no bed, or a bed with that blanket colour
    light   day | night                        daylight, or a dim warm room with a dark sky
    rug     no | yes                           a rug on the floor (always at least 60% visible)

Positions and sizes (horizon, perspective, window and bed placement and size, rug size) vary freely,
edges are anti-aliased over one pixel (scaled with the image size), and each image gets a soft light
fall-off, a small brightness jitter and mild grain.

Image i of a dataset is a pure function of (dataset seed, i): every random number of an image is a
counter-based hash of (seed, i, k), so an image never depends on which other images are rendered with
it. Splits are disjoint index ranges (``train`` from 0, ``test`` from 10**9, ``val`` from 2 * 10**9).

Spec grammar (``--data``): ``rooms[:OPTION=VALUE[,OPTION=VALUE]][:SPLIT]`` with options ``seed`` (dataset
seed, default 0) and ``start`` (first index within the split, default 0); ``--num-images`` sets the
length (default 50,000 at 64x64 and below, fewer at larger sizes: about 600 MB of pixels).
Examples: ``rooms``, ``rooms:test``, ``rooms:seed=3``, ``rooms:seed=3,start=5000:test``.

The renderer is vectorised over a batch in torch: every layer is a per-pixel weight map (separable
products of one-dimensional coverages wherever possible), and the colour image is one batched matrix
product of per-image material colours with those weights. No library renders labelled scenes like
this, hence the hand-written code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dcgan.config import check_image_size
from dcgan.data.base import ImageData, convert_channels
from dcgan.device import cpu_threads
from dcgan.errors import UserError

FACTORS: dict[str, list[str]] = {
    "wall": ["red", "green", "blue", "yellow"],
    "floor": ["wood", "carpet", "tiles"],
    "window": ["0", "1", "2"],
    "bed": ["none", "red", "blue"],
    "light": ["day", "night"],
    "rug": ["no", "yes"],
}
# Object slots of boxes and masks, and the kind of object each slot holds.
SLOTS = ("window_0", "window_1", "bed", "rug")
SLOT_KIND = ("window", "window", "bed", "rug")
OBJECTS = ("window", "bed", "rug")

SPLIT_OFFSET = {"train": 0, "test": 10**9, "val": 2 * 10**9, "valid": 2 * 10**9}
MAX_START = 10**9  # a split's indices must stay inside its own range
DEFAULT_COUNT = 50_000
DEFAULT_BYTES = 600_000_000  # default length at sizes above 64: about this many bytes of pixels
CHUNK = 128  # images rendered at once: keeps each weight map in the CPU cache (measured fastest)
NOISE_TABLE = 256  # side of the grain texture each image takes a randomly placed crop from

# Colours (linear 0..1 RGB).
WALL_RGB = [(0.76, 0.32, 0.28), (0.42, 0.64, 0.40), (0.38, 0.53, 0.80), (0.92, 0.80, 0.42)]
FLOOR_RGB = [(0.56, 0.35, 0.18), (0.42, 0.30, 0.46), (0.84, 0.83, 0.79)]  # brown, purple, off-white
FLOOR_LINES = [0.3, 0.0, 0.25]  # darkening of plank / tile seams per floor type (carpet: none)
BLANKET_RGB = [(0.0, 0.0, 0.0), (0.82, 0.14, 0.14), (0.14, 0.30, 0.78)]
GLASS_RGB = [(0.60, 0.80, 0.98), (0.07, 0.09, 0.25)]  # day, night: the sky is not lit by the room
WOOD_RGB = (0.36, 0.21, 0.11)
WHITE_RGB = (0.95, 0.95, 0.92)  # window frames, sheet and pillow
RUG_RGB = (0.16, 0.50, 0.48)
NIGHT_TINT = (1.0, 0.95, 0.88)  # a warm lamp, mild enough to keep the hues apart

# Materials: the rows of the per-pixel weight maps, in this order.
MATERIALS = ("wall", "side_wall", "floor", "floor_seam", "glass", "rug", "white", "wood", "blanket")
M = {name: i for i, name in enumerate(MATERIALS)}
_T = {name: torch.tensor(value, dtype=torch.float32) for name, value in {
    "wall": WALL_RGB, "floor": FLOOR_RGB, "seam": [[1.0 - x] for x in FLOOR_LINES], "blanket": BLANKET_RGB,
    "glass": GLASS_RGB, "wood": WOOD_RGB, "white": WHITE_RGB, "rug": RUG_RGB,
    "tint": [(1.0, 1.0, 1.0), NIGHT_TINT]}.items()}


@dataclass
class RoomsBatch:
    """Rendered rooms with ground truth: images, factor labels, object boxes and per-pixel object masks."""

    images: torch.Tensor  # (N, 3, S, S) uint8
    labels: dict[str, torch.Tensor]  # factor -> (N,) int64 index into FACTORS[factor]
    boxes: torch.Tensor  # (N, len(SLOTS), 4) float32 pixel coordinates x0, y0, x1, y1 (whole object, occluded parts too)
    present: torch.Tensor  # (N, len(SLOTS)) bool: the slot holds an object
    masks: torch.Tensor | None = None  # (N, len(SLOTS), S, S) float32 visible coverage in [0, 1]

    def object_mask(self, kind: str) -> torch.Tensor:
        """Return (N, S, S) visible coverage of every object of ``kind`` (window, bed or rug)."""
        if self.masks is None:
            raise ValueError("render with masks=True to get masks")
        slots = [i for i, k in enumerate(SLOT_KIND) if k == kind]
        if not slots:
            raise ValueError(f"unknown object {kind!r}: use one of {', '.join(OBJECTS)}")
        return self.masks[:, slots].amax(1)


# ---------------------------------------------------------------------------------------------------
# Counter-based random numbers: u(seed, i, k) in [0, 1), independent of batching.

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix(x: np.ndarray) -> np.ndarray:
    """Return the SplitMix64 finaliser of uint64 ``x`` (a good 64-bit mixing function)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def uniforms(seed: int, indices: np.ndarray, count: int) -> np.ndarray:
    """Return (len(indices), count) float64 uniforms in [0, 1), a pure function of (seed, index, column)."""
    with np.errstate(over="ignore"):
        base = _splitmix(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x632BE59BD9B4E019))
        x = _splitmix(indices.astype(np.uint64)[:, None] * np.uint64(0xD1B54A32D192ED03) + base)
        x = _splitmix(x + np.arange(1, count + 1, dtype=np.uint64)[None, :] * np.uint64(0x9E3779B97F4A7C15))
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53


_noise_cache: dict[int, torch.Tensor] = {}


def _noise_view(seed: int, size: int) -> torch.Tensor:
    """Return a (T, T, size, size) view of a tiled grain texture: [oy, ox] is the crop at that offset."""
    table = _noise_cache.get(seed)
    if table is None:
        gen = torch.Generator().manual_seed(seed * 7919 + 17)
        base = torch.randn(NOISE_TABLE, NOISE_TABLE, generator=gen)
        table = _noise_cache[seed] = base.repeat(2, 2).contiguous()  # wraps around without modulo
    t2 = table.shape[0]
    return table.as_strided((NOISE_TABLE, NOISE_TABLE, size, size), (t2, 1, t2, 1))


# ---------------------------------------------------------------------------------------------------
# Scene parameters.


@dataclass
class _Params:
    """Per-image scene parameters, all in pixel units (float32 tensors of shape (N,) unless noted)."""

    labels: dict[str, torch.Tensor]
    horizon: torch.Tensor
    vx: torch.Tensor
    vy: torch.Tensor
    left: torch.Tensor  # back wall's left edge
    right: torch.Tensor
    win: torch.Tensor  # (N, 2, 4) window boxes x0, y0, x1, y1
    win_on: torch.Tensor  # (N, 2) 0/1
    frame: torch.Tensor  # frame thickness
    bed_on: torch.Tensor
    bed_x: torch.Tensor  # centre
    bed_hw: torch.Tensor  # half width at the headboard
    bed_spread: torch.Tensor  # growth of the half width per pixel down (perspective)
    head_top: torch.Tensor
    bed_top: torch.Tensor  # where the mattress starts (bottom of the headboard)
    bed_end: torch.Tensor
    rug_on: torch.Tensor
    rug: torch.Tensor  # (N, 4) x0, y0, x1, y1
    brightness: torch.Tensor
    light_x: torch.Tensor
    light_y: torch.Tensor
    noise_offset: torch.Tensor  # (N, 2) int64


def _lerp(lo: float, hi: float, u: np.ndarray) -> np.ndarray:
    return lo + (hi - lo) * u


def _params(seed: int, indices: np.ndarray, size: int) -> _Params:
    """Draw every random choice of each image from its own counter-based stream."""
    u = uniforms(seed, indices, 32)
    n = len(indices)
    lab = {name: np.minimum((u[:, k] * len(values)).astype(np.int64), len(values) - 1)
           for k, (name, values) in enumerate(FACTORS.items())}
    s = float(size)
    horizon = _lerp(0.54, 0.62, u[:, 6])
    vy = horizon - _lerp(0.17, 0.25, u[:, 7])
    left, right = _lerp(0.08, 0.18, u[:, 8]), 1.0 - _lerp(0.08, 0.18, u[:, 9])
    vx = _lerp(0.42, 0.58, u[:, 10])
    # Windows: slot k lives in the k-th half of the back wall when there are two, anywhere when one.
    count = lab["window"]
    width = right - left
    win = np.zeros((n, 2, 4))
    win_on = np.zeros((n, 2))
    margin = 0.03
    for k in range(2):
        on = count > k
        segs = np.where(count == 2, 2, 1)
        seg_w = width / segs
        seg_x0 = left + np.where(count == 2, k * seg_w, 0.0)
        w = _lerp(0.17, 0.24, u[:, 11 + 3 * k])
        w = np.minimum(w, seg_w - 2 * margin)
        x0 = seg_x0 + margin + (seg_w - 2 * margin - w) * u[:, 12 + 3 * k]
        y0 = _lerp(0.07, 0.14, u[:, 13 + 3 * k])
        h = np.minimum(_lerp(0.26, 0.34, u[:, 30 + k]), horizon - 0.05 - y0)
        win[:, k] = np.stack([x0, y0, x0 + w, y0 + h], 1)
        win_on[:, k] = on
    # Bed: a headboard against the wall and a mattress that widens towards the viewer.
    bed_on = (lab["bed"] > 0).astype(np.float64)
    bed_hw = _lerp(0.16, 0.24, u[:, 17])
    bed_x = _lerp(left + bed_hw + 0.02, right - bed_hw - 0.02, u[:, 18])
    head_top = horizon - _lerp(0.10, 0.16, u[:, 19])
    bed_top = horizon + 0.015
    bed_end = np.minimum(bed_top + _lerp(0.20, 0.27, u[:, 20]), 0.86)
    bed_spread = np.full(n, 0.45)
    # Rug: in front of the bed (its top part may be under the foot board), else anywhere on the floor.
    rug_on = lab["rug"].astype(np.float64)
    rug_hw = _lerp(0.15, 0.24, u[:, 21])
    rug_hh = _lerp(0.055, 0.08, u[:, 22])
    rug_cx = _lerp(left + rug_hw, right - rug_hw, u[:, 23])
    lo = np.where(bed_on > 0, bed_end + 0.2 * rug_hh, horizon + 0.12 + rug_hh)  # at most 40% under the bed
    rug_cy = np.minimum(lo + _lerp(0.0, 0.1, u[:, 24]), 0.985 - rug_hh)
    rug = np.stack([rug_cx - rug_hw, rug_cy - rug_hh, rug_cx + rug_hw, rug_cy + rug_hh], 1)
    night = lab["light"] == 1
    brightness = np.where(night, _lerp(0.52, 0.6, u[:, 25]), _lerp(0.94, 1.04, u[:, 25]))
    noise_offset = (u[:, 26:28] * NOISE_TABLE).astype(np.int64)

    def t(x: np.ndarray, scale: float = s) -> torch.Tensor:
        return torch.from_numpy(np.asarray(x * scale, dtype=np.float32))

    return _Params(
        labels={k: torch.from_numpy(v) for k, v in lab.items()},
        horizon=t(horizon), vx=t(vx), vy=t(vy), left=t(left), right=t(right),
        win=t(win), win_on=t(win_on, 1.0), frame=t(np.full(n, 0.025)).clamp_min(1.0),
        bed_on=t(bed_on, 1.0), bed_x=t(bed_x), bed_hw=t(bed_hw), bed_spread=t(bed_spread, 1.0),
        head_top=t(head_top), bed_top=t(bed_top), bed_end=t(bed_end),
        rug_on=t(rug_on, 1.0), rug=t(rug), brightness=t(brightness, 1.0),
        light_x=t(_lerp(0.3, 0.7, u[:, 28])), light_y=t(_lerp(0.2, 0.5, u[:, 29])),
        noise_offset=torch.from_numpy(noise_offset),
    )


# ---------------------------------------------------------------------------------------------------
# Rendering.


def _span(lo: torch.Tensor, hi: torch.Tensor, coords: torch.Tensor, soft: float) -> torch.Tensor:
    """Return coverage of [lo, hi] at pixel centres ``coords`` with edges ramped over ``soft`` pixels.

    lo, hi: (..., 1) pixel positions; coords: (L,) -> (..., L) in [0, 1].
    """
    a = (coords - lo).div_(soft).add_(0.5).clamp_(0, 1)
    return a.mul_((hi - coords).div_(soft).add_(0.5).clamp_(0, 1))


def _colours(p: _Params, size: int) -> torch.Tensor:
    """Return (N, 3, len(MATERIALS)) material colours of each image, lighting included."""
    n = len(p.brightness)
    lab = p.labels
    c = torch.empty(n, len(MATERIALS), 3)
    wall = _T["wall"][lab["wall"]]
    floor = _T["floor"][lab["floor"]]
    c[:, M["wall"]] = wall
    c[:, M["side_wall"]] = wall * 0.8
    c[:, M["floor"]] = floor
    fade = min(1.0, size / 48.0)  # 1-pixel seams would dominate tiny images
    c[:, M["floor_seam"]] = floor * (1.0 - fade * (1.0 - _T["seam"][lab["floor"]]))
    c[:, M["rug"]] = _T["rug"]
    c[:, M["wood"]] = _T["wood"]
    c[:, M["blanket"]] = _T["blanket"][lab["bed"]]
    c[:, M["white"]] = _T["white"]
    c *= (p.brightness.unsqueeze(1) * _T["tint"][lab["light"]]).unsqueeze(1)
    c[:, M["glass"]] = _T["glass"][lab["light"]]  # the sky is not lit by the room
    return c.transpose(1, 2).contiguous()


def _render_chunk(seed: int, indices: np.ndarray, size: int, masks: bool) -> tuple[torch.Tensor, _Params, torch.Tensor | None]:
    """Render one chunk: uint8 (N, 3, S, S), its parameters, and (N, len(SLOTS), S, S) masks if asked."""
    p = _params(seed, indices, size)
    n, s = len(indices), size
    soft = max(1.0, size / 64.0)
    xs = torch.arange(s, dtype=torch.float32) + 0.5  # pixel centres
    col = lambda t: t.view(n, 1, 1)  # noqa: E731  (per-image scalar -> broadcastable)
    w = torch.empty(n, len(MATERIALS), s, s)  # every row is written below (the bed's rows zeroed when no bed)

    # Floor: below the horizon on the back wall's columns, below the receding side lines elsewhere.
    kl = (p.horizon - p.vy) / (p.vx - p.left)
    kr = (p.horizon - p.vy) / (p.right - p.vx)
    xr = xs.view(1, s)
    y_floor = p.horizon.view(n, 1) + torch.maximum(
        (p.left.view(n, 1) - xr) * kl.view(n, 1), ((xr - p.right.view(n, 1)) * kr.view(n, 1)).clamp_min(0)
    ).clamp_min(0)  # (N, W)
    xs_soft = xs / soft
    floor = (xs_soft.view(1, s, 1) - (y_floor / soft - 0.5).view(n, 1, s)).clamp_(0, 1)  # (N, H, W)

    # Windows: a white frame (the rectangle) around two panes of glass (the inner rectangle minus a bar).
    wb = p.win  # (N, 2, 4)
    on = p.win_on.view(n, 2, 1)
    fr = p.frame.view(n, 1, 1)
    wx = _span(wb[..., 0:1], wb[..., 2:3], xs, soft) * on  # (N, 2, W)
    wy = _span(wb[..., 1:2], wb[..., 3:4], xs, soft)  # (N, 2, H)
    cx = (wb[..., 0:1] + wb[..., 2:3]) / 2
    gx = (_span(wb[..., 0:1] + fr, wb[..., 2:3] - fr, xs, soft) - _span(cx - fr / 2, cx + fr / 2, xs, soft)).clamp_(0, 1).mul_(on)
    gy = _span(wb[..., 1:2] + fr, wb[..., 3:4] - fr, xs, soft)
    win_slots = wy.unsqueeze(3) * wx.unsqueeze(2)  # (N, 2, H, W)
    windows = win_slots.sum(1)
    glass = torch.einsum("nkh,nkw->nhw", gy, gx)
    w[:, M["glass"]] = glass
    frame = windows - glass  # the frames are white: the bed's sheet and pillow are added below

    # Walls: what is neither floor nor window; the side walls are shaded.
    wall = w[:, M["wall"]]
    torch.sub(1.0, floor, out=wall).sub_(windows)
    side = 1.0 - _span(p.left.view(n, 1), p.right.view(n, 1), xs, soft)  # (N, W)
    torch.mul(wall, side.view(n, 1, s), out=w[:, M["side_wall"]])
    wall.sub_(w[:, M["side_wall"]])

    # Rug (on the floor, inside the back wall's columns, so always below the floor line).
    rb = p.rug
    rx = _span(rb[:, 0:1], rb[:, 2:3], xs, soft) * p.rug_on.view(n, 1)
    ry = _span(rb[:, 1:2], rb[:, 3:4], xs, soft)
    rug = w[:, M["rug"]]
    torch.mul(ry.view(n, s, 1), rx.view(n, 1, s), out=rug)

    # Floor texture: planks (seams radiating from the vanishing point) or tiles (plus depth lines).
    fl = w[:, M["floor"]]
    torch.sub(floor, rug, out=fl)
    ys = xs.view(1, s, 1)
    depth = (ys - col(p.vy)).clamp_min(0.5)  # (N, H, 1)
    plank = 0.3  # plank width over depth: about seven planks across the bottom row
    q = (xs.view(1, 1, s) - col(p.vx)) * (1.0 / plank / depth)  # (N, H, W) plank coordinate
    seam = (q - q.round()).abs_().mul_(depth * (-plank / soft)).add_(1.0).clamp_(0, 1)  # 1-pixel lines
    tiles = (p.labels["floor"] == 2).float().view(n, 1, 1)
    z = s * 1.2 / depth  # (N, H, 1) inverse depth: horizontal tile seams at equal steps of it
    hline = ((z - z.round()).abs() * (-depth.square() / (1.2 * s * soft))).add(1.0).clamp(0, 1) * tiles
    seam = torch.maximum(seam, hline) if bool(tiles.any()) else seam
    torch.mul(fl, seam, out=w[:, M["floor_seam"]])
    fl.sub_(w[:, M["floor_seam"]])

    # Bed: headboard, then a mattress whose half width grows towards the viewer.
    bed = None
    if not bool(p.bed_on.any()):
        w[:, M["wood"] :].zero_()
        w[:, M["white"]] = frame
    else:
        on_b = p.bed_on.view(n, 1)
        hx = _span((p.bed_x - p.bed_hw).view(n, 1), (p.bed_x + p.bed_hw).view(n, 1), xs, soft) * on_b
        hy = _span(p.head_top.view(n, 1), p.bed_top.view(n, 1), xs, soft)
        head = hy.view(n, s, 1) * hx.view(n, 1, s)
        yv = torch.minimum(torch.maximum(ys, col(p.bed_top)), col(p.bed_end))  # rows clamped to the bed
        hw = col(p.bed_hw) + (yv - col(p.bed_top)) * col(p.bed_spread)  # (N, H, 1)
        lo, hi = (col(p.bed_x) - hw) / soft - 0.5, (col(p.bed_x) + hw) / soft + 0.5  # (N, H, 1)
        body_x = (xs_soft - lo).clamp_(0, 1).mul_((hi - xs_soft).clamp_(0, 1))  # (N, H, W)
        by = _span(p.bed_top.view(n, 1), p.bed_end.view(n, 1), xs, soft) * on_b
        body = body_x * by.view(n, s, 1)
        foot_y = _span((p.bed_end - 0.045 * s).view(n, 1), p.bed_end.view(n, 1), xs, soft)
        sheet_y = _span((p.bed_top + 0.07 * s).view(n, 1), (p.bed_top + 0.105 * s).view(n, 1), xs, soft)
        pillow_y = _span((p.bed_top + 0.01 * s).view(n, 1), (p.bed_top + 0.055 * s).view(n, 1), xs, soft)
        pillow_x = _span((p.bed_x - 0.8 * p.bed_hw).view(n, 1), (p.bed_x + 0.8 * p.bed_hw).view(n, 1), xs, soft)
        foot = body_x * (foot_y * on_b).view(n, s, 1)
        sheet = body_x * (sheet_y * on_b).view(n, s, 1)
        pillow = pillow_y.view(n, s, 1) * (pillow_x * on_b).view(n, 1, s)
        bed = (head + body).clamp_(max=1.0)
        linen = torch.add(sheet, pillow).clamp_(max=1.0)
        torch.sub(body, foot, out=w[:, M["blanket"]]).sub_(linen).clamp_(min=0.0)
        w[:, M["white"]] = frame
        w[:, : M["wood"]] *= (1.0 - bed).unsqueeze(1)
        w[:, M["white"]] += linen
        torch.add(head, foot, out=w[:, M["wood"]])

    # Colour = material colours x weights, then light fall-off and grain.
    rgb = torch.bmm(_colours(p, s), w.view(n, len(MATERIALS), s * s)).view(n, 3, s, s)
    dx = ((xs.view(1, s) - p.light_x.view(n, 1)) / s).square_()
    dy = ((xs.view(1, s) - p.light_y.view(n, 1)) / s).square_()
    shade = (1.06 - 0.35 * dy).view(n, s, 1) - (0.35 * dx).view(n, 1, s)  # (N, H, W)
    noise = _noise_view(seed, s)[p.noise_offset[:, 0], p.noise_offset[:, 1]]  # (N, H, W)
    noise.mul_(1.0).add_(0.5)  # grain of 0.4% plus rounding
    rgb.mul_(shade.mul_(255.0).unsqueeze(1)).add_(noise.unsqueeze(1)).clamp_(0, 255)
    out = torch.from_numpy(rgb.numpy().astype(np.uint8))  # numpy's cast is 3x faster than torch's here

    mask = None
    if masks:
        mask = torch.zeros(n, len(SLOTS), s, s)
        visible = 1.0 - bed if bed is not None else torch.ones(n, s, s)
        mask[:, 0:2] = win_slots * visible.unsqueeze(1)
        if bed is not None:
            mask[:, 2] = bed
        mask[:, 3] = rug  # a view of the rug's weights, which the bed has already occluded
    return out, p, mask


def _boxes(p: _Params, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (N, len(SLOTS), 4) boxes of the whole objects (soft edges included) and (N, len(SLOTS)) presence."""
    n = len(p.brightness)
    grow = (max(1.0, size / 64.0) - 1.0) / 2.0
    boxes = torch.zeros(n, len(SLOTS), 4)
    boxes[:, 0:2] = p.win
    hw_end = p.bed_hw + (p.bed_end - p.bed_top) * p.bed_spread
    boxes[:, 2] = torch.stack([p.bed_x - hw_end, p.head_top, p.bed_x + hw_end, p.bed_end], 1)
    boxes[:, 3] = p.rug
    boxes[..., :2] -= grow
    boxes[..., 2:] += grow
    boxes.clamp_(0, size)
    present = torch.stack([p.win_on[:, 0] > 0, p.win_on[:, 1] > 0, p.bed_on > 0, p.rug_on > 0], 1)
    return boxes * present.unsqueeze(2), present


def render_rooms(indices: torch.Tensor | np.ndarray | range | list[int], size: int = 64, seed: int = 0,
                 masks: bool = False) -> RoomsBatch:
    """Return rooms ``indices`` of dataset ``seed`` at ``size`` with labels, boxes and (optionally) masks."""
    check_image_size(size)
    idx = np.asarray(list(indices) if isinstance(indices, range | list) else indices, dtype=np.int64).reshape(-1)
    if idx.size and idx.min() < 0:
        raise UserError("room indices must be non-negative")
    n = len(idx)
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    labels = {name: torch.empty(n, dtype=torch.int64) for name in FACTORS}
    boxes = torch.empty(n, len(SLOTS), 4)
    present = torch.empty(n, len(SLOTS), dtype=torch.bool)
    mask_out = torch.empty(n, len(SLOTS), size, size) if masks else None
    chunk = max(8, CHUNK * 64 * 64 // (size * size))
    # One thread: the ops are small, and with more threads on a busy machine every op waits for the
    # slowest thread (measured 50x slower on 2 shared cores).
    with cpu_threads(1):
        _render_all(seed, idx, size, chunk, images, labels, boxes, present, mask_out)
    return RoomsBatch(images, labels, boxes, present, mask_out)


def _render_all(seed: int, idx: np.ndarray, size: int, chunk: int, images: torch.Tensor, labels: dict[str, torch.Tensor],
                boxes: torch.Tensor, present: torch.Tensor, mask_out: torch.Tensor | None) -> None:
    """Render ``idx`` chunk by chunk into the given output tensors."""
    n = len(idx)
    masks = mask_out is not None
    for start in range(0, n, chunk):
        sl = slice(start, start + chunk)
        img, p, m = _render_chunk(seed, idx[sl], size, masks)
        images[sl] = img
        for name in FACTORS:
            labels[name][sl] = p.labels[name]
        boxes[sl], present[sl] = _boxes(p, size)
        if mask_out is not None:
            mask_out[sl] = m


# ---------------------------------------------------------------------------------------------------
# The data source.


def parse_rooms_spec(source: str) -> dict[str, int]:
    """Return {'seed': int, 'start': int} from 'rooms' or 'rooms:seed=3,start=100' (split already removed)."""
    name, _, opts = source.partition(":")
    if name != "rooms":
        raise UserError(f"not a rooms spec: {source!r}")
    out = {"seed": 0, "start": 0}
    for part in filter(None, (x.strip() for x in opts.split(","))):
        key, eq, value = part.partition("=")
        if not eq or key not in out:
            raise UserError(f"cannot read {part!r} in --data {source!r}: use rooms[:seed=N][,start=N][:test], e.g. rooms:seed=3:test")
        try:
            out[key] = int(value)
        except ValueError:
            raise UserError(f"{key} in --data {source!r} must be a whole number, not {value!r}") from None
        if out[key] < 0:
            raise UserError(f"{key} in --data {source!r} must not be negative")
    return out


def default_count(size: int) -> int:
    """Return the default number of rooms at ``size``: 50,000 up to 64x64, about 600 MB of pixels above."""
    return DEFAULT_COUNT if size <= 64 else max(2048, DEFAULT_BYTES // (3 * size * size))


def split_indices(split: str, start: int, count: int) -> np.ndarray:
    """Return the image indices of ``count`` rooms of ``split`` from ``start`` (splits never overlap)."""
    if split not in SPLIT_OFFSET:
        raise UserError(f"rooms has splits train, test and val, not {split!r}")
    if start + count > MAX_START:
        raise UserError(f"rooms splits hold {MAX_START:,} images each: start + count must stay below that")
    return np.arange(count, dtype=np.int64) + SPLIT_OFFSET[split] + start


def load_rooms(source: str, split: str, size: int, channels: int | None, limit: int | None = None) -> ImageData:
    """Render the rooms dataset ``source`` (see the module docstring) as ImageData with factor labels."""
    opts = parse_rooms_spec(source)
    count = limit or default_count(size)
    batch = render_rooms(split_indices(split, opts["start"], count), size, opts["seed"])
    images = batch.images if channels in (None, 3) else convert_channels(batch.images, channels)
    desc = f"rooms (seed {opts['seed']}, {split}, {count} procedural images from index {opts['start']})"
    return ImageData(images, batch.labels, {k: list(v) for k, v in FACTORS.items()}, desc)


def describe(labels: dict[str, torch.Tensor], i: int) -> str:
    """Return 'wall=red window=2 ...' for image ``i`` of a labels dict."""
    return " ".join(f"{k}={FACTORS[k][int(v[i])]}" for k, v in labels.items() if k in FACTORS)


__all__ = ["FACTORS", "OBJECTS", "SLOTS", "SLOT_KIND", "RoomsBatch", "default_count", "load_rooms",
           "parse_rooms_spec", "render_rooms", "split_indices", "uniforms"]
