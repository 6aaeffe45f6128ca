"""Making the generator forget an object (PAPER.md section 5, paper section 6.3.1).

The paper's procedure: on generated samples, object boxes (drawn by hand, or here also found by the
rooms localiser judge); a logistic regression on G's *second-highest conv layer* activations separates
feature vectors at positions inside the boxes (positives) from vectors at random positions of the same
images (negatives); every feature map with a positive weight is zeroed at all spatial locations by a
forward hook; the same seeds are generated again.

Which layer. The paper's Figure 1 generator is project(z) -> 4x4x1024 -> CONV1 -> 8x8x512 -> CONV2 ->
16x16x256 -> CONV3 -> 32x32x128 -> CONV4 -> 64x64x3 (the image). The highest conv layer with feature
maps is CONV3's output (32x32x128); the second highest is CONV2's output, 16x16x256. That is also the
only reading that fits the paper's "200 feature maps" with positive weight: the 128-map layer has too
few, and the 512-map layer would be the third highest. Our ``Generator.layers()`` is [project,
blocks..., to_image], each stage's output being its feature maps, so the default is ``layers()[-3]``
(``DEFAULT_LAYER``): at 64x64 that is ``blocks[1]``, 16x16 with 2 x ngf maps (256 at the paper's
ngf of 128), and relatively the same stage at every image size. ``--layer`` picks another.

Two choices the paper does not state, made here: a feature position (a cell of the layer's grid) is a
positive when its centre lies in a box (or, for a box smaller than a cell, when it holds the box's
centre); negatives are drawn at random among the *other* cells of the same images, as many as the
image has positives, so that no negative sits on the object. Features are standardised before the
fit (this does not change the sign of any weight, only the regularisation's scale).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dcgan.errors import UserError
from dcgan.models import Generator

DEFAULT_LAYER = -3  # G.layers()[-3]: the second-highest conv layer's feature maps (see the module docstring)
RENORM_SEEDS = range(200_000, 200_512)  # codes on which later BatchNorm statistics are re-estimated (see renorm_stats)
DROP_FORMAT = "dcgan-drop"
DROP_VERSION = 1
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels of the generated image; x1, y1 exclusive


# ---------------------------------------------------------------------------------------------------
# Layers and the drop hook.


def layer_names(g: Generator) -> list[str]:
    """Return the names of ``g.layers()``: project, blocks.0, ..., to_image."""
    return ["project", *[f"blocks.{i}" for i in range(len(g.blocks))], "to_image"]


def resolve_layer(g: Generator, layer: int) -> int:
    """Return ``layer`` as a non-negative index into ``g.layers()`` that holds feature maps, or raise a UserError."""
    n = len(g.layers())
    if not -n <= layer < n:
        raise UserError(f"--layer {layer} does not exist: G has {n} conv stages ({', '.join(layer_names(g))}), "
                        f"use 0..{n - 2} or -{n}..-2 (default {DEFAULT_LAYER}, the second-highest conv layer)")
    index = layer % n
    if index == n - 1:
        raise UserError(f"--layer {layer} is G's output layer, whose channels are the image's colours: use -2 or lower")
    return index


def layer_channels(g: Generator, layer: int) -> int:
    """Return how many feature maps stage ``layer`` of ``g.layers()`` outputs."""
    stage = g.layers()[resolve_layer(g, layer)]
    return next(m for m in stage if isinstance(m, nn.ConvTranspose2d)).out_channels


def add_drop_hook(g: Generator, layer: int, maps: Sequence[int]) -> torch.utils.hooks.RemovableHandle:
    """Zero feature maps ``maps`` of stage ``layer`` at every position on each forward pass; return the hook's handle."""
    index = resolve_layer(g, layer)
    channels = layer_channels(g, index)
    bad = [m for m in maps if not 0 <= int(m) < channels]
    if bad:
        raise UserError(f"feature maps {bad[:5]} do not exist: layer {layer_names(g)[index]} has {channels} (0..{channels - 1})")
    keep = torch.ones(channels)
    keep[torch.as_tensor(list(maps), dtype=torch.long)] = 0.0

    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
        return output * keep.to(output.device, output.dtype).view(1, -1, 1, 1)

    return g.layers()[index].register_forward_hook(hook)


