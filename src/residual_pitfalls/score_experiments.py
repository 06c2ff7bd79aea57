"""The scorer zoo on Exp 2 and Exp 3 (Exp 1 is ``scores.scored_intensity_sigma_grid``).

Reconstruct once, score many: every sweep here makes each reconstruction (a blur, a model's
forward pass) once and hands it to every scorer it was given. Each returns tidy frames with a
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
from residual_pitfalls.experiments import _check_inputs, disk_anomalous_images, texture_rng
from residual_pitfalls.metrics import average_precision_batch, best_dice, mean_auroc, pooled_ap
from residual_pitfalls.reconstruction import blur
from residual_pitfalls.scores import (
    SCORES,
    HealthyStats,
    ScorerSpec,
    check_scorer,
    healthy_stats,
    score_maps,
)
from residual_pitfalls.settings import ConfigError


# config evaluation.metrics: name -> fn((N, H, W) bool labels, (N, H, W) maps) -> float, each
# over all test images at once (the per-image AP stays the main metric).
def _best_dice(labels: np.ndarray, maps: np.ndarray) -> float:
    """Dice at the best of 100 thresholds over the scores' range (the threshold is dropped)."""
    return best_dice(labels, maps)[0]


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "pooled_ap": pooled_ap,
    "auroc": mean_auroc,
    "best_dice": _best_dice,
}

Stats = HealthyStats | Mapping[float, HealthyStats] | None


def _stats_at(stats: Stats, sigma: float) -> HealthyStats | None:
    """One sigma's statistics from a per-sigma mapping (Exp 1/2), or `stats` itself."""
    if isinstance(stats, Mapping):
        return stats[float(sigma)]
    return stats


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
    _check_inputs(images, centres)
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
                spec, anomalous, recon, stats=_stats_at(stats, sigma), brain_masks=brains
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


def scored_model_curves(
    images: np.ndarray,
    centres: np.ndarray,
    reconstruct: Callable[[np.ndarray], np.ndarray],
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

    reconstruct: (N, H, W) float32 -> (N, H, W) float32, called once per intensity (3.2) or once
    in all (3.1). stats: the model's HealthyStats, given to the scorers that need it. metrics:
    names of :data:`METRICS`, each over all test images per (scorer, intensity).
    Returns (per image: score, image, intensity, ap; pooled: score, intensity, <metrics>).
    """
    _check_inputs(images, centres)
    if mode not in ("healthy", "anomalous"):
        raise ValueError(f"mode must be 'healthy' or 'anomalous', got {mode!r}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown} (known: {', '.join(METRICS)})")
    intensities = np.asarray(intensities, dtype=np.float64)
    labels = np.stack(
        [
            disk_label(img, (int(c[0]), int(c[1])), radius)
            for img, c in zip(images, centres, strict=True)
        ]
    )
    brains = images > 0  # the healthy mask: a dark disk must not shrink the brain for `erode`
    healthy_rec = reconstruct(images) if mode == "healthy" else None
    n, k = len(images), len(intensities)
    aps = {name: np.empty((n, k)) for name in specs}
    pooled = {name: {m: np.empty(k) for m in metrics} for name in specs}
    desc = f"Exp 3 {mode}"
    for j, value in enumerate(tqdm(intensities, desc=desc, disable=not progress)):
        anomalous, _ = disk_anomalous_images(images, centres, radius, value)
        rec = healthy_rec if healthy_rec is not None else reconstruct(anomalous)
        for name, spec in specs.items():
            maps = score_maps(
                spec, anomalous, rec, stats=stats if spec.needs_stats else None, brain_masks=brains
            )
            aps[name][:, j] = average_precision_batch(labels, maps)
            for metric in metrics:
                pooled[name][metric][j] = METRICS[metric](labels, maps)
    per_image = pd.DataFrame(
        {
            "score": np.repeat(list(specs), n * k),
            "image": np.tile(np.repeat(np.arange(n, dtype=np.int32), k), len(specs)),
            "intensity": np.tile(intensities, n * len(specs)),
            "ap": np.concatenate([aps[name].ravel() for name in specs]),
        }
    )
    whole = pd.DataFrame(
        {
            "score": np.repeat(list(specs), k),
            "intensity": np.tile(intensities, len(specs)),
            **{m: np.concatenate([pooled[name][m] for name in specs]) for m in metrics},
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


def zoo_entries(config_scores: Mapping | None) -> dict:
    """The config ``scores:`` entries that run: None (key absent) is every built-in with its
    defaults; an entry set to ``false`` is left out (an overlay config cannot delete a key)."""
    if config_scores is None:
        return {name: {} for name in SCORES}
    return {str(k): v for k, v in config_scores.items() if v is not False}


def check_zoo(
    specs: Mapping[str, ScorerSpec],
    metrics: Sequence[str],
    *,
    has_train: bool,
    has_val: bool,
    has_models: bool,
) -> None:
    """Start-up checks of the configured zoo beyond ``resolve_scorers``; each error names its key.

    * every user function (not a built-in) runs once on a small synthetic batch (with synthetic
      statistics if it needs them): a wrong shape or NaN/inf is a ``ScoreError`` naming it;
    * a scorer that needs healthy statistics needs training slices (per-pixel image statistics;
      Exp 1/2 residuals of the blurred training slices), and on a model also validation slices
      (the model's residuals on healthy slices it was not trained on) unless it is
      ``pixel_zscore``, which uses the image statistics only;
    * every metric is a key of :data:`METRICS`.
    """
    for name, spec in specs.items():
        if spec.source not in SCORES:
            check_scorer(spec, _synthetic_stats() if spec.needs_stats else None)
        if not spec.needs_stats:
            continue
        if not has_train:
            raise ConfigError(
                f"config key 'scores.{name}': {spec.source!r} needs healthy statistics from the "
                "training slices, but the data set has no training slices"
            )
        if has_models and spec.source != "pixel_zscore" and not has_val:
            raise ConfigError(
                f"config key 'scores.{name}': {spec.source!r} needs each model's residuals on "
                "healthy validation slices, but there are none (split.val_fraction is 0); set "
                "split.val_fraction > 0 or leave this scorer out"
            )
    for metric in metrics:
        if metric not in METRICS:
            raise ConfigError(
                f"config key 'evaluation.metrics': unknown metric {metric!r} "
                f"(known: {', '.join(METRICS)})"
            )


def _synthetic_stats(size: int = 16) -> HealthyStats:
    """Statistics of random 2 x size x size images and their noisy copies (start-up checks)."""
    rng = np.random.default_rng([0, size])
    images = rng.random((2, size, size), dtype=np.float32)
    return healthy_stats(images, np.clip(images + np.float32(0.05), 0, 1))
