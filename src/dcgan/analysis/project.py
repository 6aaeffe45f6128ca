"""Projection: find for each real image a code z whose G(z) reconstructs it, so latent tools work on photos.

The search: Adam on z from ``restarts`` starts per image (restart r starts at the code of seed
``seed + r``, the same for every image, so a projection never depends on the other images of its batch
and the same seed gives the same code), all images of a batch and all their restarts optimised at once,
G and D in eval mode (BatchNorm on running statistics: each row is independent of the others). The
learning rate decays from ``lr`` to 0 on a cosine. For every row the lowest loss seen is kept, and per
image the best restart. Gradients are taken with ``torch.autograd.grad`` for z alone, so no weight of G
or D ever receives a gradient, and nothing changes G or D.

The loss is a squared Euclidean distance in one embedding phi(x) of an image x in [-1, 1]:

    loss(x, y) = pixel_weight * mean((x - y)^2)
               + perceptual_weight * mean over D's conv blocks l of mean over positions of |u_l(x) - u_l(y)|^2

where u_l is block l's activation with each position's channel vector scaled to unit length (the
normalisation LPIPS uses, here in the checkpoint's own D, which the paper shows is a good feature
extractor and which needs no download). Written as one embedding, the same distance scores the baseline
(the nearest of ``baseline`` random samples) exactly as it scores the projection. ``perceptual='lpips'``
uses LPIPS (AlexNet; the perceptual term is then LPIPS itself, summed over its layers as it is defined)
instead of D, only when the ``lpips`` package and the AlexNet weights are installed: nothing is downloaded.

Keeping z where the prior puts mass (the choice, and why): rather than a penalty, whose weight trades off
against the image loss and still lets z leave the prior's support, z is projected back after every Adam
step. For uniform z that is clamping to [-1, 1] (G was trained on the whole cube). For normal z it is the
shell of radii [r_lo, r_hi] holding ``prior_mass`` of the prior (chi quantiles with z_dim degrees of
freedom; [7.74, 12.38] for z 100 at 0.999): Gaussian codes concentrate there, near sqrt(z_dim), and a
shell rather than the sphere |z| = sqrt(z_dim) leaves every typical code reachable (the norm of a random
code varies by about 0.7, so an image that G made from a code of norm 9.4 can be recovered exactly).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from dcgan.analysis.common import proportion
from dcgan.api import Model
from dcgan.data.base import to_unit_range
from dcgan.errors import UserError
from dcgan.models import eval_mode
from dcgan.report import Result
from dcgan.settings.project import ProjectSettings

EPS = 1e-8
SPEC_DEFAULT_COUNT = 64  # images of a data SPEC projected when --num-images is not given


# ---------------------------------------------------------------------------------------------------
# Reading the images, fitted exactly as training data is.


@dataclass
class Targets:
    """The images to project: uint8 (N, C, S, S) at the model's size and channels, a name each, true labels if known."""

    images: torch.Tensor
    names: list[str]
    labels: dict[str, torch.Tensor] = field(default_factory=dict)
    label_names: dict[str, list[str]] = field(default_factory=dict)
    source: str = ""


def _is_spec(text: str) -> bool:
    from dcgan.data import split_spec
    from dcgan.data.named import is_named

    source, _ = split_spec(text)
    return source in ("rooms", "fake") or source.startswith("rooms:") or source.lower().endswith(".npz") or is_named(source)


