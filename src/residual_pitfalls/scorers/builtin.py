"""The built-in anomaly scorers and their registry record (:data:`SCORES`).

A scorer is a pure, batched function ``fn(inputs, reconstructions, *, stats, **params) -> maps``:
``inputs`` and ``reconstructions`` are ``(N, H, W)`` float32 (images in [0, 1]), ``maps`` is
``(N, H, W)`` float32, higher = more anomalous. ``stats`` is a :class:`HealthyStats` (what a
scorer learned from healthy data) or ``None``. :data:`SCORES` maps the built-in names to
:class:`Scorer` records (the function plus what the Exp 1 fast path needs to know about it):

================== ===========================================================================
residual           ``|x - x_hat|`` (the paper's)
positive_residual  ``max(x - x_hat, 0)``: only hyperintensities
ssim               ``1 - SSIM(x, x_hat)`` per pixel: Gaussian window sigma 1.5 truncated at
                   3.5 sigma (11 taps, reflect), K1 0.01, K2 0.03, data range 1, population
                   covariance; equals skimage's ``structural_similarity(..., full=True)`` map
msgms              ``1 - mean`` over scales 1, 1/2, 1/4, 1/8 of the gradient-magnitude
                   similarity ``(2 g g_hat + c) / (g^2 + g_hat^2 + c)``, Prewitt 3x3, c = 0.0026;
                   each scale is a 2x2-mean pooling of the previous one, its similarity map is
                   upsampled back bilinearly (half-pixel centres, as torch ``align_corners=False``)
residual_ssim      ``|x - x_hat| * (1 - SSIM)``
intensity          ``x`` itself (ignores the reconstruction)
pixel_zscore       ``|x - mu(p)| / (s(p) + eps)``: per-pixel mean/std of healthy training slices
                   (assumes roughly aligned images)
residual_zscore    ``(|x - x_hat| - mu_r(p)) / (s_r(p) + eps)``: the residual standardised by the
                   same reconstruction method's residuals on healthy slices
================== ===========================================================================
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter

from residual_pitfalls.scorers.entries import BUILTIN_SCORERS
from residual_pitfalls.scorers.stats import HealthyStats

# --------------------------------------------------------------------------------------------
# built-in scorers

_SSIM_SIGMA = 1.5
_SSIM_TRUNCATE = 3.5
_SSIM_RADIUS = int(_SSIM_TRUNCATE * _SSIM_SIGMA + 0.5)  # 5: scipy's kernel radius (11 taps)
_MSGMS_C = 0.0026
_MSGMS_SCALES = 4  # 1, 1/2, 1/4, 1/8
_MSGMS_ALIGN = 2 ** (_MSGMS_SCALES - 1)
# a pixel at scale 1/f depends on input rows within 2.5 f - 0.5 (pooling, Prewitt, bilinear)
_MSGMS_REACH = math.ceil(2.5 * _MSGMS_ALIGN)


def residual(inputs: np.ndarray, reconstructions: np.ndarray, *, stats: Any) -> np.ndarray:
    """``|x - x_hat|``."""
    return np.abs(reconstructions - inputs)


def positive_residual(inputs: np.ndarray, reconstructions: np.ndarray, *, stats: Any) -> np.ndarray:
    """``max(x - x_hat, 0)``: blind to anomalies darker than the reconstruction."""
    return np.maximum(inputs - reconstructions, np.float32(0))


def _ssim_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(N, H, W) SSIM map in float64 (skimage's formula, population covariance, data range 1).

    A reconstruction broadcast over the batch (stride 0: Exp 1's one reconstruction for all intensities) is filtered once.
    """
    x = x.astype(np.float64)
    y = _first_if_broadcast(y).astype(np.float64)

    def filt(a: np.ndarray) -> np.ndarray:
        return gaussian_filter(
            a, sigma=(0, _SSIM_SIGMA, _SSIM_SIGMA), truncate=_SSIM_TRUNCATE, mode="reflect"
        )

    ux, uy = filt(x), filt(y)
    uxx, uyy, uxy = filt(x * x), filt(y * y), filt(x * y)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))


