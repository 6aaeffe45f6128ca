"""What the discriminator's units respond to: guided back-propagation (PAPER.md section 5, paper section 6.2).

For a unit (one feature map) of a D layer, its response to an image is the map's maximum over space.
Each unit is shown on the real images where it responds most: guided back-propagation (Springenberg
et al., 2015) of that single activation (the strongest position, everything else zeroed) down to the
pixels. Guided back-propagation passes a gradient backwards through a (Leaky)ReLU only where the
gradient is positive *and* the forward input was positive, which keeps the parts of the image that
excite the unit and drops what inhibits it.

Implementation: a custom autograd function replaces every ReLU / LeakyReLU of a deep copy of D (the
models use in-place activations, and the copy leaves the caller's model untouched). PyTorch has no
guided back-propagation of its own (Captum has one, but it is another dependency for ~15 lines).

On rooms, a *pointing game* measures whether units look at objects: for each unit and each of its
top images, is the saliency peak (the pixel with the largest summed absolute gradient) inside a window
or bed mask? The same for a randomly initialised D of the same architecture, and the chance rate (the
share of those images' pixels inside the masks).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dcgan.api import Model
from dcgan.data.base import to_unit_range
from dcgan.errors import UserError
from dcgan.models import Discriminator, build_models, eval_mode
from dcgan.report import Result
from dcgan.settings.visualize import VisualizeSettings

POINTING_OBJECTS = ("window", "bed")
MASK_THRESHOLD = 0.5  # a pixel belongs to an object when its mask coverage is above this


class _GuidedLeakyReLU(torch.autograd.Function):
    """LeakyReLU forward; backward passes only positive gradients where the forward input was positive."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, slope: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return F.leaky_relu(x, slope)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad.clamp(min=0) * (x > 0).to(grad.dtype), None