def read_targets(given: Sequence[str], model: Model, num_images: int | None = None, start: int = 0,
                 data_root: str | None = None) -> Targets:
    """Return the images ``given`` names (image files, a folder, or one data SPEC), fitted as the model's training data was.

    Files and folders are decoded with the training loader's own ``fit_pil`` (centre crop to square, bicubic
    resize, grey or RGB); a SPEC is loaded with ``load_data`` at the model's size and channels.
    """
    from dcgan.data.folder import EXTENSIONS, decode_image, list_images

    size, channels = model.image_size, model.channels
    if len(given) == 1 and not Path(given[0]).expanduser().exists() and _is_spec(given[0]):
        return _read_spec(given[0], model, num_images, start, data_root)
    files: list[tuple[Path, str]] = []
    for item in given:
        path = Path(item).expanduser()
        if path.is_dir():
            found = list_images(path)
            if not found:
                raise UserError(f"no images in {path}: expected {', '.join(sorted(EXTENSIONS))} files (searched recursively)")
            files.extend((f, str(f.relative_to(path))) for f in found)
        elif path.is_file():
            if path.suffix.lower() == ".npz" and len(given) == 1:
                return _read_spec(item, model, num_images, start, data_root)
            files.append((path, path.name))
        else:
            raise UserError(f"image not found: {path} (give image files, a folder of images, or a data SPEC such as rooms:test)")
    if any(Path(g).expanduser().is_dir() for g in given) or num_images is not None or start:
        files = files[start : start + num_images if num_images is not None else None]
    if not files:
        raise UserError(f"no images left after --start {start}: {', '.join(given)} holds fewer")
    arrays = []
    for path, _ in files:
        arr = decode_image(path, size, channels)
        if arr is None:
            raise UserError(f"cannot read image {path}: not an image, or a corrupt file")
        arrays.append(torch.tensor(arr))  # a copy: the decoded array is read-only
    images = torch.stack(arrays)
    check_fitted(images, model, ", ".join(given))
    return Targets(images, [n for _, n in files], source=", ".join(given))


def _read_spec(spec: str, model: Model, num_images: int | None, start: int, data_root: str | None) -> Targets:
    from dcgan.config import DataConfig
    from dcgan.data import load_data, split_spec

    count = num_images or SPEC_DEFAULT_COUNT
    source, split = split_spec(spec)
    if source == "rooms" or source.startswith("rooms:"):  # rooms are rendered from their index: --start moves the spec's start
        from dcgan.data.rooms import parse_rooms_spec

        opts = parse_rooms_spec(source)
        spec = f"rooms:seed={opts['seed']},start={opts['start'] + start}:{split}"
        data = load_data(DataConfig(spec=spec, image_size=model.image_size, channels=model.channels, num_images=count))
        offset = opts["start"] + start
    else:
        data = load_data(DataConfig(spec=spec, image_size=model.image_size, channels=model.channels,
                                    num_images=start + count, data_root=data_root))
        if len(data) <= start:
            raise UserError(f"{spec} holds {len(data)} images: --start {start} is past the end")
        data = data.subset(slice(start, start + count))
        offset = start
    images = torch.as_tensor(data.images).contiguous()
    check_fitted(images, model, spec)
    names = [f"{spec}#{offset + i}" for i in range(len(images))]
    return Targets(images, names, dict(data.labels), dict(data.label_names), data.description or spec)


def check_fitted(images: torch.Tensor, model: Model, what: str) -> None:
    """Refuse images that, after fitting, still do not have the model's shape (e.g. an .npz of 4-channel images)."""
    want = (model.channels, model.image_size, model.image_size)
    if images.dtype != torch.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != want:
        raise UserError(f"{what}: after fitting the images are {tuple(images.shape[1:])} but this checkpoint makes "
                        f"{want[0]}-channel {want[1]}x{want[2]} images: give images with 1 or 3 channels")


# ---------------------------------------------------------------------------------------------------
# The distance, as an embedding, and the prior constraint.


