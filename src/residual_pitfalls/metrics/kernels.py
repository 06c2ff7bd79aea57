"""Compiled (numba) kernels of the exact AP engines; see :mod:`residual_pitfalls.metrics.ap`."""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np


def _jit(func: Callable, **options) -> Callable:
    """``numba.njit(cache=True, nogil=True, **options)``, without the disk cache if none is usable.

    numba looks for a writable cache directory when the decorator is applied and raises
    ``RuntimeError`` if there is none (read-only install, no writable home); compiling in memory
    on every process start is slower but correct.
    """
    try:
        return numba.njit(cache=True, nogil=True, **options)(func)
    except RuntimeError:
        return numba.njit(cache=False, nogil=True, **options)(func)


def _jit_inlined(func: Callable) -> Callable:
    """:func:`_jit` with ``inline="always"``: numba pastes the function into each caller, so a
    branch on an argument the caller passes as a constant is compiled away."""
    return _jit(func, inline="always")


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


# Stays one long function: the table lookup as a function of its own ran ~2x slower even inlined
# (numba inline='always'), ~8x as a plain call.
@_jit_inlined
def _intensity_aps(  # pragma: no cover - compiled
    neg_asc, n_neg, n_zero, starts, shift, key_base, use_table, pos_asc, intensities, out
):
    """``out[k]`` = AP with positive scores ``|pos_asc - intensities[k]|`` (in pos_asc's dtype),
    against the ``n_neg`` ascending negatives ``neg_asc[:n_neg]``.

    ``|p - I|`` rounded is non-increasing in ``p`` below ``I`` and non-decreasing above, so
    taking the larger of the two ends of ``pos_asc`` repeatedly yields the scores in descending
    order; all copies of the current maximum sit at the two ends. The negatives below each score
    are counted in the bucket table if ``use_table``, else by the monotone scan ``_count_below``.
    Only the two entry points call it, each with ``use_table`` a constant (inlined, so the branch
    is compiled away): :func:`_intensity_aps_table_kernel` and :func:`_intensity_aps_scan_kernel`.
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


@_jit
def _intensity_aps_table_kernel(  # pragma: no cover - compiled
    neg_pad, n_neg, n_zero, starts, shift, key_base, pos_asc, intensities, out
):
    """:func:`_intensity_aps` counting in the bucket table: float32 negatives ``neg_pad[:n_neg]``
    >= +0.0, ascending, ``n_zero`` zeros first (``n_zero < n_neg``), ``_TABLE_SLOTS`` trailing
    +inf; ``(starts, shift, key_base)`` from :func:`_bit_table`."""
    _intensity_aps(neg_pad, n_neg, n_zero, starts, shift, key_base, True, pos_asc, intensities, out)


@_jit
def _intensity_aps_scan_kernel(neg_asc, pos_asc, intensities, out):  # pragma: no cover - compiled
    """:func:`_intensity_aps` counting by the monotone scan: ascending negatives of any float
    dtype (no table, so its arguments are placeholders that are never read)."""
    no_table = np.zeros(1, np.int32)
    n_neg = neg_asc.shape[0]
    _intensity_aps(neg_asc, n_neg, 0, no_table, 0, np.int64(0), False, pos_asc, intensities, out)


def _intensity_aps_by_table(
    neg: np.ndarray, pos_asc: np.ndarray, inten: np.ndarray, out: np.ndarray
) -> None:
    """Fill ``out`` as :func:`_intensity_aps` does, for unsorted float32 negatives >= 0, with the
    bucket table (by the scan when no negative is above zero: the table would never be read)."""
    n_neg = neg.size
    neg_pad = np.empty(n_neg + _TABLE_SLOTS, dtype=np.float32)
    # zeros (either sign) are counted apart from the table, so -0.0's bit pattern never matters
    neg_pad[:n_neg] = _sorted(neg)
    neg_pad[n_neg:] = np.inf
    n_zero = int(np.searchsorted(neg_pad[:n_neg], 0.0, side="right"))
    if n_zero == n_neg:
        _intensity_aps_scan_kernel(neg_pad[:n_neg], pos_asc, inten, out)
        return
    table = _bit_table(neg_pad, n_neg, n_zero, _TABLE_PER_NEG * (n_neg - n_zero))
    _intensity_aps_table_kernel(neg_pad, n_neg, n_zero, *table, pos_asc, inten, out)


def _intensity_aps_by_scan(
    neg: np.ndarray, pos_asc: np.ndarray, inten: np.ndarray, out: np.ndarray
) -> None:
    """Fill ``out`` as :func:`_intensity_aps` does, for unsorted negatives of any float dtype,
    by the monotone scan."""
    _intensity_aps_scan_kernel(_sorted(neg), pos_asc, inten, out)


def _sorted(x: np.ndarray) -> np.ndarray:
    """Ascending copy of 1-D finite ``x`` (float32 or float64)."""
    if x.dtype == np.float32 and x.size >= _RADIX_MIN:
        return _radix_sort_f32(np.ascontiguousarray(x))
    return np.sort(x)


@_jit_inlined
def _count_at_most(asc, x):  # pragma: no cover - compiled
    """Number of values of ascending, distinct, non-empty ``asc`` that are <= ``x``: a
    branch-free binary search (the comparisons are unpredictable, mispredicted branches
    dominated the time of _ap_two_part_batch)."""
    base = 0
    n = asc.shape[0]
    while n > 1:
        half = n >> 1
        base += half * (asc[base + half] <= x)
        n -= half
    return base + (asc[base] <= x)


@_jit
def _ap_two_part_batch(fixed, local, lab, out):  # pragma: no cover - compiled
    """``out[k]`` = AP of the positives ``local[k][lab]`` against the negatives ``fixed``
    (ascending, the same for every k) plus ``local[k][~lab]``; float32, P = lab.sum() >= 1.

    Tie-aware as sklearn, grouped by the distinct positive scores v visited in descending order
    (see metrics): sum n(v)/P * TP(>=v) / (TP(>=v) + FP(>=v)). The local negatives are not
    sorted: each is binned by the number of distinct positive scores <= it (a binary search),
    and FP(>= v) of the local part is a suffix sum of the bins.
    """
    n_fixed = fixed.shape[0]
    n_pos = 0
    for i in range(lab.shape[0]):
        n_pos += lab[i]
    pos = np.empty(n_pos, local.dtype)
    bins = np.empty(n_pos + 1, np.int64)
    for k in range(local.shape[0]):
        a = 0
        for i in range(lab.shape[0]):
            if lab[i]:
                pos[a] = local[k, i]
                a += 1
        pos.sort()
        # distinct positive values, ascending, compacted in place; counts in `bins` for now
        d = 0
        for i in range(1, n_pos):
            if pos[i] != pos[d]:
                d += 1
                pos[d] = pos[i]
        n_distinct = d + 1
        uniq = pos[:n_distinct]
        bins[: n_distinct + 1] = 0
        counts = np.zeros(n_distinct, np.int64)
        for i in range(lab.shape[0]):
            x = local[k, i]
            if x < uniq[0] and not lab[i]:
                continue  # below every positive: never counted (bin 0)
            lo = _count_at_most(uniq, x)
            if lab[i]:
                counts[lo - 1] += 1  # x == uniq[lo - 1]
            else:
                bins[lo] += 1
        tp = 0
        fp_local = 0
        hi_fixed = n_fixed
        acc = 0.0
        for j in range(n_distinct - 1, -1, -1):
            v = uniq[j]
            tp += counts[j]
            fp_local += bins[j + 1]  # negatives with score >= v: bins j+1 .. n_distinct
            hi_fixed = np.searchsorted(fixed[:hi_fixed], v)
            acc += counts[j] * tp / (tp + (n_fixed - hi_fixed) + fp_local)
        out[k] = acc / n_pos
