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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dcgan.api import Model
from dcgan.errors import UserError
from dcgan.judges.tasks import real_share
from dcgan.models import Generator
from dcgan.report import Result
from dcgan.seeds import seed_text
from dcgan.settings.forget import ForgetSettings

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


def drop_record(*, checkpoint: str, digest: str, layer: int, layer_name: str, channels: int, maps: Sequence[int], obj: str,
                renorm: Renorm | None = None) -> dict[str, Any]:
    """Return the dropped-map set as the JSON record that ``dcgan sample --drop`` reads (the writer saves it)."""
    return {"format": DROP_FORMAT, "version": DROP_VERSION, "checkpoint": checkpoint, "digest": digest, "layer": layer,
            "layer_name": layer_name, "channels": channels, "object": obj, "count": len(maps), "maps": [int(m) for m in maps],
            "renorm": renorm}


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


Drops = dict[str, tuple[list[int], Renorm | None]]  # "dropped" / "control0" ... -> (maps, renorm statistics)


def measure(judge: Any, model: Model, layer: int, drops: Drops, seeds: Sequence[int], obj: str, batch_size: int = 256) -> dict[str, Any]:
    """Return the judge's comparison of ``seeds`` before / after the drop ``drops['dropped']``, and the random controls' mean."""
    g = model.generator
    z = model.codes(seeds)
    before_images = model.decode(z, batch_size)
    with drop_maps(g, layer, *drops["dropped"]):
        after_images = model.decode(z, batch_size)
    probs = {"before": judge.predict(before_images), "dropped": judge.predict(after_images)}
    before = judge.labels(probs["before"])
    result: dict[str, Any] = {"seeds": seed_text(seeds), "count": len(seeds), "dropped": compare(judge, before, judge.labels(probs["dropped"]))}
    has_pixels = judge.localiser is not None and obj in judge.localiser.objects

    def pixel_share(images: torch.Tensor) -> float:  # share of pixels the localiser finds showing the object
        return float((judge.localiser.masks(images)[obj] > 0.5).float().mean())

    draws, control_pixels, control_confident, control_real = [], [], [], []
    for name, control in drops.items():
        if name == "dropped":
            continue
        with drop_maps(g, layer, *control):
            images = model.decode(z, batch_size)
        control_probs = judge.predict(images)
        draws.append(compare(judge, before, judge.labels(control_probs)))
        control_confident.append(float(judge.confident(control_probs).float().mean()))
        control_real.append(real_share(control_probs))
        if has_pixels:
            control_pixels.append(pixel_share(images))
    if draws:
        result["control"] = mean_of(draws)
        result["control_draws"] = draws
    # Still rooms? The share of samples the judge is confident about on every head, before and after.
    result["confident_share"] = {k: float(judge.confident(p).float().mean()) for k, p in probs.items()}
    if control_confident:
        result["confident_share"]["control"] = float(np.mean(control_confident))
    # Beside it, the share judged like the data (realness > 0.9); None when the judge has no realness net.
    result["real_share"] = None if real_share(probs["before"]) is None else {k: real_share(p) for k, p in probs.items()}
    if result["real_share"] is not None and control_real:
        result["real_share"]["control"] = float(np.mean(control_real))
    if has_pixels:
        result["pixel_share"] = {"before": pixel_share(before_images), "dropped": pixel_share(after_images)}
        if control_pixels:
            result["pixel_share"]["control"] = float(np.mean(control_pixels))
    return result