class Embedding:
    """phi(x) of images in [-1, 1]: loss(x, y) = |phi(x) - phi(y)|^2 (see the module docstring); gradients flow."""

    def __init__(self, d: torch.nn.Module | None, pixel_weight: float, perceptual_weight: float, kind: str = "dfeat",
                 lpips_net: Any = None) -> None:
        self.d, self.kind, self.lpips_net = d, kind, lpips_net
        self.pixel_weight = pixel_weight
        self.perceptual_weight = perceptual_weight if kind != "none" else 0.0

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the perceptual layers of x: (B, C, H, W) each, channel vectors of unit length (LPIPS: times sqrt of its weights)."""
        if self.kind == "lpips":
            return lpips_layers(self.lpips_net, x)
        return [f.float() / (f.float().norm(dim=1, keepdim=True) + EPS) for f in self.d.features(x)]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        parts = []
        if self.pixel_weight > 0:
            parts.append(x.flatten(1) * math.sqrt(self.pixel_weight / x[0].numel()))
        if self.perceptual_weight > 0:
            feats = self.layers(x)
            per_layer = len(feats) if self.kind == "dfeat" else 1  # D's blocks are averaged; LPIPS sums its layers, as it is defined
            for u in feats:  # each position weighs 1 / (H W): a spatial mean
                parts.append(u.flatten(1) * math.sqrt(self.perceptual_weight / (per_layer * u.shape[-1] * u.shape[-2])))
        return torch.cat(parts, 1)


def lpips_layers(net: Any, x: torch.Tensor) -> list[torch.Tensor]:
    """Return LPIPS's AlexNet layers of x in [-1, 1] (upsampled to at least 64 px), each scaled by sqrt of LPIPS's learned weights."""
    if x.shape[-1] < 64:
        x = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False)
    feats = net.net.forward(net.scaling_layer(x))
    out = []
    for f, lin in zip(feats, net.lins, strict=False):
        w = lin.model[-1].weight.detach().clamp_min(0).view(1, -1, 1, 1)  # LPIPS's per-channel weights (1x1 conv)
        u = f / (f.norm(dim=1, keepdim=True) + EPS)
        out.append(u * w.sqrt())  # |sqrt(w) (u - v)|^2 = sum_c w_c (u_c - v_c)^2, LPIPS's form
    return out


def load_lpips(device: torch.device) -> Any:
    """Return the LPIPS (AlexNet) network, refusing (rather than downloading) when its weights are not installed."""
    try:
        import lpips
    except ImportError:
        raise UserError("--perceptual lpips needs the lpips package (pip install 'dcgan[lpips]') and the AlexNet weights "
                        "installed; or use --perceptual dfeat (the checkpoint's own D, no download)") from None
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    if not any(hub.glob("alexnet-*.pth")):
        raise UserError(f"--perceptual lpips needs torchvision's AlexNet weights in {hub} (alexnet-owt-*.pth), which this toolkit "
                        "never downloads: copy them there, or use --perceptual dfeat (the checkpoint's own D, no download)")
    net = lpips.LPIPS(net="alex", verbose=False).to(device).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def embedding_for(model: Model, settings: ProjectSettings) -> Embedding:
    """Return the embedding the settings' loss is the squared distance in."""
    net = load_lpips(model.device) if settings.perceptual == "lpips" else None
    d = model.discriminator if settings.perceptual == "dfeat" else None
    return Embedding(d, settings.pixel_weight, settings.perceptual_weight, settings.perceptual, net)


def norm_shell(z_dim: int, mass: float) -> tuple[float, float]:
    """Return the radii [r_lo, r_hi] between which |z| of N(0, I_z_dim) falls with probability ``mass`` (chi quantiles)."""
    from scipy.stats import chi

    return float(chi.ppf((1 - mass) / 2, z_dim)), float(chi.ppf((1 + mass) / 2, z_dim))


def constrain(z: torch.Tensor, z_dist: str, shell: tuple[float, float] | None) -> torch.Tensor:
    """Return z moved (in place) to where the prior puts mass: clamped to [-1, 1] (uniform) or radially into the shell (normal)."""
    if z_dist == "uniform":
        return z.clamp_(-1.0, 1.0)
    lo, hi = shell
    norm = z.norm(dim=1, keepdim=True).clamp_min(EPS)
    return z.mul_(norm.clamp(lo, hi) / norm)


def prior_check(z: torch.Tensor, z_dist: str, shell: tuple[float, float] | None) -> dict[str, Any]:
    """Return how the codes sit in the prior: norms (normal z) or the share of coordinates outside [-1, 1] (uniform z)."""
    norms = z.norm(dim=1)
    out: dict[str, Any] = {"norm_min": float(norms.min()), "norm_mean": float(norms.mean()), "norm_max": float(norms.max()),
                           "typical_norm": math.sqrt(z.shape[1]) if z_dist == "normal" else math.sqrt(z.shape[1] / 3)}
    if z_dist == "uniform":
        out["outside_cube"] = float((z.abs() > 1).float().mean())
    else:
        out["shell"] = list(shell)
    return out


# ---------------------------------------------------------------------------------------------------
# The search.


