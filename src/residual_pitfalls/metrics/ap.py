"""Exact and fast per-image average precision (SPEC sections 4 and 8.4).

The paper's metric is ``sklearn.metrics.average_precision_score`` on one flattened anomaly map:
the step-wise AP ``sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds, no
interpolation. Grouping the thresholds by the distinct *positive* scores gives the equivalent,
tie-aware form used by every fast path here::

    AP = sum over distinct positive scores v, descending, of
         (n_pos(== v) / P) * TP(>= v) / (TP(>= v) + FP(>= v))

with ``FP(>= v) = N_neg - searchsorted(neg_sorted, v, 'left')``. Thresholds at which only
negatives change add nothing (recall does not move), so only the positives need to be visited.
This equals sklearn to rounding (<= 1e-15 here; tested to <= 1e-12).

Entry points:

* :func:`average_precision_reference` - sklearn itself, the test oracle.
* :func:`average_precision` / :func:`average_precision_batch` - general maps (texture anomalies,
  reconstructions of anomalous images): sort the positives and only the negatives that can
  outrank one (a radix sort for float32), then one compiled tie-aware pass over the positives
  from the top, whose negative count moves down the sorted negatives monotonically.
* :func:`average_precision_per_intensity` - Exp 1, App. C and Exp 3.1, where the negatives'
  scores do not depend on the anomaly intensity ``I`` and the positives' scores are
  ``|r - float32(I)|``: the negatives are sorted once for all ``K`` intensities, and for each
  intensity the positives' scores come out already sorted (descending) from one ascending sort of
  the reconstruction values, because ``|p - I|`` is V-shaped in ``p``. Only negatives at or above
  the smallest positive score over all intensities are kept. For float32 the counts come from a
  bucket table over the float32 bit patterns of the sorted negatives (exact: the key is monotone
  in the value, and the last bucket is searched by comparisons).

Conventions shared by all paths (identical to sklearn 1.9 on 0/1 labels):

* scores are compared in their own dtype; float32 -> float64 is exact, so float32 ties are exactly
  the ties sklearn sees. float16 scores are widened to float32, integer scores to float64.
* A map without positives returns ``0.0`` and emits :class:`NoPositivesWarning`, a
  ``UserWarning`` with sklearn's message, as sklearn does.
* A map without negatives returns ``1.0``. NaN or infinite scores raise ``ValueError`` (sklearn
  does too), so do empty inputs, labels outside ``{0, 1}`` and mismatched shapes.

The numba kernels compile on first use and are cached on disk (``cache=True``); when no cache
directory is writable they are compiled without caching instead of failing. They release the GIL.

Speed (benchmarks/ap_engine.py: 256x256 synthetic slices, ~1,045-1,245 positives, one shared core,
2026-12-04): sklearn 4-13 ms per map depending on the machine's load; the general path ~38-66 us
per map (~90x in the same run); the per-intensity path ~4.5-6.7 us per AP with 100 intensities per
call (~8-10 us counting the caller's extraction of the scores; ~500x).
"""

from __future__ import annotations

import warnings

import numpy as np

from residual_pitfalls.metrics.kernels import (
    _ap_sorted,
    _intensity_aps_by_scan,
    _intensity_aps_by_table,
    _sorted,
)

__all__ = [
    "NoPositivesWarning",
    "average_precision",
    "average_precision_batch",
    "average_precision_per_intensity",
    "average_precision_reference",
]

# The exact message sklearn 1.9 emits from precision_recall_curve for a map without positives.
_NO_POSITIVES_MESSAGE = (
    "No positive class found in y_true, recall is set to one for all thresholds."
)


class NoPositivesWarning(UserWarning):
    """A map has no positive pixel; its AP is 0.0 (sklearn's value and message)."""


# --------------------------------------------------------------------------------------------
# validation


