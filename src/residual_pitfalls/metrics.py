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
* :func:`average_precision_intensity_sweep` - Exp 1, App. C and Exp 3.1, where the negatives'
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
per map (~90x in the same run); the intensity sweep ~4.5-6.7 us per AP with 100 intensities per
call (~8-10 us counting the caller's extraction of the scores; ~500x).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numba
import numpy as np

__all__ = [
    "NoPositivesWarning",
    "average_precision",
    "average_precision_batch",
    "average_precision_intensity_sweep",
    "average_precision_reference",
]

# The exact message sklearn 1.9 emits from precision_recall_curve for a map without positives.
_NO_POSITIVES_MESSAGE = (
    "No positive class found in y_true, recall is set to one for all thresholds."
)


class NoPositivesWarning(UserWarning):
    """A map has no positive pixel; its AP is 0.0 (sklearn's value and message)."""


def _jit(func: Callable) -> Callable:
    """``numba.njit(cache=True, nogil=True)``, without the disk cache if none is usable.

    numba looks for a writable cache directory when the decorator is applied and raises
    ``RuntimeError`` if there is none (read-only install, no writable home); compiling in memory
    on every process start is slower but correct.
    """
    try:
        return numba.njit(cache=True, nogil=True)(func)
    except RuntimeError:
        return numba.njit(cache=False, nogil=True)(func)


# --------------------------------------------------------------------------------------------
# compiled kernels

_BLOCK = 64  # stride of the coarse skip in _count_below (bounds the linear scan)
_RADIX_MIN = 256  # below this many elements np.sort is faster than the radix sort


@_jit
def _radix_sort_f32(x):  # pragma: no cover - compiled
    """Ascending copy of finite float32 ``x`` (1-D, contiguous): LSD radix sort, 3 x 11 bits.

    The bit patterns are mapped to order-preserving uint32 keys (flip all bits of negatives,
    the sign bit of the rest); -0.0 lands just before +0.0, which compare equal anyway.
    np.sort here is a comparison sort, ~4x slower on the ~25k-65k residuals of one map.
    """
    n = x.shape[0]
    if n == 0:
        return x.copy()
    bits = x.view(np.uint32)
    keys = np.empty(n, np.uint32)
    hist = np.zeros((3, 2048), np.int64)
    for i in range(n):
        b = bits[i]
        k = b ^ np.uint32(0xFFFFFFFF) if b >> np.uint32(31) else b ^ np.uint32(0x80000000)
        keys[i] = k
        hist[0, k & np.uint32(0x7FF)] += 1
        hist[1, (k >> np.uint32(11)) & np.uint32(0x7FF)] += 1
        hist[2, k >> np.uint32(22)] += 1
    spare = np.empty(n, np.uint32)
    for p in range(3):
        h = hist[p]
        first = 0
        while h[first] == 0:
            first += 1
        if h[first] == n:
            continue  # every key has the same digit: the pass would not move anything
        total = 0
        for d in range(2048):
            c = h[d]
            h[d] = total
            total += c
        shift = np.uint32(11 * p)
        for i in range(n):
            k = keys[i]
            d = (k >> shift) & np.uint32(0x7FF)
            spare[h[d]] = k
            h[d] += 1
        keys, spare = spare, keys
    for i in range(n):
        k = keys[i]
        spare[i] = k ^ np.uint32(0x80000000) if k >> np.uint32(31) else k ^ np.uint32(0xFFFFFFFF)
    return spare.view(np.float32)


@_jit
def _count_below(neg_asc, v, hi):  # pragma: no cover - compiled
    """``searchsorted(neg_asc[:hi], v, 'left')``, given that ``neg_asc[hi:] >= v`` already.

    The positives are visited in descending score order, so the answer is usually a few steps
    below the previous one (measured: mostly 0, mean ~4): a plain linear scan beats galloping or
    a bucket table (branch prediction); the coarse skip bounds the cost of long jumps.
    """
    while hi > _BLOCK and neg_asc[hi - _BLOCK] >= v:
        hi -= _BLOCK
    while hi > 0 and neg_asc[hi - 1] >= v:
        hi -= 1
    return hi


@_jit
def _ap_sorted(pos_asc, neg_asc):  # pragma: no cover - compiled
    """AP of ``P >= 1`` ascending positive scores against ascending negative scores.

    Negatives below ``pos_asc[0]`` may be left out: they never outrank a positive.
    """
    n_pos = pos_asc.shape[0]
    n_neg = neg_asc.shape[0]
    hi = n_neg
    acc = 0.0
    j = n_pos - 1
    while j >= 0:
        v = pos_asc[j]
        i = j - 1
        while i >= 0 and pos_asc[i] == v:
            i -= 1
        tp = n_pos - 1 - i  # positives with score >= v
        hi = _count_below(neg_asc, v, hi)
        acc += (j - i) * tp / (tp + (n_neg - hi))
        j = i
    return acc / n_pos


# Exp 1 fast path for float32: a bucket table over the float32 bit patterns of the sorted
# negatives (monotone in the value for values > 0) answers each count from one table read and a
# few branch-free comparisons, with no dependence on the previous answer. It beats the
# monotone scan of _count_below ~2x when positives and negatives interleave (large sigma).
_TABLE_SLOTS = 4  # comparisons per lookup; longer buckets fall back to a binary search
_TABLE_PER_NEG = 4  # table entries per negative (bounds the table at 16 bytes per negative)


@_jit
def _bit_table(neg_pad, n_neg, n_zero, n_buckets):  # pragma: no cover - compiled
    """Bucket table of ascending float32 ``neg_pad[:n_neg]`` (values >= +0.0).

    ``neg_pad[:n_zero]`` are the zeros; the strictly positive rest ``neg_pad[n_zero:n_neg]``
    is split by ``bits >> shift`` into at most ``n_buckets`` buckets. Returns ``(starts, shift,
    key_base)``: ``starts[k]`` (int32) is the index of the first negative of bucket ``k``.
    """
    bits = neg_pad.view(np.uint32)
    lo = np.int64(bits[n_zero])
    hi = np.int64(bits[n_neg - 1])
    shift = 0
    while (hi >> shift) - (lo >> shift) >= n_buckets:
        shift += 1
    key_base = lo >> shift
    n_keys = (hi >> shift) - key_base + 1
    starts = np.zeros(n_keys + 1, np.int32)
    starts[0] = n_zero
    for i in range(n_zero, n_neg):
        starts[(np.int64(bits[i]) >> shift) - key_base + 1] += 1
    for k in range(n_keys):
        starts[k + 1] += starts[k]
    return starts, shift, key_base


@_jit
def _sweep(  # pragma: no cover - compiled
    neg_asc, n_neg, n_zero, starts, shift, key_base, use_table, pos_asc, intensities, out
):
    """``out[k]`` = AP with positive scores ``|pos_asc - intensities[k]|`` (in pos_asc's dtype),
    against the ``n_neg`` ascending negatives ``neg_asc[:n_neg]``.

    ``|p - I|`` rounded is non-increasing in ``p`` below ``I`` and non-decreasing above, so
    taking the larger of the two ends of ``pos_asc`` repeatedly yields the scores in descending
    order; all copies of the current maximum sit at the two ends. The negatives below each score
    are counted in the bucket table if ``use_table`` (float32 negatives >= +0.0, ``n_zero`` zeros
    first, ``_TABLE_SLOTS`` trailing +inf, table from ``_bit_table``), else by the monotone scan
    ``_count_below`` (``n_zero``, ``starts``, ``shift``, ``key_base`` unused). The table lookup is
    written out here: as a called function it ran ~8x slower (not inlined).
    """
    n_pos = pos_asc.shape[0]
    top = neg_asc[n_neg - 1] if n_neg > 0 else -np.inf
    bottom = neg_asc[n_zero] if n_zero < n_neg else np.inf  # smallest positive negative
    for k in range(intensities.shape[0]):
        t = intensities[k]
        a = 0
        b = n_pos - 1
        sa = abs(pos_asc[a] - t)
        sb = abs(pos_asc[b] - t)
        hi = n_neg
        tp = 0
        acc = 0.0
        while a <= b:
            v = sa if sa >= sb else sb
            tie = 0
            while a <= b and sa == v:
                tie += 1
                a += 1
                if a <= b:
                    sa = abs(pos_asc[a] - t)
            while a <= b and sb == v:
                tie += 1
                b -= 1
                if a <= b:
                    sb = abs(pos_asc[b] - t)
            tp += tie
            if use_table:
                if v > top:
                    hi = n_neg
                elif v <= bottom:
                    hi = n_zero if v > 0 else 0
                else:
                    key = (np.int64(np.float32(v).view(np.uint32)) >> shift) - key_base
                    first = starts[key]
                    c = 0
                    for i in range(_TABLE_SLOTS):
                        c += neg_asc[first + i] < v
                    hi = first + c
                    if c == _TABLE_SLOTS:
                        lo = hi
                        up = starts[key + 1]
                        while lo < up:
                            mid = (lo + up) >> 1
                            if neg_asc[mid] < v:
                                lo = mid + 1
                            else:
                                up = mid
                        hi = lo
            else:
                hi = _count_below(neg_asc, v, hi)
            acc += tie * tp / (tp + (n_neg - hi))
        out[k] = acc / n_pos


def _sweep_float32(
    neg: np.ndarray, pos_asc: np.ndarray, inten: np.ndarray, out: np.ndarray
) -> None:
    """Fill ``out`` as ``_sweep`` does, for unsorted float32 negatives >= 0, with the table."""
    n_neg = neg.size
    neg_pad = np.empty(n_neg + _TABLE_SLOTS, dtype=np.float32)
    # zeros (either sign) are counted apart from the table, so -0.0's bit pattern never matters
    neg_pad[:n_neg] = _sorted(neg)
    neg_pad[n_neg:] = np.inf
    n_zero = int(np.searchsorted(neg_pad[:n_neg], 0.0, side="right"))
    if n_zero < n_neg:
        table = _bit_table(neg_pad, n_neg, n_zero, _TABLE_PER_NEG * (n_neg - n_zero))
    else:  # no positive negative: the table is never read
        table = (np.zeros(1, np.int32), 0, np.int64(0))
    _sweep(neg_pad, n_neg, n_zero, *table, True, pos_asc, inten, out)


def _sweep_scan(neg: np.ndarray, pos_asc: np.ndarray, inten: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` as ``_sweep`` does, for unsorted negatives of any float dtype, by scanning."""
    neg_asc = _sorted(neg)
    _sweep(
        neg_asc, neg_asc.size, 0, np.zeros(1, np.int32), 0, np.int64(0), False, pos_asc, inten, out
    )


def _sorted(x: np.ndarray) -> np.ndarray:
    """Ascending copy of 1-D finite ``x`` (float32 or float64)."""
    if x.dtype == np.float32 and x.size >= _RADIX_MIN:
        return _radix_sort_f32(np.ascontiguousarray(x))
    return np.sort(x)


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


def average_precision_intensity_sweep(
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
            _sweep_float32(relevant, pos, inten, out)
        else:
            _sweep_scan(relevant, pos, inten, out)
    return out


# --------------------------------------------------------------------------------------------
# metrics other benchmarks report (scorer zoo): pooled AP, per-image AUROC, best Dice

__all__ += ["auroc_per_image", "best_dice", "mean_auroc", "pooled_ap"]


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

    The thresholds are ``np.linspace(min, max, n_thresholds)`` of all scores (float64; the
    minimum over the scores above the lowest float32, which ``erode`` gives the pixels outside
    the eroded brain mask, so they stay below every threshold); a pixel
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
    # the lowest float32 marks pixels ranked below every score (scores' erode): span the others
    scored = everything[everything > np.finfo(np.float32).min]
    low = float(scored[0]) if scored.size else float(everything[0])
    thresholds = np.linspace(low, float(everything[-1]), n_thresholds)
    predicted = flat.size - np.searchsorted(everything, thresholds, "left")
    tp = n_pos - np.searchsorted(positives, thresholds, "left")
    dice = 2.0 * tp / (predicted + n_pos)
    best = int(np.argmax(dice))
    return float(dice[best]), float(thresholds[best])