def fit_codes(generator: torch.nn.Module, embed: Embedding, targets: torch.Tensor, starts: torch.Tensor, steps: int, lr: float,
              z_dist: str, shell: tuple[float, float] | None, on_step: Any = None) -> dict[str, torch.Tensor]:
    """Return the best code per target (targets (B, C, S, S) in [-1, 1]; starts (R, z_dim)) and its loss.

    Returns {'codes' (B, z_dim), 'losses' (B,), 'restart' (B,) index of the best start, 'start_losses' (B, R) loss of each start,
    'restart_losses' (B, R) best loss of each restart, 'curve' (steps,) mean over images of their lowest loss so far}.
    """
    b, r = len(targets), len(starts)
    device = targets.device
    with torch.no_grad():
        goal = embed(targets).unsqueeze(1)  # (B, 1, F)
    z = constrain(starts.to(device).repeat(b, 1), z_dist, shell).requires_grad_(True)  # row i * R + k: image i, start k
    opt = torch.optim.Adam([z], lr=lr)
    best_loss = torch.full((b * r,), math.inf, device=device)
    best_z = z.detach().clone()
    curve, start_losses = [], None
    for t in range(steps + 1):
        rows = ((embed(generator(z)).view(b, r, -1) - goal) ** 2).sum(-1).flatten()  # (B * R,)
        with torch.no_grad():
            better = rows < best_loss
            best_loss = torch.where(better, rows, best_loss)
            best_z[better] = z[better]
            curve.append(float(best_loss.view(b, r).min(1).values.mean()))
            if start_losses is None:
                start_losses = rows.detach().view(b, r).clone()
        if t == steps:  # the last evaluation scores the final codes; no step after it
            break
        (grad,) = torch.autograd.grad(rows.sum(), z)  # z alone: G's and D's weights get no gradient
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * t / steps))
        z.grad = grad
        opt.step()
        with torch.no_grad():
            constrain(z, z_dist, shell)
        if on_step is not None:
            on_step()
    per = best_loss.view(b, r)
    loss, restart = per.min(1)
    codes = best_z.view(b, r, -1)[torch.arange(b, device=device), restart]
    return {"codes": codes.cpu(), "losses": loss.cpu(), "restart": restart.cpu(), "start_losses": start_losses.cpu(),
            "restart_losses": per.cpu(), "curve": torch.tensor(curve[1:])}