def _as_scores(scores: object, name: str) -> np.ndarray:
    """Flatten ``scores`` to a 1-D float32/float64 array; reject empty or non-finite input."""
    arr = np.asarray(scores)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ValueError(f"{name} must be real numbers (float32 expected), got dtype {arr.dtype}")
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)  # exact
    elif arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    arr = arr.reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name} is empty; expected at least one score")
    # min/max propagate NaN, so two reductions find NaN and +-inf
    if not (np.isfinite(arr.min()) and np.isfinite(arr.max())):
        raise ValueError(f"{name} contains NaN or infinite values; expected finite scores")
    return arr


def _as_labels(labels: object, shape: tuple[int, ...]) -> np.ndarray:
    """Flatten ``labels`` (bool, or numbers in {0, 1}) of ``shape`` to a 1-D bool array."""
    arr = np.asarray(labels)
    if arr.shape != shape:
        raise ValueError(f"labels have shape {arr.shape} but scores have shape {shape}")
    if arr.dtype != np.bool_:
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise ValueError(f"labels must be bool or 0/1 numbers, got dtype {arr.dtype}")
        if arr.size and not np.all((arr == 0) | (arr == 1)):
            bad = np.unique(arr[(arr != 0) & (arr != 1)])[:5].tolist()
            raise ValueError(f"labels must be bool or in {{0, 1}}, got values {bad}")
        arr = arr != 0
    return arr.reshape(-1)


def _warn_no_positives(stacklevel: int) -> None:
    """Warn as sklearn does; ``stacklevel`` counts from the caller of this function."""
    warnings.warn(_NO_POSITIVES_MESSAGE, NoPositivesWarning, stacklevel=stacklevel + 1)


# --------------------------------------------------------------------------------------------
# public API


def average_precision_reference(labels: np.ndarray, scores: np.ndarray) -> float:
    """sklearn.metrics.average_precision_score on flattened inputs (the test oracle).

    Args:
        labels: any shape, bool or 0/1 (1 = anomalous pixel).
        scores: same shape, real; higher = more anomalous.

    Returns:
        AP in [0, 1] as a Python float, exactly sklearn's value (and its warnings).
    """
    from sklearn.metrics import average_precision_score  # slow import, oracle only

    labels = np.asarray(labels)
    scores = np.asarray(scores)
    if labels.shape != scores.shape:
        raise ValueError(f"labels have shape {labels.shape} but scores have shape {scores.shape}")
    return float(average_precision_score(labels.reshape(-1), scores.reshape(-1)))


def _ap_flat(labels: np.ndarray, scores: np.ndarray, stacklevel: int) -> float:
    """AP of validated 1-D bool labels and finite float scores; warns when there is no positive."""
    pos = scores[labels]
    if pos.size == 0:
        _warn_no_positives(stacklevel + 1)
        return 0.0
    pos = _sorted(pos)
    # negatives below the lowest positive score never outrank a positive: leave them out
    neg = scores[~labels & (scores >= pos[0])]
    return float(_ap_sorted(pos, _sorted(neg)))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """General fast path; any shape, labels bool/0-1, scores float. Equal to the reference.

    Args:
        labels: any shape, bool or numbers in {0, 1}.
        scores: same shape, float32 (float64/integers accepted), finite; e.g. a ``(H, W)``
            anomaly map.

    Returns:
        sklearn's step-wise AP in [0, 1] (to <= 1e-12). No positive pixel: 0.0 and a
        :class:`NoPositivesWarning`; no negative pixel: 1.0.
    """
    scores_flat = _as_scores(scores, "scores")
    labels_flat = _as_labels(labels, np.shape(scores))
    return _ap_flat(labels_flat, scores_flat, stacklevel=2)