def measure_lines(m: dict[str, Any], obj: str, count: int, channels: int) -> list[str]:
    """Return the headline numbers of ``measure`` as printed lines."""
    d, c = m["dropped"], m.get("control")

    def pct(x: float) -> str:
        return f"{100 * x:.1f}%"

    lines = []
    ctrl = f"; {count} random maps: {pct(c[obj]['present_after'])}" if c and "present_after" in c[obj] else ""
    if "present_before" in d[obj]:
        lines.append(f"{obj}: {pct(d[obj]['present_before'])} of {m['count']} fresh samples before, {pct(d[obj]['present_after'])} "
                     f"after dropping {count} of {channels} maps{ctrl}")
    px = m.get("pixel_share")
    if px:
        ctl_px = f"; random maps: {100 * px['control']:.2f}%" if "control" in px else ""
        lines.append(f"{obj} pixels (localiser): {100 * px['before']:.2f}% of the image before, {100 * px['dropped']:.2f}% after{ctl_px}")
    sure, real = m["confident_share"], m.get("real_share")
    ctl_sure = f", random maps {pct(sure['control'])}" if "control" in sure else ""
    if real is None:
        like = "realness unknown: the judge has no realness net"
    else:
        like = (f"judged like the data {pct(real['before'])} before, {pct(real['dropped'])} after"
                + (f", random maps {pct(real['control'])}" if "control" in real else ""))
    lines.append(f"judged confidently {pct(sure['before'])} before, {pct(sure['dropped'])} after{ctl_sure}; {like}")
    for f, entry in d.items():
        if f == obj:
            continue
        extra = f", present {pct(entry['present_before'])} -> {pct(entry['present_after'])}" if "present_before" in entry else ""
        ctl = f" (control {pct(c[f]['kept'])})" if c else ""
        lines.append(f"  {f}: same value kept in {pct(entry['kept'])}{ctl}{extra}")
    return lines


# ---------------------------------------------------------------------------------------------------
# The whole tool: boxes -> regression -> drop set -> figure rows -> measurement.


@dataclass
class ForgetResult(Result):
    """The drop set and how it was found, the figure's rows (same seeds, with and without the drop) and the judge's measurement."""

    tool = "forget"
    layer: int = DEFAULT_LAYER  # non-negative index into G.layers()
    layer_name: str = ""
    layer_shape: list[int] = field(default_factory=list)  # (maps, h, w) of that stage
    boxes_source: str = ""
    fit_seeds: list[int] = field(default_factory=list)
    fit_boxes: list[list[Box]] = field(default_factory=list, repr=False)  # per fit seed
    fit: dict[str, Any] = field(default_factory=dict, repr=False)  # fit_drop_set's output
    dropped_maps: list[int] = field(default_factory=list)
    control_maps: list[list[int]] = field(default_factory=list)
    drop: dict[str, Any] = field(default_factory=dict, repr=False)  # the dropped.json record (drop_record)
    figure_seeds: list[int] = field(default_factory=list)
    figure_rows: list[tuple[str, torch.Tensor]] = field(default_factory=list, repr=False)  # (label, uint8 images of figure_seeds)
    measure: dict[str, Any] | None = None  # measure()'s output, with a judge that knows the object
    measure_skipped: str | None = None
    judge: str | None = None

    @property
    def channels(self) -> int:
        return self.layer_shape[0] if self.layer_shape else 0

    def summary(self) -> dict[str, Any]:
        out = {"layer": self.layer, "layer_name": self.layer_name, "layer_shape": self.layer_shape, "channels": self.channels,
               "boxes_source": self.boxes_source, "fit_seeds": self.fit_seeds,
               "samples_with_boxes": sum(1 for b in self.fit_boxes if b), "boxes": sum(map(len, self.fit_boxes)),
               "fit": self.fit, "dropped_maps": self.dropped_maps, "dropped_count": len(self.dropped_maps),
               "control_maps": self.control_maps, "figure_seeds": self.figure_seeds, "judge": self.judge}
        if self.measure is not None:
            out["measure"] = self.measure
        if self.measure_skipped is not None:
            out["measure_skipped"] = self.measure_skipped
        return out

    def lines(self) -> list[str]:
        s, fit = self.settings, self.fit
        with_boxes = sum(1 for b in self.fit_boxes if b)
        cv = fit["cv_accuracy"] if fit["cv_accuracy"] is None else round(fit["cv_accuracy"], 3)
        h = self.layer_shape[-1]
        lines = [f"{sum(map(len, self.fit_boxes))} {s.object} boxes on {with_boxes} of {len(self.fit_seeds)} samples ({self.boxes_source})",
                 f"logistic regression on {self.layer_name} ({self.channels} maps, {h}x{h}): {fit['positives']} positives, "
                 f"{fit['negatives']} negatives, held-out accuracy {cv}; {len(fit['maps'])} maps have a positive weight, "
                 f"{len(self.dropped_maps)} are dropped"]
        if self.measure is not None:
            lines += measure_lines(self.measure, s.object, len(self.dropped_maps), self.channels)
        elif self.measure_skipped is not None:
            lines.append(f"not measured: {self.measure_skipped}")
        return lines