class GuidedActivation(nn.Module):
    """A ReLU (slope 0) or LeakyReLU whose backward pass is guided back-propagation's; never in place."""

    def __init__(self, negative_slope: float = 0.0) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _GuidedLeakyReLU.apply(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


def guided_copy(model: nn.Module) -> nn.Module:
    """Return a deep copy of ``model`` in eval mode with every ReLU / LeakyReLU made guided (the original is untouched)."""
    guided = copy.deepcopy(model)
    for parent in list(guided.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(parent, name, GuidedActivation(0.0))
            elif isinstance(child, nn.LeakyReLU):
                setattr(parent, name, GuidedActivation(child.negative_slope))
    for p in guided.parameters():
        p.requires_grad_(False)
    return guided.eval()


def check_layer(d: Discriminator, layer: int) -> int:
    """Return ``layer`` as a non-negative index into D's conv blocks, or raise a UserError."""
    n = len(d.blocks)
    if not -n <= layer < n:
        raise UserError(f"--layer {layer} does not exist: this D has {n} conv layers (0..{n - 1}, or -1 for the last)")
    return layer % n


def layer_output(d: nn.Module, x: torch.Tensor, layer: int) -> torch.Tensor:
    """Return the activation of D's conv block ``layer`` (B, C, h, w) for [-1, 1] images ``x``."""
    for block in d.blocks[: layer + 1]:
        x = block(x)
    return x


@torch.no_grad()
def unit_responses(d: Discriminator, images: torch.Tensor, layer: int, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (N, C) each unit's strongest response per uint8 image (max over space) and (N, C) its flat position."""
    device = next(d.parameters()).device
    values, where = [], []
    with eval_mode(d):
        for start in range(0, len(images), batch_size):
            act = layer_output(d, to_unit_range(images[start : start + batch_size].to(device)), layer).float()
            v, i = act.flatten(2).max(2)
            values.append(v.cpu())
            where.append(i.cpu())
    return torch.cat(values), torch.cat(where)


def top_images(responses: torch.Tensor, units: list[int], k: int) -> torch.Tensor:
    """Return (len(units), k) indices of the images where each unit responds most, strongest first."""
    if k > len(responses):
        raise UserError(f"--top-k {k} is more than the {len(responses)} images searched: lower it or use more images")
    return responses[:, units].topk(k, dim=0).indices.T.contiguous()


def guided_backprop(guided_d: nn.Module, images: torch.Tensor, layer: int, units: torch.Tensor, positions: torch.Tensor,
                    batch_size: int = 128) -> torch.Tensor:
    """Return (B, C, H, W) float32 input gradients of activation (unit, flat position) of ``layer``, one per uint8 image.

    Pass a ``guided_copy`` for guided back-propagation; any other D (in eval mode) gives the plain gradient.
    Images are independent: BatchNorm must use running statistics (eval mode), as ``guided_copy`` sets.
    """
    device = next(guided_d.parameters()).device
    out = []
    for start in range(0, len(images), batch_size):
        sl = slice(start, start + batch_size)
        x = to_unit_range(images[sl].to(device)).float().requires_grad_(True)
        with torch.enable_grad():
            act = layer_output(guided_d, x, layer).flatten(2)  # (B, C, h*w)
            rows = torch.arange(len(x), device=device)
            picked = act[rows, units[sl].to(device), positions[sl].to(device)]
            (grad,) = torch.autograd.grad(picked.sum(), x)
        out.append(grad.detach().float().cpu())
    return torch.cat(out) if out else torch.zeros(0, *images.shape[1:])


def saliency_peaks(grads: torch.Tensor) -> torch.Tensor:
    """Return (B, 2) (row, column) of each gradient's largest summed absolute value over colour channels."""
    mag = grads.abs().sum(1).flatten(1)  # (B, H*W)
    flat = mag.argmax(1)
    width = grads.shape[-1]
    return torch.stack([flat // width, flat % width], 1)


@dataclass
class UnitViews:
    """Guided back-propagation of units on their top images, for one D."""

    units: list[int]
    image_index: torch.Tensor  # (U, k) indices into the searched images, strongest first
    response: torch.Tensor  # (U, k) the unit's response there
    peaks: torch.Tensor  # (U, k, 2) (row, column) of each saliency peak
    grads: torch.Tensor | None  # (U, k, C, H, W) float32 input gradients (None when not kept)


def unit_views(d: Discriminator, images: torch.Tensor, layer: int, units: list[int], k: int,
               responses: tuple[torch.Tensor, torch.Tensor] | None = None, batch_size: int = 128,
               keep_grads: bool = True) -> UnitViews:
    """Return guided back-propagation of each unit in ``units`` on the ``k`` images where it responds most."""
    values, where = responses if responses is not None else unit_responses(d, images, layer, batch_size)
    channels = values.shape[1]
    bad = [u for u in units if not 0 <= u < channels]
    if bad:
        raise UserError(f"units {bad} do not exist: layer {layer} has {channels} feature maps (0..{channels - 1})")
    index = top_images(values, units, k)  # (U, k)
    unit_of = torch.tensor(units, dtype=torch.long).view(-1, 1).expand_as(index)
    flat_index, flat_unit = index.reshape(-1), unit_of.reshape(-1)
    guided = guided_copy(d)
    peaks, kept = [], []
    for start in range(0, len(flat_index), batch_size):  # peaks only, unless asked: grads of every unit are large
        sl = slice(start, start + batch_size)
        g = guided_backprop(guided, images[flat_index[sl]], layer, flat_unit[sl], where[flat_index[sl], flat_unit[sl]], batch_size)
        peaks.append(saliency_peaks(g))
        if keep_grads:
            kept.append(g)
    grads = torch.cat(kept).view(*index.shape, *images.shape[1:]) if keep_grads else None
    return UnitViews(list(units), index, values[flat_index, flat_unit].view(index.shape),
                     torch.cat(peaks).view(*index.shape, 2), grads)


def edge_peaks(images: torch.Tensor) -> torch.Tensor:
    """Return (N, 2) (row, column) of each uint8 image's strongest edge (summed absolute horizontal + vertical difference)."""
    x = images.float()
    mag = torch.zeros(x.shape[0], *x.shape[2:])
    mag[:, :, 1:] += (x[..., 1:] - x[..., :-1]).abs().sum(1)
    mag[:, 1:, :] += (x[..., 1:, :] - x[..., :-1, :]).abs().sum(1)
    flat = mag.flatten(1).argmax(1)
    return torch.stack([flat // x.shape[-1], flat % x.shape[-1]], 1)


def pointing_game(views: UnitViews, masks: dict[str, torch.Tensor], images: torch.Tensor | None = None) -> dict[str, float | int]:
    """Return how often each view's saliency peak lies in an object mask, against the chance rate (mask area share).

    ``masks``: {object: (N, H, W) coverage in [0, 1]} of the searched images (the same indexing as the views).
    With ``images``, also the rate of a saliency-free baseline: each image's own strongest edge, on the same trials
    (guided back-propagation is known to behave much like an edge detector, whatever the weights).
    """
    flat_index = views.image_index.reshape(-1)
    peaks = views.peaks.reshape(-1, 2)
    union = None
    out: dict[str, float | int] = {"trials": len(flat_index), "units": len(views.units)}
    for name, m in masks.items():
        inside = m[flat_index] > MASK_THRESHOLD  # (T, H, W)
        union = inside if union is None else union | inside
        out[f"{name}_hit_rate"] = float(inside[torch.arange(len(peaks)), peaks[:, 0], peaks[:, 1]].float().mean())
        out[f"{name}_chance"] = float(inside.float().mean())
    assert union is not None
    hits = union[torch.arange(len(peaks)), peaks[:, 0], peaks[:, 1]]
    out["hits"] = int(hits.sum())
    out["hit_rate"] = float(hits.float().mean())
    out["chance"] = float(union.float().mean())  # a uniformly random pixel of the same images
    if images is not None:
        edges = edge_peaks(images[flat_index])
        out["edge_hit_rate"] = float(union[torch.arange(len(edges)), edges[:, 0], edges[:, 1]].float().mean())
    # Units whose top images mostly point at an object: a unit-level view of the same numbers.
    per_unit = hits.view(views.image_index.shape).float().mean(1)
    out["units_mostly_on_objects"] = int((per_unit > 0.5).sum())
    return out


# ---------------------------------------------------------------------------------------------------
# Data and the whole analysis (what `dcgan visualize` runs).


def search_images(spec: str, data_root: str | None, image_size: int, channels: int, count: int) -> tuple[torch.Tensor, dict[str, torch.Tensor] | None, str]:
    """Return (uint8 images, {object: (N, H, W) masks} for rooms else None, description) of ``count`` images of ``spec``."""
    from dcgan.data import split_spec

    source, split = split_spec(spec)
    if source == "rooms" or source.startswith("rooms:"):
        from dcgan.data.base import convert_channels
        from dcgan.data.rooms import parse_rooms_spec, render_rooms, split_indices

        opts = parse_rooms_spec(source)
        rooms = render_rooms(split_indices(split, opts["start"], count), image_size, opts["seed"], masks=True)
        masks = {name: rooms.object_mask(name) for name in POINTING_OBJECTS}
        desc = f"rooms (seed {opts['seed']}, {split}, {count} images from index {opts['start']}, with object masks)"
        return convert_channels(rooms.images, channels), masks, desc
    from dcgan.config import DataConfig
    from dcgan.data import load_data

    data = load_data(DataConfig(spec=spec, data_root=data_root, image_size=image_size, channels=channels, num_images=count))
    return data.images, None, data.description


@dataclass
class VisualizeResult(Result):
    """The searched images, per D (random, trained) the chosen units' views and top images, and the pointing game."""

    tool = "visualize"
    layer: int = 0  # non-negative index into D's conv blocks
    data: str = ""  # the data spec searched (or a note that the images came from Python)
    data_description: str = ""
    images: torch.Tensor = field(default=None, repr=False)  # uint8 (N, C, H, W): the searched images
    panels: list[tuple[str, UnitViews]] = field(default_factory=list, repr=False)  # (title, views): random D, trained D
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # per D: channels, top_images, responses[, pointing]
    chance_all_images: float | None = None  # share of all searched pixels inside an object mask
    pointing_skipped: str | None = None

    def summary(self) -> dict[str, Any]:
        out = {"data": self.data, "data_description": self.data_description, "images": len(self.images), "layer": self.layer,
               "units": list(self.settings.units), "models": self.models}
        if self.chance_all_images is not None:
            out["chance_all_images"] = self.chance_all_images
        if self.pointing_skipped is not None:
            out["pointing_skipped"] = self.pointing_skipped
        return out

    def lines(self) -> list[str]:
        lines = [f"searched {len(self.images)} images: {self.data_description}"]
        for name, entry in self.models.items():
            p = entry.get("pointing")
            if p:
                lines.append(f"{name} D: saliency peak on a window or bed in {100 * p['hit_rate']:.1f}% of {p['trials']} top responses "
                             f"({p['units']} units x {self.settings.top_k}); chance {100 * p['chance']:.1f}%, "
                             f"the images' strongest edge {100 * p['edge_hit_rate']:.1f}%")
        if self.pointing_skipped:
            lines.append(f"no pointing game: {self.pointing_skipped}")
        return lines


def visualize(model: Model, settings: VisualizeSettings | None = None, *, images: torch.Tensor | None = None,
              masks: dict[str, torch.Tensor] | None = None, **options: Any) -> VisualizeResult:
    """Return guided back-propagation of D's units on their top real images, beside a random D's, and the pointing game.

    The images searched are ``settings.data`` (default: the checkpoint's training data), or the first
    ``settings.num_images`` of ``images`` (uint8, the model's size) when given, with ``masks``
    ({object: (N, H, W) coverage}) for the pointing game. Nothing is written.
    """
    from dcgan.judges import check_images

    s = VisualizeSettings.build(settings, **options)
    trained = model.discriminator
    random_d = build_models(model.config, seed=s.random_seed)[1].to(model.device).eval()
    layer = check_layer(trained, s.layer)
    if images is None:
        data = model.run_config.data
        spec = s.data or data.spec
        images, masks, description = search_images(spec, s.data_root or data.data_root, model.image_size, model.channels, s.num_images)
    else:
        check_images(images, model.image_size, model.channels, "this D")
        images = images[: s.num_images]
        masks = {name: m[: s.num_images] for name, m in masks.items()} if masks else None
        spec, description = "images given", f"{len(images)} images given in Python" + (" with object masks" if masks else "")
    result = VisualizeResult(s, model.describe(), layer, spec, description, images)
    for name, d in (("random", random_d), ("trained", trained)):
        responses = unit_responses(d, images, layer, s.batch_size)
        channels = responses[0].shape[1]
        views = unit_views(d, images, layer, list(s.units), s.top_k, responses, s.batch_size)
        entry: dict[str, Any] = {"channels": channels, "top_images": views.image_index.tolist(),
                                 "responses": [[round(v, 4) for v in row] for row in views.response.tolist()]}
        if masks is not None and s.pointing:
            chosen = list(range(channels)) if s.pointing_units == "all" else list(s.pointing_units)
            every = unit_views(d, images, layer, chosen, s.top_k, responses, s.batch_size, keep_grads=False)
            entry["pointing"] = pointing_game(every, masks, images)
        result.models[name] = entry
        result.panels.append((f"{name} D, layer {layer}", views))
    if masks is not None:
        union = torch.stack([m > MASK_THRESHOLD for m in masks.values()]).any(0)
        result.chance_all_images = float(union.float().mean())
    elif s.pointing:
        result.pointing_skipped = "the pointing game needs rooms data (object masks)"
    return result
