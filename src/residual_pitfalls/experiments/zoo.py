"""The scorer zoo on Exp 2 and Exp 3 (Exp 1 is ``scores.scored_intensity_sigma_grid``).

Reconstruct once, score many: each reconstruction (a blur, a model's forward pass) is made once
and handed to every scorer; Exp 3 scores the reconstructions the paper's Exp 3 job recorded
(``RecordedReconstructions``). Each returns tidy frames with a
``score`` column, so a scorer's rows never depend on the others. For the plain ``residual`` the
numbers are those of ``experiments.texture_sigma_curve`` / ``model_intensity_curves``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from residual_pitfalls.anomalies import disk_label, make_anomaly
from residual_pitfalls.experiments.paper import disk_anomalous_images, texture_rng
from residual_pitfalls.experiments.parallel import check_inputs
from residual_pitfalls.metrics.ap import average_precision_batch
from residual_pitfalls.metrics.segmentation import best_dice, mean_auroc, pooled_ap
from residual_pitfalls.reconstruction import blur
from residual_pitfalls.scorers.builtin import SCORES
from residual_pitfalls.scorers.entries import METRIC_NAMES, Entry, check_zoo_needs
from residual_pitfalls.scorers.fast_path import _stats_for, scorer_aps_per_intensity
from residual_pitfalls.scorers.registry import ScorerSpec, check_scorer, score_maps
from residual_pitfalls.scorers.stats import HealthyStats, healthy_stats


# config evaluation.metrics: name -> fn((N, H, W) bool labels, (N, H, W) maps) -> float, each
# over all test images at once (the per-image AP stays the main metric).
def _best_dice(labels: np.ndarray, maps: np.ndarray) -> float:
    """Dice at the best of 100 thresholds over the scores' range (the threshold is dropped)."""
    return best_dice(labels, maps)[0]


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = dict(
    zip(METRIC_NAMES, (pooled_ap, mean_auroc, _best_dice), strict=True)
)

Stats = HealthyStats | Mapping[float, HealthyStats] | None