def fitting_boxes(model: Model, settings: ForgetSettings, judge: Any) -> tuple[list[int], list[list[Box]], str]:
    """Return (seeds, boxes per seed, where they came from): the boxes file's seeds, or the localiser on ``settings.seeds``."""
    if settings.boxes is not None:
        obj, size, by_seed = load_boxes_file(settings.boxes)
        if obj is not None and obj != settings.object:
            raise UserError(f"boxes file {settings.boxes} shows {obj!r}, not --object {settings.object!r}")
        if size is not None and size != model.image_size:
            raise UserError(f"boxes file {settings.boxes} was drawn on {size}x{size} images; "
                            f"this G makes {model.image_size}x{model.image_size}")
        seeds = sorted(by_seed)
        return seeds, [by_seed[s] for s in seeds], f"file {settings.boxes}"
    seeds = list(settings.seeds)
    boxes = localiser_boxes(judge, model.sample(seeds, settings.batch_size), settings.object)
    return seeds, boxes, f"localiser of judge {judge_name(judge)}"


def judge_name(judge: Any) -> str:
    """Return how results name a judge: the path it was loaded from."""
    return str(getattr(judge, "source", None) or getattr(judge, "path", None) or "judge")


def forget(model: Model, settings: ForgetSettings | None = None, *, judge: Any = None, **options: Any) -> ForgetResult:
    """Find and drop the feature maps of G that draw ``settings.object``; return the drop set, the figure rows and the measurement.

    Boxes come from ``settings.boxes`` (a JSON file) or, without one, from ``judge``'s localiser on ``settings.seeds``;
    a judge that knows the object also measures the effect on ``settings.eval_seeds``. G is left as it was; nothing is written.
    """
    s = ForgetSettings.build(settings, **options)
    if s.boxes is None and judge is None:
        raise UserError("give --boxes FILE (hand-drawn boxes) or --judge PATH (a rooms judge whose localiser finds them)")
    g = model.generator
    layer = resolve_layer(g, DEFAULT_LAYER if s.layer is None else s.layer)
    name = layer_names(g)[layer]
    seeds, boxes, source = fitting_boxes(model, s, judge)

    # The logistic regression on the layer's feature vectors; the maps with a positive weight are dropped.
    acts = layer_activations(g, model.codes(seeds), layer, s.batch_size)
    where, y = sample_locations(boxes, model.image_size, acts.shape[-1], s.seed, s.negatives)
    fit = fit_drop_set(features_at(acts, where), y, where[:, 0], s.c, s.seed)
    maps, channels = strongest_maps(fit["weights"], s.max_maps), acts.shape[1]
    controls = [random_maps(channels, len(maps), s.seed + 1 + i) for i in range(s.control_draws)]
    renorm_z = model.codes(RENORM_SEEDS)

    def with_stats(dropped: list[int]) -> tuple[list[int], Renorm | None]:
        return dropped, renorm_stats(g, layer, dropped, renorm_z) if s.renorm else None

    drops: Drops = {"dropped": with_stats(maps), **{f"control{i}": with_stats(c) for i, c in enumerate(controls)}}
    result = ForgetResult(s, model.describe(), layer, name, list(acts.shape[1:]), source, seeds, boxes, fit, maps, controls,
                          judge=judge_name(judge) if judge is not None else None)
    result.drop = drop_record(checkpoint=str(model.path.resolve()), digest=model.payload["digest"], layer=layer, layer_name=name,
                              channels=channels, maps=maps, obj=s.object, renorm=drops["dropped"][1])

    # The figure: the same seeds without and with the dropped maps (and one random control).
    with_object = [seed for seed, b in zip(seeds, boxes, strict=True) if b] or seeds
    result.figure_seeds = with_object[: s.figure_count]
    z = model.codes(result.figure_seeds)
    result.figure_rows = [("original", model.decode(z, s.batch_size))]
    with drop_maps(g, layer, *drops["dropped"]):
        result.figure_rows.append((f"{len(maps)} maps dropped", model.decode(z, s.batch_size)))
    if controls:
        with drop_maps(g, layer, *drops["control0"]):
            result.figure_rows.append((f"{len(maps)} random maps", model.decode(z, s.batch_size)))

    # The measurement on fresh seeds, with the judge.
    if judge is not None:
        if s.object not in judge.value_names:
            result.measure_skipped = f"the judge has no {s.object!r} factor"
        else:
            result.measure = measure(judge, model, layer, drops, s.eval_seeds, s.object, s.batch_size)
    return result
