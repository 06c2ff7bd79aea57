"""Pooled AP, per-image AUROC and best Dice against sklearn and brute force."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from residual_pitfalls.metrics.ap import NoPositivesWarning
from residual_pitfalls.metrics.segmentation import auroc_per_image, best_dice, mean_auroc, pooled_ap


def stack(seed: int, n: int = 4, size: int = 12, levels: int | None = None):
    """(n, size, size) labels (a blob per image, one image empty) and noisy scores."""
    rng = np.random.default_rng([seed, n, size])
    labels = np.zeros((n, size, size), bool)
    for i in range(1, n):
        r, c = rng.integers(2, size - 4, 2)
        labels[i, r : r + 3, c : c + 4] = True
    maps = (rng.random(labels.shape) + 0.6 * labels).astype(np.float32)
    if levels:
        maps = np.round(maps * levels) / np.float32(levels)  # ties across and within classes
    return labels, maps


@pytest.mark.parametrize("levels", [None, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pooled_ap_is_sklearn_on_all_pixels(seed, levels):
    labels, maps = stack(seed, levels=levels)
    ref = average_precision_score(labels.ravel(), maps.ravel())
    assert abs(pooled_ap(labels, maps) - ref) <= 1e-12
    # pooling differs from the mean of per-image APs
    assert pooled_ap(labels, maps) != pytest.approx(
        np.mean(
            [
                average_precision_score(lab.ravel(), m.ravel())
                for lab, m in zip(labels[1:], maps[1:], strict=True)
            ]
        )
    )


def test_pooled_ap_without_positives_warns():
    labels, maps = stack(0)
    with pytest.warns(NoPositivesWarning):
        assert pooled_ap(np.zeros_like(labels), maps) == 0.0


@pytest.mark.parametrize("levels", [None, 3])
def test_auroc_per_image_is_sklearn(levels):
    labels, maps = stack(5, n=5, levels=levels)
    labels[2] = True  # no negative
    got = auroc_per_image(labels, maps)
    assert np.isnan(got[0]) and np.isnan(got[2])  # no positive / no negative
    for i in (1, 3, 4):
        assert abs(got[i] - roc_auc_score(labels[i].ravel(), maps[i].ravel())) <= 1e-12
    with pytest.warns(UserWarning, match="undefined for 2 of 5 images"):
        mean = mean_auroc(labels, maps)
    assert mean == pytest.approx(np.mean(got[[1, 3, 4]]), abs=1e-15)


def test_mean_auroc_all_defined_and_none_defined():
    labels, maps = stack(7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = mean_auroc(labels[1:], maps[1:])
    ref = np.mean(
        [roc_auc_score(lab.ravel(), m.ravel()) for lab, m in zip(labels[1:], maps[1:], strict=True)]
    )
    assert abs(value - ref) <= 1e-12
    with pytest.warns(UserWarning, match="undefined for 1 of 1"):
        assert np.isnan(mean_auroc(labels[:1], maps[:1]))


def brute_dice(labels, maps, n):
    thresholds = np.linspace(float(maps.min()), float(maps.max()), n)
    best = (-1.0, 0.0)
    for t in thresholds:
        pred = maps.astype(np.float64) >= t
        d = 2 * np.sum(pred & labels) / (pred.sum() + labels.sum())
        if d > best[0]:
            best = (d, t)
    return best


@pytest.mark.parametrize("levels", [None, 5])
@pytest.mark.parametrize("n", [1, 7, 100])
def test_best_dice_is_brute_force(levels, n):
    labels, maps = stack(3, levels=levels)
    dice, threshold = best_dice(labels, maps, n_thresholds=n)
    ref_dice, ref_t = brute_dice(labels, maps, n)
    assert dice == pytest.approx(ref_dice, abs=1e-15) and threshold == ref_t
    if n == 100:
        assert 0.3 < dice < 1


def test_best_dice_perfect_separation_and_errors():
    labels, maps = stack(4)
    dice, t = best_dice(labels, labels.astype(np.float32) * 0.5 + 0.25)
    assert dice == 1.0 and t == np.linspace(0.25, 0.75, 100)[1]  # the lowest that separates
    with pytest.raises(ValueError, match="no positive pixel"):
        best_dice(np.zeros_like(labels), maps)
    with pytest.raises(ValueError, match="n_thresholds"):
        best_dice(labels, maps, n_thresholds=0)
    with pytest.raises(ValueError, match="NaN"):
        best_dice(labels, np.where(labels, np.nan, maps))
    with pytest.raises(ValueError, match="shape"):
        pooled_ap(labels[:, :-1], maps)