def average_precision_batch(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(B, ...) labels and scores -> (B,) float64 APs, one per map.

    Args:
        labels: ``(B, ...)`` bool or 0/1, e.g. ``(B, H, W)``.
        scores: ``(B, ...)`` float32 (float64/integers accepted), same shape as ``labels``.

    Returns:
        ``(B,)`` float64 in [0, 1]; map ``b`` equals ``average_precision(labels[b], scores[b])``.
    """
    shape = np.shape(scores)
    if len(shape) < 1 or shape[0] == 0:
        raise ValueError(f"scores must have shape (B, ...) with B >= 1, got {shape}")
    if len(shape) == 1:
        raise ValueError(f"scores must have shape (B, ...) with per-map pixels, got {shape}")
    scores_2d = _as_scores(scores, "scores").reshape(shape[0], -1)
    labels_2d = _as_labels(labels, shape).reshape(shape[0], -1)
    if scores_2d.shape[1] == 0:
        raise ValueError(f"scores have no pixels per map, shape {shape}")
    out = np.empty(shape[0], dtype=np.float64)
    for b in range(shape[0]):  # a plain loop: its warnings then point at the caller
        out[b] = _ap_flat(labels_2d[b], scores_2d[b], stacklevel=2)
    return out


def average_precision_per_intensity(
    neg_scores: np.ndarray, pos_values: np.ndarray, intensities: np.ndarray
) -> np.ndarray:
    """(M,) negatives' scores, (P,) float32 reconstruction values at the label pixels, (K,)
    intensities -> (K,) float64 APs, where the positives' scores for intensity I are
    |pos_values - float32(I)|.

    Result ``k`` equals ``average_precision`` of the map whose negatives score ``neg_scores``
    and whose positives score ``np.abs(pos_values - pos_values.dtype.type(intensities[k]))``
    (computed in ``pos_values``'s dtype, as ``|recon - anomalous|`` is in a float32 map).

    Args:
        neg_scores: ``(M,)`` (any shape, flattened) finite scores of the label-0 pixels, e.g.
            ``|recon - image|[~label]`` float32 in [0, 1]; M may be 0.
        pos_values: ``(P,)`` float32 (or float64) finite reconstruction values ``recon[label]``.
        intensities: ``(K,)`` finite anomaly intensities, e.g. ``np.linspace(0, 1, 100)``; cast
            to ``pos_values.dtype`` first.

    Returns:
        ``(K,)`` float64 APs in [0, 1]. ``P == 0``: all 0.0 and one :class:`NoPositivesWarning`.
    """
    pos = np.asarray(pos_values)
    if pos.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"pos_values must be float32 (the dtype of the anomaly map), got dtype {pos.dtype}"
        )
    pos = pos.reshape(-1)
    if pos.size and not (np.isfinite(pos.min()) and np.isfinite(pos.max())):
        raise ValueError("pos_values contains NaN or infinite values; expected finite values")
    neg = np.asarray(neg_scores)
    neg = _as_scores(neg, "neg_scores") if neg.size else neg.reshape(-1).astype(pos.dtype)
    inten = np.asarray(intensities)
    if not (np.issubdtype(inten.dtype, np.floating) or np.issubdtype(inten.dtype, np.integer)):
        raise ValueError(f"intensities must be real numbers, got dtype {inten.dtype}")
    with np.errstate(over="ignore"):  # out-of-range values become inf, rejected below
        inten = inten.reshape(-1).astype(pos.dtype)
    if inten.size and not np.all(np.isfinite(inten)):
        raise ValueError(
            f"intensities contain NaN or infinite values (after the cast to {pos.dtype}); "
            "expected finite intensities"
        )
    out = np.zeros(inten.size, dtype=np.float64)
    if pos.size == 0:
        if inten.size:
            _warn_no_positives(stacklevel=2)
        return out
    if inten.size:
        pos = _sorted(pos)
        # the smallest positive score over all intensities sits next to each intensity's
        # insertion point (|p - I| is V-shaped in p); negatives below it never count
        at = np.searchsorted(pos, inten)
        below = np.abs(pos[np.maximum(at - 1, 0)] - inten)
        above = np.abs(pos[np.minimum(at, pos.size - 1)] - inten)
        lowest = min(below.min(), above.min())
        relevant = neg[neg >= lowest]
        if relevant.dtype == np.float32 and pos.dtype == np.float32:
            _intensity_aps_by_table(relevant, pos, inten, out)
        else:
            _intensity_aps_by_scan(relevant, pos, inten, out)
    return out
