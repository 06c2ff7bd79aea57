"""Metrics other benchmarks report (scorer zoo): pooled AP, per-image AUROC, best Dice."""

from __future__ import annotations

import warnings

import numpy as np

from residual_pitfalls.metrics.ap import _ap_flat, _as_labels, _as_scores

# --------------------------------------------------------------------------------------------
# metrics other benchmarks report (scorer zoo): pooled AP, per-image AUROC, best Dice

__all__ = ["auroc_per_image", "best_dice", "mean_auroc", "pooled_ap"]


def _check_stack(labels: object, maps: object) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(N, P)`` bool labels and finite float scores from ``(N, ...)`` inputs."""
    shape = np.shape(maps)
    if len(shape) < 2 or shape[0] == 0:
        raise ValueError(f"maps must have shape (N, H, W) with N >= 1, got {shape}")
    scores = _as_scores(maps, "maps").reshape(shape[0], -1)
    return _as_labels(labels, shape).reshape(shape[0], -1), scores


def pooled_ap(labels: np.ndarray, maps: np.ndarray) -> float:
    """AP over all pixels of all images pooled (the MOOD challenge's pixel-level metric).

    Args:
        labels: ``(N, H, W)`` bool or 0/1; maps: ``(N, H, W)`` float32 finite scores.

    Returns:
        sklearn's AP of the flattened stack (to <= 1e-12); no positive at all: 0.0 and a
        :class:`NoPositivesWarning`.
    """
    labels_2d, scores_2d = _check_stack(labels, maps)
    return _ap_flat(labels_2d.reshape(-1), scores_2d.reshape(-1), stacklevel=2)


def auroc_per_image(labels: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """(N,) float64 per-image AUROC (sklearn's ``roc_auc_score``, ties counted half); NaN for an
    image without positive or without negative pixels (AUROC undefined there).

    Mann-Whitney U / (P * N_neg) with U = sum over negatives of #(positives above) +
    #(positives tied) / 2: the positives are sorted and each negative is located among them
    (two searchsorted), so the many negatives are never sorted; the counts are exact integers.
    """
    labels_2d, scores_2d = _check_stack(labels, maps)
    out = np.full(len(scores_2d), np.nan)
    for i, (lab, sc) in enumerate(zip(labels_2d, scores_2d, strict=True)):
        pos = np.sort(sc[lab])
        neg = sc[~lab]
        if pos.size and neg.size:
            # negatives below every positive add 2P to 2U, above every positive 0: search
            # only those in between (few, for a useful map)
            between = neg[(neg >= pos[0]) & (neg <= pos[-1])]
            n_low = int(np.count_nonzero(neg < pos[0]))
            twice_u = 2 * pos.size * (n_low + between.size)
            twice_u -= int(np.searchsorted(pos, between, "right").sum(dtype=np.int64))
            twice_u -= int(np.searchsorted(pos, between, "left").sum(dtype=np.int64))
            out[i] = twice_u / (2 * pos.size * neg.size)
    return out


def mean_auroc(labels: np.ndarray, maps: np.ndarray) -> float:
    """Mean of :func:`auroc_per_image` over the images where it is defined.

    Images without positive or without negative pixels are left out with a ``UserWarning``
    saying how many; NaN (and the warning) when no image has both.
    """
    per_image = auroc_per_image(labels, maps)
    undefined = int(np.isnan(per_image).sum())
    if undefined:
        warnings.warn(
            f"AUROC is undefined for {undefined} of {per_image.size} images (no positive or no "
            "negative pixel); they are left out of the mean",
            UserWarning,
            stacklevel=2,
        )
    if undefined == per_image.size:
        return float("nan")
    return float(np.nanmean(per_image))


def best_dice(labels: np.ndarray, maps: np.ndarray, n_thresholds: int = 100) -> tuple[float, float]:
    """Best Dice of all pixels pooled, over ``n_thresholds`` thresholds spanning the scores.

    The thresholds are ``np.linspace(min, max, n_thresholds)`` of all scores (float64); a pixel
    is predicted anomalous when ``score >= t``. Dice = 2 TP / (predicted + P). Ties between
    thresholds go to the lowest threshold.

    Args:
        labels: ``(N, H, W)`` bool or 0/1 with at least one positive; maps: same shape, finite.
        n_thresholds: >= 1.

    Returns:
        ``(dice in [0, 1], threshold)`` as Python floats.
    """
    if isinstance(n_thresholds, bool) or not isinstance(n_thresholds, int) or n_thresholds < 1:
        raise ValueError(f"n_thresholds must be an int >= 1, got {n_thresholds!r}")
    labels_2d, scores_2d = _check_stack(labels, maps)
    flat = scores_2d.reshape(-1)
    lab = labels_2d.reshape(-1)
    n_pos = int(lab.sum())
    if n_pos == 0:
        raise ValueError("labels have no positive pixel: Dice of the best threshold is undefined")
    everything = np.sort(flat).astype(np.float64)  # compared in float64 with the thresholds
    positives = np.sort(flat[lab]).astype(np.float64)
    thresholds = np.linspace(float(everything[0]), float(everything[-1]), n_thresholds)
    predicted = flat.size - np.searchsorted(everything, thresholds, "left")
    tp = n_pos - np.searchsorted(positives, thresholds, "left")
    dice = 2.0 * tp / (predicted + n_pos)
    best = int(np.argmax(dice))
    return float(dice[best]), float(thresholds[best])