@torch.no_grad()
def embed_all(generator: torch.nn.Module | None, embed: Embedding, images_or_codes: torch.Tensor, device: torch.device,
              batch_size: int = 256) -> torch.Tensor:
    """Return phi of uint8 images (generator None) or of G(codes), in batches, on the CPU."""
    out = []
    for s in range(0, len(images_or_codes), batch_size):
        chunk = images_or_codes[s : s + batch_size].to(device)
        x = generator(chunk) if generator is not None else to_unit_range(chunk)
        out.append(embed(x).cpu())
    return torch.cat(out)


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return (len(a), len(b)) squared Euclidean distances (float64 accumulation: no negative round-off)."""
    return torch.cdist(a.double(), b.double()).pow(2).float()


def judge_matches(judge: Any, images: torch.Tensor, labels: dict[str, torch.Tensor], label_names: dict[str, list[str]]) -> dict[str, Any]:
    """Return the share of images whose judged value (argmax) equals the true label, per factor and for every factor at once."""
    probs = judge.predict(images)
    names = judge.value_names
    factors = [f for f in labels if f in probs and f in names]
    if not factors:
        raise UserError(f"the judge's factors ({', '.join(names)}) are none of the images' labels ({', '.join(labels)})")
    all_ok = torch.ones(len(images), dtype=torch.bool)
    per = {}
    for f in factors:
        truth = labels[f].long()
        if label_names.get(f):  # map the data's value indices to the judge's by name
            lookup = torch.tensor([names[f].index(v) if v in names[f] else -1 for v in label_names[f]])
            truth = lookup[truth]
        ok = probs[f].argmax(1).cpu() == truth
        all_ok &= ok
        per[f] = proportion(int(ok.sum()), len(ok))
    return {"all_factors": proportion(int(all_ok.sum()), len(images)), "by_factor": per, "matches": all_ok}


# ---------------------------------------------------------------------------------------------------
# The tool.


@dataclass
class ProjectResult(Result):
    """Targets, their codes and reconstructions, the losses and distances, and the nearest-random-sample baseline."""

    tool = "project"
    names: list[str] = field(default_factory=list)
    targets: torch.Tensor | None = field(default=None, repr=False)  # uint8 (N, C, S, S)
    codes: torch.Tensor | None = field(default=None, repr=False)  # (N, z_dim)
    images: torch.Tensor | None = field(default=None, repr=False)  # uint8 G(codes)
    losses: torch.Tensor | None = field(default=None, repr=False)  # (N,) the loss optimised
    pixel: torch.Tensor | None = field(default=None, repr=False)  # (N,) mean squared pixel error in [-1, 1]
    dfeat: torch.Tensor | None = field(default=None, repr=False)  # (N,) D-feature distance (unweighted)
    restart: torch.Tensor | None = field(default=None, repr=False)
    start_losses: torch.Tensor | None = field(default=None, repr=False)  # (N, R)
    curve: list[float] = field(default_factory=list)
    baseline_seeds: list[int] = field(default_factory=list)
    baseline_images: torch.Tensor | None = field(default=None, repr=False)
    baseline_losses: torch.Tensor | None = field(default=None, repr=False)
    baseline_pixel: torch.Tensor | None = field(default=None, repr=False)
    baseline_dfeat: torch.Tensor | None = field(default=None, repr=False)
    labels: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    label_names: dict[str, list[str]] = field(default_factory=dict)
    prior: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    judged: dict[str, Any] | None = None
    judge: str | None = None

    @property
    def images_per_second(self) -> float:
        return len(self.names) / self.seconds if self.seconds else float("nan")

    def summary(self) -> dict[str, Any]:
        def mean(t: torch.Tensor | None) -> float | None:
            return float(t.mean()) if t is not None and len(t) else None

        per_image = []
        for i, name in enumerate(self.names):
            row = {"name": name, "loss": float(self.losses[i]), "pixel_mse": float(self.pixel[i]), "dfeat_distance": float(self.dfeat[i]),
                   "restart": int(self.restart[i]), "code_norm": float(self.codes[i].norm())}
            if self.baseline_seeds:
                row.update({"baseline_seed": self.baseline_seeds[i], "baseline_loss": float(self.baseline_losses[i])})
            if self.labels:
                row["labels"] = {f: (self.label_names.get(f) or [])[int(v[i])] if self.label_names.get(f) else int(v[i])
                                 for f, v in self.labels.items()}
            per_image.append(row)
        out: dict[str, Any] = {
            "images": len(self.names), "seconds": self.seconds, "images_per_second": self.images_per_second,
            "loss_definition": "pixel_weight * mean squared error in [-1, 1] + perceptual_weight * mean over layers of the mean "
                               "squared difference of unit-normalised channel vectors (dfeat: the checkpoint's D; lpips: AlexNet)",
            "mean": {"loss": mean(self.losses), "pixel_mse": mean(self.pixel), "dfeat_distance": mean(self.dfeat)},
            "prior": self.prior, "loss_curve": self.curve, "judge": self.judge, "per_image": per_image,
        }
        if self.baseline_seeds:
            out["baseline"] = {"definition": f"the nearest (same loss) of {self.settings.baseline} random samples, seeds 0-{self.settings.baseline - 1}",
                               "mean": {"loss": mean(self.baseline_losses), "pixel_mse": mean(self.baseline_pixel),
                                        "dfeat_distance": mean(self.baseline_dfeat)},
                               "projection_better": proportion(int((self.losses < self.baseline_losses).sum()), len(self.names))}
        if self.judged is not None:
            out["judged"] = {k: {kk: vv for kk, vv in v.items() if kk != "matches"} for k, v in self.judged.items()}
        return out

    def lines(self) -> list[str]:
        out = [f"{len(self.names)} image(s) projected in {self.seconds:.1f} s ({self.images_per_second:.2f} images/s): mean loss "
               f"{float(self.losses.mean()):.4f}, pixel MSE {float(self.pixel.mean()):.4f}, D-feature distance {float(self.dfeat.mean()):.4f}"]
        if self.baseline_seeds:
            out.append(f"  nearest of {self.settings.baseline} random samples: mean loss {float(self.baseline_losses.mean()):.4f}, pixel MSE "
                       f"{float(self.baseline_pixel.mean()):.4f}, D-feature distance {float(self.baseline_dfeat.mean()):.4f}; the projection "
                       f"is closer for {int((self.losses < self.baseline_losses).sum())} of {len(self.names)}")
        if self.judged is not None:
            for k, v in self.judged.items():
                a = v["all_factors"]
                out.append(f"  {k}: every factor judged as the true label for {100 * a['share']:.1f}% ("
                           + ", ".join(f"{f} {100 * p['share']:.1f}%" for f, p in v["by_factor"].items()) + ")")
        return out


def project(model: Model, settings: ProjectSettings | None = None, *, judge: Any = None, progress: bool = True,
            **options: Any) -> ProjectResult:
    """Return the code of each image ``settings.images`` names, its reconstruction, losses and the random-sample baseline.

    With a judge and images whose true labels are known (rooms, labelled .npz), also the share of reconstructions
    (and of baseline samples) judged to show every factor of the real image.
    """
    from tqdm import tqdm

    s = ProjectSettings.build(settings, **options)
    if model.config.conditional and model.label is None:  # else each restart would search another class's codes
        raise UserError(f"{model.path} is a conditional model: give the class to project into with --label K "
                        f"(0 to {model.config.num_classes - 1}; dcgan.load(..., label=K) in Python)")
    targets = read_targets(s.images, model, s.num_images, s.start, model.run_config.data.data_root)
    if judge is not None and not targets.labels:
        raise UserError("--judge compares reconstructions with the images' true labels, and these images have none "
                        "(give a labelled SPEC such as rooms:test, or leave out --judge)")
    dev = model.device
    g, embed = model.generator, embedding_for(model, s)
    shell = norm_shell(model.z_dim, s.prior_mass) if model.z_dist == "normal" else None
    starts = model.codes(range(s.seed, s.seed + s.restarts))
    pixel_only = Embedding(None, 1.0, 0.0, "none")
    dfeat_only = Embedding(model.discriminator, 0.0, 1.0, "dfeat")
    found: dict[str, list[torch.Tensor]] = {}
    n = len(targets.images)
    start_time = time.perf_counter()
    with eval_mode(g), eval_mode(model.discriminator), tqdm(total=s.steps * (-(-n // s.batch_size)), desc="projecting", unit="step",
                                                            disable=not progress, leave=False) as bar:
        for b0 in range(0, n, s.batch_size):
            x = to_unit_range(targets.images[b0 : b0 + s.batch_size].to(dev))
            out = fit_codes(g, embed, x, starts, s.steps, s.lr, model.z_dist, shell, bar.update)
            for k, v in out.items():
                found.setdefault(k, []).append(v)
        seconds = time.perf_counter() - start_time
        codes = torch.cat(found["codes"])
        images = model.decode(codes)
        result = ProjectResult(s, model.describe(), targets.names, targets.images, codes, images, torch.cat(found["losses"]),
                               restart=torch.cat(found["restart"]), start_losses=torch.cat(found["start_losses"]),
                               labels=targets.labels, label_names=targets.label_names, seconds=seconds,
                               judge=getattr(judge, "source", "judge") if judge is not None else None)
        result.curve = torch.stack(found["curve"]).mean(0).tolist() if len(found["curve"]) > 1 else found["curve"][0].tolist()
        real_pix, real_feat = (embed_all(None, e, targets.images, dev) for e in (pixel_only, dfeat_only))
        result.pixel = ((embed_all(None, pixel_only, images, dev) - real_pix) ** 2).sum(1)
        result.dfeat = ((embed_all(None, dfeat_only, images, dev) - real_feat) ** 2).sum(1)
        if s.baseline:
            pool = model.codes(range(s.baseline))
            dist = squared_distances(embed_all(None, embed, targets.images, dev), embed_all(g, embed, pool, dev))
            best = dist.argmin(1)
            result.baseline_seeds = best.tolist()
            result.baseline_losses = dist[torch.arange(n), best]
            result.baseline_images = model.decode(pool[best])
            result.baseline_pixel = ((embed_all(None, pixel_only, result.baseline_images, dev) - real_pix) ** 2).sum(1)
            result.baseline_dfeat = ((embed_all(None, dfeat_only, result.baseline_images, dev) - real_feat) ** 2).sum(1)
    result.prior = {"constraint": "clamped to [-1, 1]" if model.z_dist == "uniform" else
                    f"|z| kept in the shell [{shell[0]:.3f}, {shell[1]:.3f}] holding {s.prior_mass} of N(0, I)'s mass",
                    **prior_check(codes, model.z_dist, shell)}
    if judge is not None:
        result.judged = {"projection": judge_matches(judge, images, targets.labels, targets.label_names)}
        if result.baseline_images is not None:
            result.judged["baseline"] = judge_matches(judge, result.baseline_images, targets.labels, targets.label_names)
    return result

