"""The discriminator as a feature extractor: the paper's linear probe (PAPER.md section 4).

Pipeline: D's features (every conv layer max-pooled to 4x4, flattened, concatenated; ``dcgan.features``)
-> standardised with statistics of the training images -> linear L2-SVM (scikit-learn ``LinearSVC``,
squared hinge, L2 penalty) whose C is chosen on a validation split carved from the training data.
Test data is used once, to score the chosen classifier, and never influences C or the standardisation.

Two protocols:
- all labels: a stratified validation split (``val_fraction``) of the training pool picks C, then the SVM
  is refitted on the whole pool with that C and scored on the test set;
- few labels (``labels_per_class`` K, ``draws`` R): a fixed validation set of ``val_size`` training images
  is split off once; each draw takes K class-balanced labelled images from the rest, picks C on the
  validation set and scores test error; the report is the mean and standard deviation over draws
  (the paper's SVHN protocol: K=100, 10,000 validation images).

BatchNorm mode during extraction: **eval** (running statistics gathered during training), so an image's
features never depend on the other images of its batch; the extractor switches D to eval itself.

Features come from the shared cache (``dcgan.features.cached_features``), keyed by what determines them:
the checkpoint's content digest (or the random D's weights), a digest of the exact uint8 images, and the
extraction protocol; they are read memory-mapped, so 50,000 x 7,168 floats need not fit in memory.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from dcgan.api import Model
from dcgan.errors import UserError
from dcgan.features import (
    Extractor,
    cached_features,
    describe_split,
    discriminator_extractor,
    pixels_extractor,
)
from dcgan.features.discriminator import BN_MODE, PROTOCOL
from dcgan.models import Discriminator
from dcgan.report import Result
from dcgan.settings.probe import ProbeSettings

# ----------------------------------------------------------------------------------------------------
# Features


@dataclass
class FeatureSet:
    """One feature space's features of the training and test images."""

    name: str
    train: np.ndarray  # memory-mapped when it came from the cache
    test: np.ndarray
    split: list[int] = field(default_factory=list)  # per-layer feature counts ([] for pixels)
    cached: bool = False  # True when both came from the on-disk cache
    cache_paths: list[str] = field(default_factory=list)

    @property
    def dim(self) -> int:
        return self.train.shape[1]


def feature_set(name: str, extractor: Extractor, train_images: torch.Tensor, test_images: torch.Tensor,
                use_cache: bool = True, cache_root: Path | None = None) -> FeatureSet:
    """Return the (cached, memory-mapped) features of the training and test images under ``extractor``."""
    got = [cached_features(extractor, images, desc=f"{name}: {which}", use_cache=use_cache, mmap=True, root=cache_root)
           for which, images in (("train", train_images), ("test", test_images))]
    return FeatureSet(name, got[0].features, got[1].features, list(extractor.split), all(g.hit for g in got),
                      [str(g.path) for g in got if g.path is not None])


# ----------------------------------------------------------------------------------------------------
# Classifier