def _first_if_broadcast(a: np.ndarray) -> np.ndarray:
    """``a[:1]`` when ``a`` is one image broadcast along axis 0 (stride 0), else ``a``."""
    return a[:1] if a.ndim == 3 and a.shape[0] > 1 and a.strides[0] == 0 else a


def ssim(inputs: np.ndarray, reconstructions: np.ndarray, *, stats: Any) -> np.ndarray:
    """``1 - SSIM`` per pixel (11-tap Gaussian window, sigma 1.5), in [0, 2]."""
    return (1.0 - _ssim_map(inputs, reconstructions)).astype(np.float32)


def residual_ssim(inputs: np.ndarray, reconstructions: np.ndarray, *, stats: Any) -> np.ndarray:
    """``|x - x_hat| * (1 - SSIM)``."""
    dissimilarity = 1.0 - _ssim_map(inputs, reconstructions)
    return (np.abs(reconstructions - inputs).astype(np.float64) * dissimilarity).astype(np.float32)


def _pool2(a: np.ndarray) -> np.ndarray:
    """2x2 mean pooling of (N, H, W) with even H, W."""
    return 0.25 * ((a[:, 0::2, 0::2] + a[:, 1::2, 0::2]) + (a[:, 0::2, 1::2] + a[:, 1::2, 1::2]))


def _prewitt_magnitude(a: np.ndarray) -> np.ndarray:
    """Gradient magnitude with the 3x3 Prewitt kernels (/3), edge-replicated border."""
    p = np.pad(a, ((0, 0), (1, 1), (1, 1)), mode="edge")
    d = p[:, :, 2:] - p[:, :, :-2]
    gx = (d[:, :-2] + d[:, 1:-1] + d[:, 2:]) / 3
    e = p[:, 2:, :] - p[:, :-2, :]
    gy = (e[:, :, :-2] + e[:, :, 1:-1] + e[:, :, 2:]) / 3
    return np.sqrt(gx * gx + gy * gy)


def _upsample_axis(
    a: np.ndarray, factor: int, axis: int, lo: int = 0, hi: int | None = None
) -> np.ndarray:
    """Linear upsampling by an integer ``factor`` along ``axis`` (half-pixel centres, clamped):
    output indices ``lo..hi`` (default all) of the upsampled axis."""
    n = a.shape[axis]
    hi = n * factor if hi is None else hi
    src = (np.arange(lo, hi) + 0.5) / factor - 0.5  # exact: factor is a power of two
    src = np.clip(src, 0, n - 1)
    i0 = np.floor(src).astype(np.intp)
    i1 = np.minimum(i0 + 1, n - 1)
    shape = [1] * a.ndim
    shape[axis] = -1
    w = (src - i0).reshape(shape)
    return np.take(a, i0, axis=axis) * (1 - w) + np.take(a, i1, axis=axis) * w