Renorm = dict[str, dict[str, list[float]]]  # BatchNorm module name -> {"mean": [...], "var": [...]}


def later_batchnorms(g: Generator, layer: int) -> dict[str, nn.BatchNorm2d]:
    """Return {module name: BatchNorm} of the stages after stage ``layer`` (those a drop there changes the input of)."""
    index = resolve_layer(g, layer)
    later = {id(m) for stage in g.layers()[index + 1 :] for m in stage.modules()}
    return {name: m for name, m in g.named_modules() if isinstance(m, nn.BatchNorm2d) and id(m) in later}


@torch.no_grad()
def renorm_stats(g: Generator, layer: int, maps: Sequence[int], z: torch.Tensor) -> Renorm:
    """Return BatchNorm statistics of the later stages re-estimated with ``maps`` dropped, from one batch of codes ``z``.

    The paper's generator normalised with the statistics of each batch, so the layers after a drop re-centred
    themselves; ours normalises with fixed running statistics (so that a seed's image never depends on its batch).
    Re-estimating those statistics once, on the dropped generator, restores the paper's behaviour and keeps
    every image independent of its batch. Each BatchNorm normalises the batch with its own statistics during
    the pass, as in the paper, so later layers see already re-normalised inputs.
    """
    bns = later_batchnorms(g, layer)
    saved = {name: (m.training, m.momentum, m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
             for name, m in bns.items()}
    try:
        for m in bns.values():
            m.reset_running_stats()
            m.momentum = None  # cumulative average: with one batch, exactly that batch's statistics
            m.train()
        with drop_maps(g, layer, maps):
            g(z.to(next(g.parameters()).device))
        return {name: {"mean": m.running_mean.tolist(), "var": m.running_var.tolist()} for name, m in bns.items()}
    finally:
        for name, m in bns.items():
            training, momentum, mean, var, count = saved[name]
            m.train(training)
            m.momentum = momentum
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.num_batches_tracked.copy_(count)


@contextmanager
def drop_maps(g: Generator, layer: int, maps: Sequence[int], renorm: Renorm | None = None) -> Iterator[Generator]:
    """Context manager: inside it, ``g`` runs with ``maps`` of stage ``layer`` zeroed (and, given ``renorm``, the
    later BatchNorm statistics replaced by those of ``renorm_stats``); everything is restored on exit."""
    modules = dict(g.named_modules())
    saved = {}
    for name, stats in (renorm or {}).items():
        m = modules.get(name)
        if not isinstance(m, nn.BatchNorm2d) or len(stats["mean"]) != m.num_features:
            raise UserError(f"the re-normalisation statistics name a layer {name!r} this generator does not have (or of another width)")
        saved[name] = (m.running_mean.clone(), m.running_var.clone())
        m.running_mean.copy_(torch.tensor(stats["mean"]))
        m.running_var.copy_(torch.tensor(stats["var"]))
    handle = add_drop_hook(g, layer, maps)
    try:
        yield g
    finally:
        handle.remove()
        for name, (mean, var) in saved.items():
            modules[name].running_mean.copy_(mean)
            modules[name].running_var.copy_(var)


@torch.no_grad()
def layer_activations(g: Generator, z: torch.Tensor, layer: int, batch_size: int = 256) -> torch.Tensor:
    """Return (N, C, h, w) float32 feature maps of stage ``layer`` of ``g.layers()`` for codes ``z`` (G in eval mode)."""
    index = resolve_layer(g, layer)
    device = next(g.parameters()).device
    x_all = []
    for start in range(0, len(z), batch_size):
        x = z[start : start + batch_size].to(device).view(-1, z.shape[1], 1, 1)
        for stage in g.layers()[: index + 1]:
            x = stage(x)
        x_all.append(x.float().cpu())
    return torch.cat(x_all)


# ---------------------------------------------------------------------------------------------------
# Positives and negatives for the logistic regression.


def box_cells(boxes: Sequence[Box], image_size: int, grid: int) -> torch.Tensor:
    """Return (grid, grid) bool: the cells of a layer's grid that lie in any box (centre inside, or holding a small box's centre)."""
    cells = torch.zeros(grid, grid, dtype=torch.bool)
    step = image_size / grid
    centres = (torch.arange(grid, dtype=torch.float64) + 0.5) * step
    for x0, y0, x1, y1 in boxes:
        cols = (centres >= x0) & (centres < x1)
        rows = (centres >= y0) & (centres < y1)
        inside = rows.view(-1, 1) & cols.view(1, -1)
        if not inside.any():  # a box smaller than a cell: take the cell that holds its centre
            r = min(grid - 1, max(0, int((y0 + y1) / 2 // step)))
            c = min(grid - 1, max(0, int((x0 + x1) / 2 // step)))
            inside[r, c] = True
        cells |= inside
    return cells


def sample_locations(boxes_per_image: Sequence[Sequence[Box]], image_size: int, grid: int, seed: int = 0,
                     negatives_per_positive: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Return (M, 3) int64 (image, row, column) positions and (M,) 0/1 labels: cells in boxes, and random other cells of the same images."""
    rng = np.random.default_rng(seed)
    where, labels = [], []
    for i, boxes in enumerate(boxes_per_image):
        if not boxes:
            continue  # an image without the object gives neither positives nor negatives (the paper's "same images")
        cells = box_cells(boxes, image_size, grid).numpy()
        pos = np.argwhere(cells)
        neg_all = np.argwhere(~cells)
        n_neg = min(len(neg_all), max(1, round(len(pos) * negatives_per_positive)))
        neg = neg_all[rng.choice(len(neg_all), n_neg, replace=False)] if n_neg else neg_all[:0]
        for cells_, label in ((pos, 1), (neg, 0)):
            where.append(np.column_stack([np.full(len(cells_), i), cells_]))
            labels.append(np.full(len(cells_), label))
    if not where or not any(labels_.sum() for labels_ in labels):
        raise UserError("no object boxes on any sample: nothing to learn from (draw boxes, use more seeds, or check --object)")
    return np.concatenate(where).astype(np.int64), np.concatenate(labels).astype(np.int64)


def features_at(acts: torch.Tensor, where: np.ndarray) -> np.ndarray:
    """Return (M, C) float32 feature vectors of ``acts`` (N, C, h, w) at positions (image, row, column)."""
    idx = torch.from_numpy(where)
    return acts[idx[:, 0], :, idx[:, 1], idx[:, 2]].numpy().astype(np.float32)


def fit_drop_set(x: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float = 1.0, seed: int = 0) -> dict[str, Any]:
    """Fit the logistic regression; return the maps with a positive weight, all weights and held-out accuracy (5-fold by image)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def model() -> Any:
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000, random_state=seed))

    folds = min(5, len(np.unique(groups)))
    cv = float(cross_val_score(model(), x, y, groups=groups, cv=GroupKFold(folds)).mean()) if folds >= 2 else None
    fitted = model().fit(x, y)
    weights = fitted[-1].coef_[0]
    return {
        "maps": [int(i) for i in np.flatnonzero(weights > 0)],
        "weights": [float(w) for w in weights],
        "train_accuracy": float(fitted.score(x, y)),
        "cv_accuracy": cv,
        "positives": int(y.sum()),
        "negatives": int((1 - y).sum()),
        "C": c,
    }


def strongest_maps(weights: Sequence[float], max_maps: int | None = None) -> list[int]:
    """Return the maps with a positive weight (the paper's drop set), or only the ``max_maps`` largest of them."""
    positive = sorted((i for i, w in enumerate(weights) if w > 0), key=lambda i: -weights[i])
    return sorted(positive[:max_maps] if max_maps is not None else positive)


# ---------------------------------------------------------------------------------------------------
# Boxes: a JSON file of hand-drawn boxes, or the rooms localiser.


def load_boxes_file(path: str | Path) -> tuple[str | None, int | None, dict[int, list[Box]]]:
    """Return (object, image_size, {seed: boxes}) from a boxes JSON file (format in the README)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"boxes file not found: {p}")
    try:
        raw = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read boxes file {p}: not JSON ({exc})") from None
    hint = 'expected {"object": "window", "image_size": 64, "boxes": {"SEED": [[x0, y0, x1, y1], ...], ...}}'
    if not isinstance(raw, dict) or not isinstance(raw.get("boxes"), dict):
        raise UserError(f"boxes file {p} has no 'boxes' mapping: {hint}")
    out: dict[int, list[Box]] = {}
    for key, boxes in raw["boxes"].items():
        try:
            seed = int(key)
            if seed < 0 or not isinstance(boxes, list):
                raise ValueError
            parsed = [tuple(float(v) for v in b) for b in boxes]
            if any(len(b) != 4 or not (b[0] < b[2] and b[1] < b[3]) for b in parsed):
                raise ValueError
        except (TypeError, ValueError):
            raise UserError(f"boxes file {p}: seed {key!r} needs a list of [x0, y0, x1, y1] boxes with x0 < x1 and y0 < y1 "
                            f"(seeds are non-negative whole numbers): {hint}") from None
        out[seed] = parsed  # type: ignore[assignment]
    if not out:
        raise UserError(f"boxes file {p} lists no seeds: {hint}")
    size = raw.get("image_size")
    if size is not None and not isinstance(size, int):
        raise UserError(f"boxes file {p}: image_size must be a whole number")
    return raw.get("object"), size, out


def localiser_boxes(judge: Any, images: torch.Tensor, obj: str) -> list[list[Box]]:
    """Return per image the boxes of ``obj`` that the judge's rooms localiser finds."""
    if judge.localiser is None:
        raise UserError(f"judge {judge.path} has no localiser (only rooms judges have one): pass --boxes FILE with hand-drawn boxes")
    if obj not in judge.localiser.objects:
        raise UserError(f"the localiser finds {', '.join(judge.localiser.objects)}, not {obj!r}: pick one of those or pass --boxes FILE")
    return [[tuple(float(v) for v in b) for b in found.get(obj, [])] for found in judge.localiser.boxes(images)]  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------------
# The drop file (what `dcgan sample --drop` reads).


def save_drop_file(path: str | Path, *, checkpoint: str, digest: str, layer: int, layer_name: str, channels: int,
                   maps: Sequence[int], obj: str, renorm: Renorm | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write the dropped-map set as JSON; return its path."""
    record = {"format": DROP_FORMAT, "version": DROP_VERSION, "checkpoint": checkpoint, "digest": digest, "layer": layer,
              "layer_name": layer_name, "channels": channels, "object": obj, "count": len(maps), "maps": [int(m) for m in maps],
              **(extra or {}), "renorm": renorm}
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(record, indent=2) + "\n")
    return p


def load_drop_file(path: str | Path, g: Generator, digest: str | None = None) -> tuple[int, list[int], dict[str, Any]]:
    """Return (layer, maps, record) of a drop file, checked against ``g`` (and the checkpoint ``digest`` when given)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"drop file not found: {p} (write one with 'dcgan forget CKPT --object window ...')")
    try:
        record = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"cannot read drop file {p}: not JSON") from None
    if not isinstance(record, dict) or record.get("format") != DROP_FORMAT:
        raise UserError(f"{p} is not a drop file (no '{DROP_FORMAT}' tag): use the dropped.json that 'dcgan forget' writes")
    if record.get("version", 0) > DROP_VERSION:
        raise UserError(f"{p} was written by a newer dcgan (drop format {record['version']}); upgrade dcgan")
    if digest is not None and record.get("digest") != digest:
        raise UserError(f"drop file {p} was made for another checkpoint ({record.get('checkpoint')}): "
                        "feature maps differ between checkpoints, so run 'dcgan forget' on this one")
    try:
        layer, maps = int(record["layer"]), [int(m) for m in record["maps"]]
    except (KeyError, TypeError, ValueError):
        raise UserError(f"drop file {p} is damaged: it needs 'layer' (a number) and 'maps' (a list of numbers)") from None
    renorm = record.get("renorm")
    if renorm is not None and not (isinstance(renorm, dict) and all(
            isinstance(v, dict) and isinstance(v.get("mean"), list) and isinstance(v.get("var"), list) for v in renorm.values())):
        raise UserError(f"drop file {p} is damaged: 'renorm' must map layer names to {{'mean': [...], 'var': [...]}}")
    index = resolve_layer(g, layer)
    channels = layer_channels(g, index)
    if record.get("channels") not in (None, channels) or any(not 0 <= m < channels for m in maps):
        raise UserError(f"drop file {p} does not fit this generator: layer {layer_names(g)[index]} has {channels} maps")
    return layer, maps, record


# ---------------------------------------------------------------------------------------------------
# Measuring with a judge.


ABSENT = ("0", "none", "no")  # a factor whose first value is one of these counts presence (window, bed, rug)


def judged(judge: Any, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Return {factor: (N,) most likely value index} the judge gives ``images``."""
    return judge.labels(judge.predict(images))


def compare(judge: Any, before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Return per factor: share present before/after (presence factors), share of samples whose value is unchanged, histograms."""
    names = judge.value_names
    out: dict[str, Any] = {}
    for f in before:
        entry: dict[str, Any] = {"kept": float((before[f] == after[f]).float().mean())}
        if names[f][0] in ABSENT:
            entry["present_before"] = float((before[f] != 0).float().mean())
            entry["present_after"] = float((after[f] != 0).float().mean())
        for key, labels in (("histogram_before", before[f]), ("histogram_after", after[f])):
            entry[key] = dict(zip(names[f], torch.bincount(labels, minlength=len(names[f])).tolist(), strict=True))
        out[f] = entry
    return out


def mean_of(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return the average of several ``compare`` outputs (numbers only; histograms summed)."""
    out: dict[str, Any] = {}
    for f in entries[0]:
        out[f] = {}
        for key, value in entries[0][f].items():
            if isinstance(value, dict):
                out[f][key] = {k: sum(e[f][key][k] for e in entries) for k in value}
            else:
                out[f][key] = float(np.mean([e[f][key] for e in entries]))
    return out


def random_maps(channels: int, count: int, seed: int) -> list[int]:
    """Return ``count`` distinct feature maps out of ``channels``, drawn with ``seed`` (the control's drop set)."""
    rng = np.random.default_rng(seed)
    return sorted(int(m) for m in rng.choice(channels, size=min(count, channels), replace=False))


def save_figure(path: str | Path, rows: list[tuple[str, torch.Tensor]], seeds: Sequence[int]) -> Path:
    """Save the paper-style figure: one row of the same seeds per setting (e.g. original / maps dropped / control)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dcgan.images import grid_tensor

    images = torch.cat([r for _, r in rows])
    grid = grid_tensor(images, nrow=len(seeds), padding=2)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.0 * len(seeds)) + 1.5, 1.0 * len(rows) + 0.6))
    ax.imshow(grid.permute(1, 2, 0).numpy().squeeze(), cmap="gray" if grid.shape[0] == 1 else None, interpolation="nearest")
    cell = grid.shape[1] / len(rows)
    ax.set_yticks([cell * (i + 0.5) for i in range(len(rows))], [name for name, _ in rows])
    width = grid.shape[2] / len(seeds)
    ax.set_xticks([width * (i + 0.5) for i in range(len(seeds))], [str(s) for s in seeds], fontsize=7)
    ax.set_xlabel("seed")
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p