def standardiser(x_fit: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Return a function that standardises rows with the mean and std of ``x_fit`` (training data only)."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    for start in range(0, len(x_fit), 8192):  # in chunks: bounded memory on 50,000 x 7,168 memory-mapped rows
        scaler.partial_fit(np.asarray(x_fit[start : start + 8192]))
    return lambda x: scaler.transform(np.asarray(x, dtype=np.float32)).astype(np.float32, copy=False)


def make_svm(c: float, dual: bool, max_iter: int = 1000, seed: int = 0, tol: float = 1e-4) -> Any:
    """Return the paper's classifier: linear L2-SVM (squared hinge, L2 penalty), one-vs-rest."""
    from sklearn.svm import LinearSVC

    return LinearSVC(C=c, loss="squared_hinge", penalty="l2", dual=dual, max_iter=max_iter, tol=tol, random_state=seed)


@dataclass
class LinearModel:
    """A fitted one-vs-rest linear classifier in the original feature space."""

    coef: np.ndarray  # (n_classes, d), or (1, d) for two classes
    intercept: np.ndarray
    classes: np.ndarray
    C: float = 0.0

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Return the predicted class of each row (the class with the largest score, as LinearSVC does)."""
        scores = np.asarray(x, dtype=np.float64) @ self.coef.T + self.intercept
        if scores.shape[1] == 1:
            return self.classes[(scores[:, 0] > 0).astype(int)]
        return self.classes[scores.argmax(1)]


@dataclass
class FitLog:
    """Counts fits, liblinear convergence warnings and time over a probe."""

    fits: int = 0
    not_converged: int = 0
    seconds: float = 0.0


class SvmFitter:
    """Fits LinearSVC on one training set for any C; with far fewer rows than features it fits in their span.

    The formulation follows ``dual='auto'``'s rule: dual coordinate descent when there are fewer rows
    than features (the few-label case), the primal (trust-region Newton) otherwise.

    Why the span: an L2-regularised linear model's weights lie in the span of its training rows, and
    the SVM's dual depends on the rows only through their inner products. Rows ``z`` with
    ``z @ z.T == x @ x.T`` (from the eigendecomposition of the Gram matrix) therefore give the same dual
    problem, the same iterates and the same classifier, mapped back by ``w = a @ back``. With 1,000
    labelled rows and 7,168 features each fit was 3-7x faster (measured on MNIST D features). The
    eigendecomposition costs O(n^3), so it is used when n < d and either n <= SPAN_ROWS (cheap) or
    ``SPAN_RATIO * n <= d`` (a large saving). (Hand-written: scikit-learn offers no such reduction.)
    """

    SPAN_ROWS, SPAN_RATIO = 2048, 4

    def __init__(self, x: np.ndarray, y: np.ndarray, max_iter: int = 1000, seed: int = 0, log: FitLog | None = None,
                 tol: float = 1e-3, span: bool | None = None) -> None:
        self.y, self.max_iter, self.seed, self.tol, self.log = y, max_iter, seed, tol, log or FitLog()
        n, d = x.shape
        self.dual = n < d
        self.span = (n < d and (n <= self.SPAN_ROWS or self.SPAN_RATIO * n <= d)) if span is None else span
        self.back: np.ndarray | None = None
        start = time.perf_counter()
        if self.span:
            x64 = np.asarray(x, dtype=np.float64)
            evals, evecs = np.linalg.eigh(x64 @ x64.T)
            keep = evals > evals.max() * 1e-12  # directions with no data in them carry no weight
            root = np.sqrt(evals[keep])
            self.z = evecs[:, keep] * root  # (n, r): z @ z.T == x @ x.T
            self.back = (evecs[:, keep] / root).T @ x64  # (r, d): orthonormal rows spanning x's rows
        else:
            self.z = x
        self.log.seconds += time.perf_counter() - start

    def fit(self, c: float) -> LinearModel:
        """Return the SVM fitted with ``c``, as weights on the original features."""
        from sklearn.exceptions import ConvergenceWarning

        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            svm = make_svm(c, self.dual, self.max_iter, self.seed, self.tol).fit(self.z, self.y)
        self.log.fits += 1
        self.log.not_converged += any(issubclass(w.category, ConvergenceWarning) for w in caught)
        self.log.seconds += time.perf_counter() - start
        coef = svm.coef_ @ self.back if self.back is not None else svm.coef_
        return LinearModel(np.asarray(coef, dtype=np.float64), svm.intercept_.astype(np.float64), svm.classes_, c)


def accuracy(model: LinearModel, x: np.ndarray, y: np.ndarray) -> float:
    """Return the share of rows of ``x`` classified as ``y``."""
    return float((model.predict(x) == y).mean())


def select_c(fitter: SvmFitter, x_val: np.ndarray, y_val: np.ndarray, c_grid: Sequence[float]) -> tuple[LinearModel, dict[str, float]]:
    """Return (the SVM with the best validation accuracy, validation accuracy per C); ties go to the smaller C."""
    scores: dict[str, float] = {}
    best, best_acc = None, -1.0
    for c in sorted(c_grid):
        model = fitter.fit(c)
        acc = accuracy(model, x_val, y_val)
        scores[f"{c:g}"] = round(acc, 5)
        if acc > best_acc:
            best, best_acc = model, acc
    assert best is not None
    return best, scores


def stratified_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Return sorted indices of a class-stratified random subset of ``size`` (all when size >= N)."""
    from sklearn.model_selection import train_test_split

    if size >= len(labels):
        return np.arange(len(labels))
    keep, _ = train_test_split(np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed)
    return np.sort(keep)


def balanced_draw(labels: np.ndarray, pool: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Return indices of exactly ``k`` images of every class, drawn without replacement from ``pool``."""
    chosen = []
    for cls in np.unique(labels):
        members = pool[labels[pool] == cls]
        if len(members) < k:
            raise UserError(f"class {cls} has only {len(members)} training images outside the validation set; "
                            f"lower --labels-per-class (now {k}) or --val-size")
        chosen.append(rng.choice(members, size=k, replace=False))
    return np.sort(np.concatenate(chosen))


def probe_all_labels(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                     settings: ProbeSettings, log: FitLog | None = None) -> dict[str, Any]:
    """Return the all-labels result: C picked on a validation split of the training data, refit, test accuracy."""
    from sklearn.model_selection import train_test_split

    log = log or FitLog()
    fit_idx, val_idx = train_test_split(np.arange(len(y_train)), test_size=settings.val_fraction,
                                        stratify=y_train, random_state=settings.seed)
    scale = standardiser(x_train)  # statistics of the training pool only
    x_all = scale(x_train)
    fitter = SvmFitter(x_all[fit_idx], y_train[fit_idx], settings.max_iter, settings.seed, log, settings.tol)
    chosen, val_scores = select_c(fitter, x_all[val_idx], y_train[val_idx], settings.c_grid)
    del fitter
    model = SvmFitter(x_all, y_train, settings.max_iter, settings.seed, log, settings.tol).fit(chosen.C)
    del x_all
    acc = accuracy(model, scale(x_test), y_test)
    return {"test_accuracy": round(acc, 5), "test_error": round(1 - acc, 5), "C": chosen.C, "val_accuracy_by_C": val_scores,
            "C_at_grid_edge": len(settings.c_grid) > 1 and chosen.C in (min(settings.c_grid), max(settings.c_grid)),
            "n_fit": len(fit_idx), "n_val": len(val_idx), "n_refit": len(y_train), "n_test": len(y_test)}


def few_label_split(y_train: np.ndarray, settings: ProbeSettings) -> tuple[np.ndarray, np.ndarray]:
    """Return (validation indices, pool indices the labelled draws come from), fixed for all draws."""
    val_size = min(settings.val_size, len(y_train) // 2)
    val_idx = stratified_subset(y_train, val_size, settings.seed)
    return val_idx, np.setdiff1d(np.arange(len(y_train)), val_idx)


def probe_few_labels(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                     settings: ProbeSettings, log: FitLog | None = None) -> dict[str, Any]:
    """Return the few-label result: mean and std of test error over class-balanced draws of K labels."""
    assert settings.labels_per_class is not None
    log = log or FitLog()
    k = settings.labels_per_class
    val_idx, pool = few_label_split(y_train, settings)
    # Standardisation uses the unlabelled training images (the GAN saw them too); never test images.
    scale = standardiser(x_train)
    x_val, x_test_s = scale(x_train[val_idx]), scale(x_test)
    errors, chosen_c = [], []
    for r in tqdm(range(settings.draws), desc=f"{k} labels per class", unit="draw", dynamic_ncols=True, leave=False):
        rng = np.random.default_rng([settings.seed, r])
        labelled = balanced_draw(y_train, pool, k, rng)
        fitter = SvmFitter(scale(x_train[labelled]), y_train[labelled], settings.max_iter, settings.seed, log, settings.tol)
        model, _ = select_c(fitter, x_val, y_train[val_idx], settings.c_grid)
        errors.append(1 - accuracy(model, x_test_s, y_test))
        chosen_c.append(model.C)
    err = np.array(errors)
    return {"labels_per_class": k, "draws": settings.draws, "n_labelled": int(k * len(np.unique(y_train))),
            "n_val": len(val_idx), "n_test": len(y_test),
            "test_error_mean": round(float(err.mean()), 5),
            "test_error_std": round(float(err.std(ddof=1)) if len(err) > 1 else 0.0, 5),
            "test_errors": [round(e, 5) for e in errors], "C_per_draw": chosen_c,
            "C_at_grid_edge": len(settings.c_grid) > 1 and any(c in (min(settings.c_grid), max(settings.c_grid)) for c in chosen_c)}


def probe_row(features: FeatureSet, y_train: np.ndarray, y_test: np.ndarray, settings: ProbeSettings) -> dict[str, Any]:
    """Return one table row: the protocols ``settings`` asks for, run on one feature set."""
    log = FitLog()
    start = time.perf_counter()
    row: dict[str, Any] = {"features": features.name, "dim": features.dim, "split": features.split}
    if settings.all_labels:
        idx = stratified_subset(y_train, settings.max_train, settings.seed) if settings.max_train else np.arange(len(y_train))
        x = np.asarray(features.train[idx] if len(idx) < len(y_train) else features.train)
        row["all_labels"] = probe_all_labels(x, y_train[idx], features.test, y_test, settings, log)
        del x
    if settings.labels_per_class is not None:
        row["few_labels"] = probe_few_labels(features.train, y_train, features.test, y_test, settings, log)
    row.update(fits=log.fits, not_converged=log.not_converged, svm_seconds=round(log.seconds, 1),
               seconds=round(time.perf_counter() - start, 1))
    return row


# ----------------------------------------------------------------------------------------------------
# Report


def format_table(rows: list[dict[str, Any]]) -> str:
    """Return the results as a plain-text table (one row per feature set)."""
    head = ["features", "dim"]
    if any("all_labels" in r for r in rows):
        head += ["all labels: test acc", "C"]
    if any("few_labels" in r for r in rows):
        k = next(r["few_labels"] for r in rows if "few_labels" in r)
        head += [f"{k['labels_per_class']}/class x {k['draws']}: test error (mean +- std)"]
    lines = [head]
    for r in rows:
        cells = [r["features"], str(r["dim"])]
        if "all_labels" in r:
            a = r["all_labels"]
            cells += [f"{100 * a['test_accuracy']:.2f}%", f"{a['C']:g}"]
        if "few_labels" in r:
            f = r["few_labels"]
            cells += [f"{100 * f['test_error_mean']:.2f}% +- {100 * f['test_error_std']:.2f}"]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def margins(rows: list[dict[str, Any]], against: str = "random D") -> dict[str, float]:
    """Return how far the trained D is ahead of ``against`` (accuracy points, error points)."""
    by = {r["features"]: r for r in rows}
    if "trained D" not in by or against not in by:
        return {}
    t, b = by["trained D"], by[against]
    out = {}
    if "all_labels" in t and "all_labels" in b:
        out["all_labels_accuracy_points"] = round(100 * (t["all_labels"]["test_accuracy"] - b["all_labels"]["test_accuracy"]), 2)
    if "few_labels" in t and "few_labels" in b:
        out["few_labels_error_points"] = round(100 * (b["few_labels"]["test_error_mean"] - t["few_labels"]["test_error_mean"]), 2)
    return out


# ----------------------------------------------------------------------------------------------------
# The whole probe


def labels_of(data: Any, factor: str, what: str) -> np.ndarray:
    """Return the integer labels of ``factor`` in ``data`` (an ImageData), or a UserError saying what exists."""
    if not data.labels:
        raise UserError(f"the {what} data ({data.description}) has no labels: the probe needs labelled images "
                        "(an .npz with y_train/y_test, a named dataset, or an image folder with one subfolder per class)")
    if factor not in data.labels:
        raise UserError(f"the {what} data has no label {factor!r}; it has: {', '.join(sorted(data.labels))} (choose with --label)")
    return data.labels[factor].numpy().astype(np.int64)


def run_probe(d: Discriminator, model_id: str, train: Any, test: Any, settings: ProbeSettings,
              echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Return the full report (table rows, margins, protocol) of the probe of ``d`` and the baselines.

    ``train`` and ``test`` are labelled ImageData at D's size; ``model_id`` names D's weights for the cache
    (e.g. ``checkpoint:<digest>``); ``echo`` receives progress lines.
    """
    from dcgan.models import build_models

    start = time.perf_counter()
    label = settings.label
    y_train, y_test = labels_of(train, label, "training"), labels_of(test, label, "test")
    missing = set(np.unique(y_test)) - set(np.unique(y_train))
    if missing:
        raise UserError(f"test classes {sorted(missing)} never occur in the training data: are --train and --test the same dataset?")
    if len(np.unique(y_train)) < 2:
        raise UserError("the training data has a single class: a classifier needs at least two")
    test_images = test.images
    if settings.max_test and settings.max_test < len(y_test):
        keep = torch.from_numpy(stratified_subset(y_test, settings.max_test, settings.seed))
        test_images, y_test = test_images[keep], y_test[keep.numpy()]
    echo(f"data: train {train.description}, test {len(y_test)} images; {len(np.unique(y_train))} classes of {label!r}")
    echo(f"features: {describe_split(d)}; BatchNorm in {BN_MODE} mode (running statistics)")
    spaces = [("trained D", discriminator_extractor(d, identity=model_id, origin="the probed D", batch_size=settings.batch_size))]
    if "random" in settings.baselines:
        _, d_random = build_models(d.cfg, seed=settings.random_seed)
        spaces.append(("random D", discriminator_extractor(d_random, origin=f"random-init D (seed {settings.random_seed})",
                                                           device=next(d.parameters()).device, batch_size=settings.batch_size)))
    if "pixels" in settings.baselines:
        spaces.append(("pixels", pixels_extractor(train.channels, train.image_size)))
    rows, cache_files = [], []
    for name, extractor in spaces:
        feats = feature_set(name, extractor, train.images, test_images, settings.cache)
        cache_files += feats.cache_paths
        echo(f"{name}: {feats.dim} features" + (" (from cache)" if feats.cached else "") + "; fitting the SVMs")
        rows.append(probe_row(feats, y_train, y_test, settings))
        del feats
    return {
        "rows": rows,
        "margin_over_random_D": margins(rows, "random D"),
        "margin_over_pixels": margins(rows, "pixels"),
        "protocol": {**PROTOCOL, "standardisation": "per-feature mean/std of the training images",
                     "classifier": "sklearn LinearSVC(loss='squared_hinge', penalty='l2', dual='auto'), one-vs-rest",
                     "C_selection": "validation split carved from the training data; ties go to the smaller C"},
        "n_train": len(y_train), "n_test": len(y_test), "cache_files": cache_files,
        "seconds": round(time.perf_counter() - start, 1),
    }


@dataclass
class ProbeResult(Result):
    """The probe's table (one row per feature set), the trained D's margins over the baselines, and the protocol."""

    tool = "probe"
    report: dict[str, Any] = field(default_factory=dict)  # what run_probe returns
    data: dict[str, Any] = field(default_factory=dict)  # the labelled data used: spec and description per split
    log: list[str] = field(default_factory=list)  # progress lines, in order

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.report["rows"]

    @property
    def table(self) -> str:
        return format_table(self.rows)

    def summary(self) -> dict[str, Any]:
        return {"data": self.data, "table": self.table.splitlines(), **self.report}

    def lines(self) -> list[str]:
        out = [*self.log, *self.table.splitlines()]
        for key, what in (("margin_over_random_D", "random D"), ("margin_over_pixels", "pixels")):
            m = self.report[key]
            if "all_labels_accuracy_points" in m:
                out.append(f"trained D vs {what}, all labels: {m['all_labels_accuracy_points']:+.2f} accuracy points")
            if "few_labels_error_points" in m:
                out.append(f"trained D vs {what}, few labels: {-m['few_labels_error_points']:+.2f} error points")
        edge = [r["features"] for r in self.rows if any(r.get(p, {}).get("C_at_grid_edge") for p in ("all_labels", "few_labels"))]
        if edge:
            out.append(f"note: the chosen C sits at the edge of --c-grid for {', '.join(edge)}; a wider grid may do better")
        return out


def _labelled(model: Model, spec: str | None, given: Any, settings: ProbeSettings, flag: str) -> Any:
    """Return labelled ImageData: ``given``, or ``spec`` loaded and fitted to what D was trained on (size, channels)."""
    from dcgan.config import DataConfig
    from dcgan.data import load_data

    if given is not None:
        return given
    if spec is None:
        raise UserError(f"the probe needs labelled {flag[2:]} images: give {flag} SPEC (e.g. mnist.npz{':test' if flag == '--test' else ''})")
    return load_data(DataConfig(spec=spec, data_root=settings.data_root, image_size=model.image_size, channels=model.channels))


def probe(model: Model, settings: ProbeSettings | None = None, *, train_data: Any = None, test_data: Any = None,
          **options: Any) -> ProbeResult:
    """Return the linear probe of the model's D (and the baselines) on labelled data; writes nothing but the feature cache.

    ``train_data`` / ``test_data`` (labelled ImageData at the model's size) replace ``settings.train`` / ``.test``.
    """
    from dcgan.device import cpu_threads

    settings = ProbeSettings.build(settings, **options)
    train = _labelled(model, settings.train, train_data, settings, "--train")
    test = _labelled(model, settings.test, test_data, settings, "--test")
    log: list[str] = []
    with cpu_threads(settings.threads, blas=True):
        report = run_probe(model.discriminator, f"checkpoint:{model.payload['digest']}", train, test, settings, log.append)
    data = {"train": settings.train or train.description, "test": settings.test or test.description,
            "train_description": train.description, "test_description": test.description}
    return ProbeResult(settings, model.describe(), report, data, log)