def scored_texture_curves(
    images: np.ndarray,
    centres: np.ndarray,
    *,
    anomalies: Sequence[str],
    radius: float,
    sigmas: np.ndarray,
    seed: int,
    spec: ScorerSpec,
    stats: Stats = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Exp 2 for one scorer: AP of every texture anomaly x image x sigma.

    images: (N, H, W) float32 healthy test slices in [0, 1]; centres: (N, 2) (row, col). The
    reconstruction is blur(healthy, sigma), made once per (image, sigma) for all anomalies; the
    texture randomness is ``texture_rng(seed, image)`` as in ``texture_sigma_curve``. stats:
    HealthyStats, or float(sigma) -> HealthyStats (``residual_zscore``: the training slices
    blurred with sigma). Returns columns score, anomaly, image, sigma, ap.
    """
    check_inputs(images, centres)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    painted = {}
    for anomaly in anomalies:
        pairs = [
            make_anomaly(anomaly, img, (int(c[0]), int(c[1])), radius, texture_rng(seed, i))
            for i, (img, c) in enumerate(zip(images, centres, strict=True))
        ]
        painted[anomaly] = (np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))
    brains = images > 0
    aps = {a: np.empty((len(images), len(sigmas))) for a in anomalies}
    for s, sigma in enumerate(tqdm(sigmas, desc=f"Exp 2 {spec.name}", disable=not progress)):
        recon = np.stack([blur(img, float(sigma)) for img in images])
        for anomaly, (anomalous, labels) in painted.items():
            maps = score_maps(
                spec, anomalous, recon, stats=_stats_for(stats, sigma), brain_masks=brains
            )
            aps[anomaly][:, s] = average_precision_batch(labels, maps)
    n, k = len(images), len(sigmas)
    return pd.DataFrame(
        {
            "score": spec.name,
            "anomaly": np.repeat(list(anomalies), n * k),
            "image": np.tile(np.repeat(np.arange(n, dtype=np.int32), k), len(anomalies)),
            "sigma": np.tile(sigmas, n * len(anomalies)),
            "ap": np.concatenate([aps[a].ravel() for a in anomalies]),
        }
    )


class RecordedReconstructions:
    """A reconstruct callable that also writes each call's output to an ``.npy`` file, so the
    scorer zoo scores the very reconstructions of the paper's Exp 3 job (no second forward pass).

    The file holds ``(calls, N, H, W)`` float32, memory-mapped (never all in memory): slot ``j``
    is the output of the ``j``-th call. ``model_intensity_curves`` first reconstructs the healthy
    images (slot 0) and, in mode "anomalous", then the anomalous images of each intensity in
    order (slots 1..K).
    """

    def __init__(
        self,
        reconstruct: Callable[[np.ndarray], np.ndarray],
        path: str | Path,
        *,
        mode: str,
        n_intensities: int,
        shape: tuple[int, int, int],
    ) -> None:
        self.reconstruct = reconstruct
        self.path = Path(path)
        calls = 1 if mode == "healthy" else 1 + n_intensities
        self.file = np.lib.format.open_memmap(
            self.path, mode="w+", dtype=np.float32, shape=(calls, *shape)
        )
        self.calls = 0

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        out = self.reconstruct(batch)
        if self.calls >= len(self.file) or np.shape(out) != self.file.shape[1:]:
            raise ValueError(
                f"{self.path}: reconstruct call {self.calls} returned shape {np.shape(out)}; "
                f"expected {len(self.file)} calls of shape {self.file.shape[1:]}"
            )
        self.file[self.calls] = out
        self.calls += 1
        return out

    def close(self) -> None:
        """Flush the file; raises if it did not get exactly one output per slot."""
        if self.calls != len(self.file):
            raise ValueError(
                f"{self.path}: {self.calls} reconstructions, expected {len(self.file)}"
            )
        self.file.flush()
        del self.file


def scored_model_curves(
    images: np.ndarray,
    centres: np.ndarray,
    reconstructions: np.ndarray,
    *,
    mode: str,
    radius: float,
    intensities: np.ndarray,
    specs: Mapping[str, ScorerSpec],
    stats: HealthyStats | None = None,
    metrics: Sequence[str] = (),
    progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Exp 3.1 (mode "healthy") or 3.2 ("anomalous") for every scorer in `specs`.

    reconstructions: a model's output as ``RecordedReconstructions`` saves it, float32: slot 0
    its reconstructions of the healthy images ((1, N, H, W) in mode "healthy"), then in mode
    "anomalous" those of the anomalous images at each of the K intensities ((1 + K, N, H, W)). stats: the model's HealthyStats, given to the scorers
    that need it. metrics: names of :data:`METRICS`, each over all test images per (scorer,
    intensity). Returns (per image: score, image, intensity, ap; pooled: score, intensity,
    <metrics>).
    """
    intensities = _check_curve_inputs(images, centres, reconstructions, mode, intensities, metrics)
    n, k = len(images), len(intensities)
    labels = np.stack(
        [
            disk_label(img, (int(c[0]), int(c[1])), radius)
            for img, c in zip(images, centres, strict=True)
        ]
    )
    brains = images > 0  # the healthy mask: a dark disk must not shrink the brain for `erode`
    aps = {name: np.empty((n, k)) for name in specs}
    pooled = {name: {m: np.empty(k) for m in metrics} for name in specs}
    healthy = mode == "healthy"
    if healthy:  # 3.1: a fixed reconstruction per image, so the Exp 1 fast path gives every AP
        rec = np.asarray(reconstructions[0], dtype=np.float32)
        for name, spec in specs.items():
            st = stats if spec.needs_stats else None
            aps[name][:] = scorer_aps_per_intensity(
                images, centres, radius, intensities, rec, spec, st
            )
    # full maps: every AP of 3.2, and the pooled metrics of both modes
    mapped = [] if healthy and not metrics else intensities
    for j, value in enumerate(tqdm(mapped, desc=f"Exp 3 {mode}", disable=not progress)):
        anomalous, _ = disk_anomalous_images(images, centres, radius, value)
        rec = np.asarray(reconstructions[0 if healthy else 1 + j], dtype=np.float32)
        for name, spec in specs.items():
            maps = score_maps(
                spec, anomalous, rec, stats=stats if spec.needs_stats else None, brain_masks=brains
            )
            if not healthy:
                aps[name][:, j] = average_precision_batch(labels, maps)
            for metric in metrics:
                pooled[name][metric][j] = METRICS[metric](labels, maps)
    return _curve_frames(list(specs), intensities, n, aps, pooled, metrics)


def _check_curve_inputs(
    images: np.ndarray,
    centres: np.ndarray,
    reconstructions: np.ndarray,
    mode: str,
    intensities: np.ndarray,
    metrics: Sequence[str],
) -> np.ndarray:
    """The intensities as float64, once every input is checked."""
    check_inputs(images, centres)
    if mode not in ("healthy", "anomalous"):
        raise ValueError(f"mode must be 'healthy' or 'anomalous', got {mode!r}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown} (known: {', '.join(METRICS)})")
    intensities = np.asarray(intensities, dtype=np.float64)
    k = len(intensities)
    expected = (1 if mode == "healthy" else 1 + k, *images.shape)
    if np.shape(reconstructions) != expected:
        raise ValueError(
            f"reconstructions have shape {np.shape(reconstructions)}; mode {mode!r} with {k} "
            f"intensities expects {expected}"
        )
    return intensities


def _curve_frames(
    names: list[str],
    intensities: np.ndarray,
    n: int,
    aps: dict[str, np.ndarray],
    pooled: dict[str, dict[str, np.ndarray]],
    metrics: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per image: score, image, intensity, ap; pooled: score, intensity, <metrics>)."""
    k = len(intensities)
    per_image = pd.DataFrame(
        {
            "score": np.repeat(names, n * k),
            "image": np.tile(np.repeat(np.arange(n, dtype=np.int32), k), len(names)),
            "intensity": np.tile(intensities, n * len(names)),
            "ap": np.concatenate([aps[name].ravel() for name in names]),
        }
    )
    whole = pd.DataFrame(
        {
            "score": np.repeat(names, k),
            "intensity": np.tile(intensities, len(names)),
            **{m: np.concatenate([pooled[name][m] for name in names]) for m in metrics},
        }
    )
    return per_image, whole


def model_healthy_stats(
    train: np.ndarray, val: np.ndarray, val_reconstructions: np.ndarray | None
) -> HealthyStats:
    """A model's statistics: per-pixel image mean/std of the training slices (``pixel_zscore``)
    and the residual mean/std of its reconstructions of the validation slices
    (``residual_zscore``; none when there are no validation slices). All (N, H, W) float32."""
    pixels = healthy_stats(train)
    if val_reconstructions is None or len(val) == 0:
        return pixels
    residuals = healthy_stats(val, val_reconstructions)
    return HealthyStats(
        pixels.image_mean, pixels.image_std, residuals.residual_mean, residuals.residual_std
    )


def save_blurred_stats(path: str | Path, stats: Mapping[float, HealthyStats]) -> None:
    """Write per-sigma statistics (``scores.blurred_healthy_stats``) to one .npz: ``sigma``
    (S,) float64, ``image_mean``/``image_std`` (H, W) and ``residual_mean``/``residual_std``
    (S, H, W) float32."""
    sigmas = list(stats)
    first = stats[sigmas[0]]
    with open(path, "wb") as fh:  # a handle: np.savez would append ".npz" to the name
        np.savez(
            fh,
            sigma=np.asarray(sigmas, dtype=np.float64),
            image_mean=first.image_mean,
            image_std=first.image_std,
            residual_mean=np.stack([stats[s].residual_mean for s in sigmas]),
            residual_std=np.stack([stats[s].residual_std for s in sigmas]),
        )


def load_blurred_stats(path: str | Path) -> dict[float, HealthyStats]:
    """Read ``save_blurred_stats``'s file: float(sigma) -> HealthyStats."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    missing = {"sigma", "image_mean", "image_std", "residual_mean", "residual_std"} - set(arrays)
    if missing:
        raise ValueError(f"{path}: arrays {sorted(missing)} are missing (per-sigma statistics)")
    return {
        float(sigma): HealthyStats(
            arrays["image_mean"],
            arrays["image_std"],
            arrays["residual_mean"][s],
            arrays["residual_std"][s],
        )
        for s, sigma in enumerate(arrays["sigma"])
    }


def check_zoo(
    specs: Mapping[str, ScorerSpec],
    metrics: Sequence[str],
    *,
    has_train: bool,
    has_val: bool,
    has_models: bool,
) -> None:
    """The zoo's start-up checks on resolved scorers; each error names its key: every user
    function (not a built-in) runs once on a small synthetic batch (``check_scorer``: a wrong
    shape or NaN/inf is a ``ScoreError`` naming it), then
    :func:`~residual_pitfalls.scorers.entries.check_zoo_needs` (statistics vs. the split, metric
    names)."""
    for spec in specs.values():
        if spec.source not in SCORES:  # statistics, if it needs them, from its test batch
            check_scorer(spec)
    entries = {
        name: Entry(name, spec.source, spec.source not in SCORES, spec.needs_stats)
        for name, spec in specs.items()
    }
    check_zoo_needs(entries, metrics, has_train=has_train, has_val=has_val, has_models=has_models)
