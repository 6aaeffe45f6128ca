"""Features -> statistics -> numbers: Fréchet distance, KID and precision/recall/density/coverage.

Each step is a thin, tested wrapper around an established implementation, so the numbers are the
community's, not ours: torch-fidelity's feature-level functions for the Fréchet distance (the TTUR
reference formula) and KID (Binkowski et al.'s unbiased MMD with the cubic polynomial kernel), and the
``prdc`` package (the reference code of Naeem et al. 2020) for precision, recall, density and coverage.
Convention everywhere: ``gen`` are features of generated images, ``ref`` of real (reference) images.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import torch

from dcgan.errors import UserError
from dcgan.settings.eval import PRDC_K  # defined with the settings, which check sample counts against it

KID_SUBSETS = 100  # torch-fidelity's defaults (and the KID paper's)
KID_SUBSET_SIZE = 1000


def feature_statistics(features: torch.Tensor) -> dict[str, np.ndarray]:
    """Return {'mu': (F,), 'sigma': (F, F)} in float64: the mean and unbiased covariance of (N, F) features."""
    from torch_fidelity.metric_fid import fid_features_to_statistics

    if features.ndim != 2 or len(features) < 2:
        raise UserError(f"statistics need at least 2 feature rows, got shape {tuple(features.shape)}")
    return fid_features_to_statistics(features.detach().cpu().double())


def frechet_distance(stats_1: dict[str, np.ndarray], stats_2: dict[str, np.ndarray]) -> float:
    """Return ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), the Fréchet distance of two Gaussians."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    return float(fid_statistics_to_metric(stats_1, stats_2, verbose=False)[KEY_METRIC_FID])


def kid(gen: torch.Tensor, ref: torch.Tensor, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE, seed: int = 0) -> dict[str, Any]:
    """Return {'mean', 'std', 'subset_size', 'subsets'}: unbiased MMD^2, kernel (x.y/d + 1)^3, over random subsets.

    The subset size shrinks to the smaller set when either has fewer rows than ``subset_size``.
    """
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    size = min(subset_size, len(gen), len(ref))
    if size < 2:
        raise UserError(f"KID needs at least 2 samples in each set, got {len(gen)} generated and {len(ref)} real")
    out = kid_features_to_metric(gen.detach().cpu().double(), ref.detach().cpu().double(),
                                 kid_subsets=subsets, kid_subset_size=size, rng_seed=seed, verbose=False)
    return {"mean": out[KEY_METRIC_KID_MEAN], "std": out[KEY_METRIC_KID_STD], "subset_size": size, "subsets": subsets}


def prdc(gen: torch.Tensor, ref: torch.Tensor, k: int = PRDC_K) -> dict[str, float]:
    """Return precision, recall, density and coverage of generated vs real features (k-NN balls)."""
    from prdc import compute_prdc

    if min(len(gen), len(ref)) < k + 2:  # prdc's k-th-neighbour search (np.argpartition at k + 1) needs k + 2 rows
        raise UserError(f"precision/recall/density/coverage with k={k} need at least {k + 2} samples in each set, got {len(gen)} generated and {len(ref)} real")
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the set sizes
        out = compute_prdc(real_features=ref.detach().cpu().double().numpy(), fake_features=gen.detach().cpu().double().numpy(), nearest_k=k)
    return {name: float(out[name]) for name in ("precision", "recall", "density", "coverage")}