def _msgms_pad(a: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """float64 copy of (N, H, W) ``a`` with ``rows``/``cols`` edge values appended."""
    return np.pad(a.astype(np.float64), ((0, 0), (0, rows), (0, cols)), mode="edge")


def _msgms_scale(
    x: np.ndarray, y: np.ndarray, scale: int, rows: slice | None = None, cols: slice | None = None
) -> np.ndarray:
    """GMS map of one scale, upsampled back: padded float64 (N, Hp, Wp) ``x``, ``y`` (y may be
    (1, Hp, Wp)), Hp and Wp multiples of ``2**scale``; only the output ``[rows, cols]``."""
    for _ in range(scale):
        x, y = _pool2(x), _pool2(y)
    gx, gy = _prewitt_magnitude(x), _prewitt_magnitude(y)
    gms = (2 * gx * gy + _MSGMS_C) / (gx * gx + gy * gy + _MSGMS_C)
    factor = 2**scale
    rows = rows or slice(0, gms.shape[1] * factor)
    cols = cols or slice(0, gms.shape[2] * factor)
    if factor == 1:
        return gms[:, rows, cols]
    gms = _upsample_axis(gms, factor, 1, rows.start, rows.stop)
    return _upsample_axis(gms, factor, 2, cols.start, cols.stop)


def msgms(inputs: np.ndarray, reconstructions: np.ndarray, *, stats: Any) -> np.ndarray:
    """``1 - mean`` over 4 scales of the gradient-magnitude similarity (RIAD), in [0, 1]."""
    n, h, w = inputs.shape
    ph, pw = -h % _MSGMS_ALIGN, -w % _MSGMS_ALIGN  # pad to a multiple of 8 (edge values)
    x = _msgms_pad(inputs, ph, pw)
    y = _msgms_pad(_first_if_broadcast(reconstructions), ph, pw)
    total = np.zeros_like(x)
    for scale in range(_MSGMS_SCALES):
        total += _msgms_scale(x, y, scale)
    return (1.0 - total[:, :h, :w] / _MSGMS_SCALES).astype(np.float32)


def _box(label: np.ndarray, margin: int, align: int) -> tuple[slice, slice]:
    """Bounding box of ``label`` grown by ``margin``, clipped, start/stop aligned outward."""
    out = []
    for axis in (1, 0):
        hits = np.flatnonzero(label.any(axis=axis))
        n = label.shape[1 - axis]
        lo = max(int(hits[0]) - margin, 0) // align * align
        hi = int(hits[-1]) + 1 + margin
        hi = n if hi >= n else min(-(-hi // align) * align, n)
        out.append(slice(lo, hi))
    return out[0], out[1]


def _msgms_maps_per_intensity(
    image: np.ndarray,
    reconstruction: np.ndarray,
    label: np.ndarray,
    values: np.ndarray,
    box: tuple[slice, slice],
) -> np.ndarray:
    """msgms of ``image`` with ``label`` set to each of ``values``, on ``box`` only: (K, *box).

    Bit-identical to ``msgms(...)[:, box]`` (``box`` must contain the label grown by the reach):
    each scale's map changes only within its own reach of the label (1 px at scale 1, 20 at
    1/8), so per scale only that window is recomputed, from a crop on the scale's pooling grid;
    the rest of the box keeps the healthy input's map. The sum runs in msgms' order.
    """
    h, w = image.shape
    ph, pw = -h % _MSGMS_ALIGN, -w % _MSGMS_ALIGN
    full_x = _msgms_pad(image[None], ph, pw)
    full_y = _msgms_pad(reconstruction[None], ph, pw)
    total = np.zeros((len(values), box[0].stop - box[0].start, box[1].stop - box[1].start))
    for scale in range(_MSGMS_SCALES):
        factor = 2**scale
        reach = math.ceil(2.5 * factor) if scale else 1  # scale 1: the Prewitt kernel only
        part = np.repeat(_msgms_scale(full_x, full_y, scale, *box), len(values), axis=0)
        changed = _box(label, reach, 1)
        crop = _box(label, 2 * reach, factor)
        batch = np.repeat(image[crop][None], len(values), axis=0)
        batch[:, label[crop]] = values[:, None]
        pad = (ph if crop[0].stop == h else 0, pw if crop[1].stop == w else 0)
        local = _msgms_scale(
            _msgms_pad(batch, *pad),
            _msgms_pad(reconstruction[crop][None], *pad),
            scale,
            *(
                slice(c.start - o.start, c.stop - o.start)
                for c, o in zip(changed, crop, strict=True)
            ),
        )
        inside = tuple(
            slice(c.start - b.start, c.stop - b.start) for c, b in zip(changed, box, strict=True)
        )
        part[(slice(None), *inside)] = local
        total += part
    return (1.0 - total / _MSGMS_SCALES).astype(np.float32)


def intensity(inputs: np.ndarray, reconstructions: np.ndarray, *, stats: Any) -> np.ndarray:
    """The input itself: thresholding the image (blind to dark anomalies)."""
    return inputs.astype(np.float32, copy=True)


def _check_stats(stats: object, shape: tuple[int, ...], scorer: str, residual: bool) -> None:
    if not isinstance(stats, HealthyStats):
        raise ValueError(
            f"scorer {scorer!r} needs healthy statistics (stats=HealthyStats), got {stats!r}"
        )
    if residual and stats.residual_mean is None:
        raise ValueError(
            f"scorer {scorer!r} needs the residual statistics of healthy slices "
            "(healthy_stats(images, reconstructions)), but stats has none"
        )
    if stats.shape != tuple(shape[1:]):
        raise ValueError(
            f"scorer {scorer!r}: healthy statistics have shape {stats.shape}, "
            f"the images {tuple(shape[1:])}"
        )


def pixel_zscore(
    inputs: np.ndarray, reconstructions: np.ndarray, *, stats: Any, eps: float = 0.01
) -> np.ndarray:
    """``|x - mu(p)| / (s(p) + eps)`` with the healthy training slices' per-pixel mean and std."""
    _check_stats(stats, inputs.shape, "pixel_zscore", residual=False)
    return (np.abs(inputs - stats.image_mean) / (stats.image_std + np.float32(eps))).astype(
        np.float32
    )


def residual_zscore(
    inputs: np.ndarray, reconstructions: np.ndarray, *, stats: Any, eps: float = 0.01
) -> np.ndarray:
    """``(|x - x_hat| - mu_r(p)) / (s_r(p) + eps)``, residual statistics of healthy slices."""
    _check_stats(stats, inputs.shape, "residual_zscore", residual=True)
    res = np.abs(reconstructions - inputs)
    return ((res - stats.residual_mean) / (stats.residual_std + np.float32(eps))).astype(np.float32)


@dataclass(frozen=True)
class Scorer:
    """A registered scoring function and what the Exp 1 fast path needs to know about it.

    ``reach``: the map at a pixel depends only on inputs within this Chebyshev distance
    (None: unknown, no crop fast path); ``align``: crops must start at multiples of it
    (multi-scale pooling grids); ``needs_stats``: needs :class:`HealthyStats`;
    ``maps_per_intensity``: an optional exact shortcut for the Exp 1 fast path,
    ``maps_per_intensity(image, reconstruction, label, values, box) -> (K, *box)``: the maps of
    ``image`` with ``label`` set to each of ``values`` (float32 intensities) on ``box``,
    bit-identical to the full maps there (used without params and post-processing).
    """

    fn: Callable[..., np.ndarray]
    reach: int | None = None
    align: int = 1
    needs_stats: bool = False
    maps_per_intensity: Callable[..., np.ndarray] | None = None


_FUNCTIONS: dict[str, Scorer] = {
    "residual": Scorer(residual, 0),
    "positive_residual": Scorer(positive_residual, 0),
    "ssim": Scorer(ssim, _SSIM_RADIUS),
    "msgms": Scorer(
        msgms, _MSGMS_REACH, _MSGMS_ALIGN, maps_per_intensity=_msgms_maps_per_intensity
    ),
    "residual_ssim": Scorer(residual_ssim, _SSIM_RADIUS),
    "intensity": Scorer(intensity, 0),
    "pixel_zscore": Scorer(pixel_zscore, 0),
    "residual_zscore": Scorer(residual_zscore, 0),
}
# Names and whether each needs healthy statistics come from scorers.entries (torch/scipy-free, so
# the workflow's parse can check a config without importing the scorers).
SCORES: dict[str, Scorer] = {
    name: dataclasses.replace(_FUNCTIONS[name], needs_stats=flag)
    for name, flag in BUILTIN_SCORERS.items()
}
