"""Anomaly scores beyond the residual: a registry of scorers, healthy statistics, Exp 1 fast path.

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

Post-processing (any scorer, Baur et al. 2021): ``median: k`` (2-D median filter of the map,
k odd >= 3, reflect at the border), then ``erode: n`` (the map is zeroed outside the brain mask
eroded n times with the 4-neighbour cross; brain mask = ``input > 0`` unless given).

Configuration (``scores:`` of config.yaml), checked by :func:`resolve_scorers`::

    scores:
      residual: {}                       # a built-in with its defaults
      ssim_med5: {scorer: ssim, median: 5}   # a variant of a built-in
      mine: {function: "my_pkg.my_mod:my_score", params: {alpha: 2}, needs_stats: false}

Exp 1 fast path (:func:`scored_intensity_sigma_grid`): per (image, sigma) the reconstruction is
fixed and the anomalous input differs from the healthy slice only inside the disk, so the map
changes only within the scorer's reach of the disk. The map outside that box is computed once
and its scores sorted once; per intensity only a crop around the box is scored (all intensities
in one batch), and the AP counts the negatives above each positive score in the sorted fixed
part and the (small) changing part. The cropped maps are bit-identical to the full ones (every
filter's value depends only on inputs within its reach, computed in the same order), so the AP
equals sklearn's on the full map to rounding (tested <= 1e-9). :func:`scored_intensity_sweep` is
the same with given reconstructions (Exp 3.1: a model's reconstruction of the healthy slice).
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.ndimage import binary_erosion, gaussian_filter, median_filter

from residual_pitfalls.anomalies import disk_anomaly, disk_label
from residual_pitfalls.metrics import (
    NoPositivesWarning,
    _jit,
    average_precision_batch,
    average_precision_reference,
)
from residual_pitfalls.reconstruction import blur
from residual_pitfalls.scorer_guards import (
    ERODED,
    as_float32_scores,
    check_param_types,
    check_postprocessing_bounds,
    private_copies,
)
from residual_pitfalls.settings import ConfigError

__all__ = [
    "SCORES",
    "HealthyStats",
    "ScoreError",
    "Scorer",
    "ScorerSpec",
    "blurred_healthy_stats",
    "check_scorer",
    "healthy_stats",
    "load_healthy_stats",
    "needs_stats",
    "resolve_scorers",
    "save_healthy_stats",
    "score_maps",
    "scored_intensity_sigma_grid",
    "scored_intensity_sweep",
]


class ScoreError(ValueError):
    """A scorer returned a map of the wrong shape or with NaN/inf; the message names it."""


# --------------------------------------------------------------------------------------------
# healthy statistics


@dataclass(frozen=True)
class HealthyStats:
    """Per-pixel statistics of healthy slices, each ``(H, W)`` float32.

    ``image_mean``/``image_std``: over healthy training slices (``pixel_zscore``).
    ``residual_mean``/``residual_std``: of ``|reconstruction - image|`` of the same reconstruction
    method on healthy slices (``residual_zscore``); ``None`` when no reconstructions were given.
    """

    image_mean: np.ndarray
    image_std: np.ndarray
    residual_mean: np.ndarray | None = None
    residual_std: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.image_mean.shape

    def crop(self, rows: slice, cols: slice) -> HealthyStats:
        """The statistics of the window ``[rows, cols]``."""
        return HealthyStats(
            *(None if a is None else a[rows, cols] for a in self._arrays())  # type: ignore[arg-type]
        )

    def _arrays(self) -> tuple[np.ndarray | None, ...]:
        return (self.image_mean, self.image_std, self.residual_mean, self.residual_std)


_STATS_KEYS = ("image_mean", "image_std", "residual_mean", "residual_std")


def _mean_std(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    stack = stack.astype(np.float64)
    return stack.mean(axis=0).astype(np.float32), stack.std(axis=0).astype(np.float32)


def healthy_stats(images: np.ndarray, reconstructions: np.ndarray | None = None) -> HealthyStats:
    """Per-pixel mean and std (population) of healthy slices and, optionally, of the residuals.

    Args:
        images: ``(N, H, W)`` healthy slices in [0, 1], N >= 1.
        reconstructions: ``(N, H, W)`` the reconstruction method's output for ``images`` (e.g.
            the slices blurred with sigma, or a model's reconstructions of validation slices),
            or ``None`` (then ``residual_mean``/``residual_std`` are ``None``).

    Returns:
        :class:`HealthyStats` with ``(H, W)`` float32 arrays (computed in float64).
    """
    images = _as_stack(images, "images")
    mean, std = _mean_std(images)
    if reconstructions is None:
        return HealthyStats(mean, std)
    reconstructions = _as_stack(reconstructions, "reconstructions")
    if reconstructions.shape != images.shape:
        raise ValueError(
            f"reconstructions have shape {reconstructions.shape}, images {images.shape}"
        )
    r_mean, r_std = _mean_std(np.abs(reconstructions - images))
    return HealthyStats(mean, std, r_mean, r_std)


def blurred_healthy_stats(images: np.ndarray, sigmas: np.ndarray) -> dict[float, HealthyStats]:
    """Exp 1's statistics: for each sigma, :func:`healthy_stats` of the training slices and
    their blurs with sigma (the Exp 1 "reconstruction method"). Keys are ``float(sigma)``.

    images: ``(N, H, W)`` healthy training slices; sigmas: ``(S,)`` >= 0.
    """
    images = _as_stack(images, "images")
    mean, std = _mean_std(images)
    out = {}
    for sigma in np.asarray(sigmas, dtype=np.float64).reshape(-1):
        recon = np.stack([blur(img, float(sigma)) for img in images])
        r_mean, r_std = _mean_std(np.abs(recon - images))
        out[float(sigma)] = HealthyStats(mean, std, r_mean, r_std)
    return out


def save_healthy_stats(path: str | Path, stats: HealthyStats) -> None:
    """Write ``stats`` to an ``.npz`` file (float32 arrays; absent residual stats are omitted)."""
    arrays = {
        k: np.asarray(a, dtype=np.float32)
        for k, a in zip(_STATS_KEYS, stats._arrays(), strict=True)
        if a is not None
    }
    with open(path, "wb") as fh:  # a file handle: np.savez would append ".npz" to the name
        np.savez(fh, **arrays)


def load_healthy_stats(path: str | Path, shape: tuple[int, int] | None = None) -> HealthyStats:
    """Read and validate a file written by :func:`save_healthy_stats`.

    Raises ValueError naming ``path`` on a missing or unknown array, arrays that are not 2-D
    float of one shape, a shape other than ``shape`` (when given), NaN/inf or a negative std.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read healthy statistics from {path}: {exc}") from exc
    unknown = set(arrays) - set(_STATS_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown arrays {sorted(unknown)}; expected {_STATS_KEYS}")
    for key in _STATS_KEYS[:2]:
        if key not in arrays:
            raise ValueError(f"{path}: array {key!r} is missing")
    if ("residual_mean" in arrays) != ("residual_std" in arrays):
        raise ValueError(f"{path}: residual_mean and residual_std must be given together")
    expected = tuple(shape) if shape is not None else arrays["image_mean"].shape
    for key, a in arrays.items():
        if a.ndim != 2 or not np.issubdtype(a.dtype, np.floating):
            raise ValueError(f"{path}: {key} must be a 2-D float array, got {a.dtype} {a.shape}")
        if a.shape != expected:
            raise ValueError(
                f"{path}: {key} has shape {a.shape}, expected {expected} (the images' H x W)"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{path}: {key} contains NaN or inf")
        if key.endswith("_std") and a.min() < 0:
            raise ValueError(f"{path}: {key} has negative values")
    return HealthyStats(*(arrays.get(k) for k in _STATS_KEYS))  # type: ignore[arg-type]


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

    A reconstruction broadcast over the batch (stride 0: the Exp 1 sweep) is filtered once.
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


def _msgms_sweep(
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
    (multi-scale pooling grids); ``needs_stats``: needs :class:`HealthyStats`; ``sweep``: an
    optional exact shortcut for the Exp 1 fast path, ``sweep(image, reconstruction, label,
    values, box) -> (K, *box)``: the maps of ``image`` with ``label`` set to each of ``values``
    (float32) on ``box``, bit-identical to the full maps there (used without params and
    post-processing).
    """

    fn: Callable[..., np.ndarray]
    reach: int | None = None
    align: int = 1
    needs_stats: bool = False
    sweep: Callable[..., np.ndarray] | None = None


SCORES: dict[str, Scorer] = {
    "residual": Scorer(residual, 0),
    "positive_residual": Scorer(positive_residual, 0),
    "ssim": Scorer(ssim, _SSIM_RADIUS),
    "msgms": Scorer(msgms, _MSGMS_REACH, _MSGMS_ALIGN, sweep=_msgms_sweep),
    "residual_ssim": Scorer(residual_ssim, _SSIM_RADIUS),
    "intensity": Scorer(intensity, 0),
    "pixel_zscore": Scorer(pixel_zscore, 0, needs_stats=True),
    "residual_zscore": Scorer(residual_zscore, 0, needs_stats=True),
}


# --------------------------------------------------------------------------------------------
# specs (a configured scorer) and their validation


@dataclass(frozen=True)
class ScorerSpec:
    """A scorer as configured: the function, its params and post-processing.

    ``median``: None or an odd int >= 3; ``erode``: erosions of the brain mask (0 = off);
    ``source``: the built-in name or the user's ``"pkg.mod:fn"``.
    """

    name: str
    scorer: Scorer
    params: dict = field(default_factory=dict)
    median: int | None = None
    erode: int = 0
    source: str = ""

    @property
    def needs_stats(self) -> bool:
        return self.scorer.needs_stats

    @property
    def reach(self) -> int | None:
        """Reach of the final map (scorer, median) plus the erosion's: None when unknown."""
        if self.scorer.reach is None:
            return None
        return self.scorer.reach + (self.median or 0) // 2 + self.erode

    def is_plain_residual(self) -> bool:
        """True for the paper's residual without post-processing (the existing Exp 1 engine)."""
        return self.scorer.fn is residual and not self.params and not self.median and not self.erode


def needs_stats(spec: ScorerSpec | str) -> bool:
    """Whether the scorer needs :class:`HealthyStats` (healthy training slices must exist)."""
    return _spec(spec).needs_stats


def _params_of(fn: Callable, key: str) -> tuple[set[str], set[str], bool]:
    """(accepted keyword names, required ones, takes **kwargs) of a scorer's params."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config key '{key}': cannot inspect the function: {exc}") from exc
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2 and not any(p.kind == p.VAR_POSITIONAL for p in params):
        raise ConfigError(
            f"config key '{key}': a scorer must take (inputs, reconstructions, *, stats, "
            f"**params); {fn.__name__}{sig} does not take two positional arguments"
        )
    rest = [p for p in params[2:] if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    var_kw = any(p.kind == p.VAR_KEYWORD for p in params)
    names = {p.name for p in rest}
    if "stats" not in names and not var_kw:
        raise ConfigError(
            f"config key '{key}': a scorer must accept the keyword argument 'stats' "
            f"(inputs, reconstructions, *, stats, **params); {fn.__name__}{sig} does not"
        )
    required = {p.name for p in rest if p.default is p.empty} - {"stats"}
    return names - {"stats"}, required, var_kw


_ENTRY_KEYS = ("function", "scorer", "params", "median", "erode", "needs_stats")


def _check_int(value: object, key: str, expected: str, ok: Callable[[int], bool]) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not ok(int(value)):
        raise ConfigError(f"config key '{key}': expected {expected}, got {value!r}")
    return int(value)


def _resolve_one(name: str, entry: object, image_size: int | None = None) -> ScorerSpec:
    key = f"scores.{name}"
    if entry is None:
        entry = {}
    if not isinstance(entry, Mapping):
        raise ConfigError(f"config key '{key}': expected a mapping (or {{}}), got {entry!r}")
    unknown = set(entry) - set(_ENTRY_KEYS)
    if unknown:
        raise ConfigError(
            f"config key '{key}': unknown keys {sorted(unknown)} (allowed: {', '.join(_ENTRY_KEYS)})"
        )
    if "function" in entry and "scorer" in entry:
        raise ConfigError(f"config key '{key}': give either 'function' or 'scorer', not both")
    if "function" in entry:
        if name in SCORES:
            raise ConfigError(
                f"config key '{key}.function': {name!r} is a built-in scorer; give your scorer "
                "another name"
            )
        path = entry["function"]
        from residual_pitfalls.imports import import_object

        try:
            fn = import_object(path, "function")
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"config key '{key}.function': {exc}") from exc
        if not callable(fn):
            raise ConfigError(f"config key '{key}.function': {path!r} is not callable")
        flag = entry.get("needs_stats", False)
        if not isinstance(flag, bool):
            raise ConfigError(f"config key '{key}.needs_stats': expected true/false, got {flag!r}")
        scorer, source = Scorer(fn, None, needs_stats=flag), str(path)
    else:
        base = entry.get("scorer", name)
        if name in SCORES and base != name:  # the built-in's row would show another scorer
            raise ConfigError(
                f"config key '{key}.scorer': {name!r} is a built-in scorer; give your variant of "
                f"{base!r} another name"
            )
        if base not in SCORES:
            where = f"{key}.scorer" if "scorer" in entry else key
            raise ConfigError(
                f"config key '{where}': unknown scorer {base!r} (built-ins: "
                f"{', '.join(SCORES)}; or give 'function: \"pkg.module:fn\"')"
            )
        if "needs_stats" in entry:
            raise ConfigError(
                f"config key '{key}.needs_stats': only for user functions (built-in {base!r} "
                "knows whether it needs statistics)"
            )
        scorer, source = SCORES[base], base
    params = entry.get("params") or {}
    if not isinstance(params, Mapping):
        raise ConfigError(f"config key '{key}.params': expected a mapping, got {params!r}")
    accepted, required, var_kw = _params_of(scorer.fn, key)
    bad = set(params) - accepted if not var_kw else set(params) & {"stats"}
    if bad:
        raise ConfigError(
            f"config key '{key}.params': unknown params {sorted(bad)} for {source!r} "
            f"(accepted: {', '.join(sorted(accepted)) or 'none'})"
        )
    missing = required - set(params)
    if missing:
        raise ConfigError(f"config key '{key}.params': missing {sorted(missing)} for {source!r}")
    check_param_types(scorer.fn, params, key, ConfigError)
    median = entry.get("median")
    if median is not None:
        median = _check_int(
            median, f"{key}.median", "an odd int >= 3 (or null)", lambda k: k >= 3 and k % 2 == 1
        )
    erode = _check_int(entry.get("erode", 0) or 0, f"{key}.erode", "an int >= 0", lambda n: n >= 0)
    check_postprocessing_bounds(key, median, erode, image_size, ConfigError)
    return ScorerSpec(name, scorer, dict(params), median, erode, source)


def resolve_scorers(
    config_scores: Mapping | None, image_size: int | None = None
) -> dict[str, ScorerSpec]:
    """Validate a config ``scores:`` mapping; returns name -> :class:`ScorerSpec` in its order.

    ``None`` (key absent) means all built-ins with their defaults. Raises
    :class:`~residual_pitfalls.settings.ConfigError` naming ``scores.<name>...`` on an unknown
    name, unknown/missing params, a bad ``median``/``erode`` or a function that does not import,
    a built-in's name used for another scorer, a string for a param whose default is a number;
    with ``image_size``, also a ``median``/``erode`` beyond ``scorer_guards.postprocessing_bounds``.
    """
    if config_scores is None:
        return {name: ScorerSpec(name, s, source=name) for name, s in SCORES.items()}
    if not isinstance(config_scores, Mapping):
        raise ConfigError(f"config key 'scores': expected a mapping, got {config_scores!r}")
    return {
        str(name): _resolve_one(str(name), entry, image_size)
        for name, entry in config_scores.items()
    }


def _spec(name_or_spec: ScorerSpec | str) -> ScorerSpec:
    if isinstance(name_or_spec, ScorerSpec):
        return name_or_spec
    if name_or_spec not in SCORES:
        raise ValueError(f"unknown scorer {name_or_spec!r} (known: {', '.join(SCORES)})")
    return ScorerSpec(name_or_spec, SCORES[name_or_spec], source=name_or_spec)


# --------------------------------------------------------------------------------------------
# scoring


def _as_stack(a: object, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 3:
        raise ValueError(f"{name} must be (N, H, W), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be real numbers (float32 expected), got {arr.dtype}")
    return arr.astype(np.float32, copy=False)


_CROSS = np.zeros((3, 3, 3), dtype=bool)
_CROSS[1] = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]  # 4-neighbour erosion within each slice


def score_maps(
    name_or_spec: ScorerSpec | str,
    inputs: np.ndarray,
    reconstructions: np.ndarray,
    *,
    stats: HealthyStats | None = None,
    brain_masks: np.ndarray | None = None,
    batch_labels: list[str] | None = None,
) -> np.ndarray:
    """Anomaly maps of one scorer, with its post-processing, checked.

    Args:
        name_or_spec: a built-in name (defaults) or a :class:`ScorerSpec` from
            :func:`resolve_scorers`.
        inputs: ``(N, H, W)`` float32 images in [0, 1] (the possibly anomalous inputs).
        reconstructions: ``(N, H, W)`` float32, the reconstructions of ``inputs``.
        stats: :class:`HealthyStats` for scorers that need it, else ignored.
        brain_masks: ``(N, H, W)`` bool for ``erode``; default ``inputs > 0`` (pass the healthy
            slice's mask when the anomaly may paint zeros into the brain).
        batch_labels: what each map of the batch is, for messages (default "image i").

    A bring-your-own scorer gets its own copies of ``inputs`` and ``reconstructions`` (what it
    does to them stays with it); its map is ranked as float32 (another dtype is cast when that
    keeps the order, else refused). ``erode`` sets the map outside the eroded brain mask to
    ``ERODED``, the lowest float32: those pixels rank below every score.

    Returns:
        ``(N, H, W)`` float32, higher = more anomalous.

    Raises:
        ScoreError naming the scorer (and the image) when its map has another shape or NaN/inf.
    """
    spec = _spec(name_or_spec)
    inputs = _as_stack(inputs, "inputs")
    reconstructions = _as_stack(reconstructions, "reconstructions")
    if inputs.shape != reconstructions.shape:
        raise ValueError(
            f"inputs have shape {inputs.shape} but reconstructions {reconstructions.shape}"
        )
    if spec.needs_stats and stats is None:
        raise ValueError(f"scorer {spec.name!r} needs healthy statistics; got stats=None")
    given = (inputs, reconstructions)
    if spec.source not in SCORES:  # only the built-ins are known not to write into them
        given = private_copies(inputs, reconstructions)
    maps = np.asarray(spec.scorer.fn(*given, stats=stats, **spec.params))
    if maps.shape != inputs.shape:
        raise ScoreError(
            f"scorer {spec.name!r} ({spec.source}) returned shape {maps.shape}, "
            f"expected {inputs.shape} (N, H, W)"
        )
    if not (np.issubdtype(maps.dtype, np.floating) or np.issubdtype(maps.dtype, np.integer)):
        raise ScoreError(f"scorer {spec.name!r} ({spec.source}) returned dtype {maps.dtype}")
    finite = np.isfinite(maps).reshape(len(maps), -1).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        what = batch_labels or [f"image {i}" for i in range(len(maps))]
        raise ScoreError(
            f"scorer {spec.name!r} ({spec.source}) returned NaN or inf for {what[bad[0]]} "
            f"(all: {', '.join(what[i] for i in bad[:10])}); scores must be finite"
        )
    maps = as_float32_scores(maps, f"scorer {spec.name!r} ({spec.source})", ScoreError)
    if spec.median:
        maps = median_filter(maps, size=(1, spec.median, spec.median), mode="reflect")
    if spec.erode:
        mask = inputs > 0 if brain_masks is None else np.asarray(brain_masks, dtype=bool)
        if mask.shape != inputs.shape:
            raise ValueError(f"brain_masks have shape {mask.shape}, expected {inputs.shape}")
        mask = binary_erosion(mask, structure=_CROSS, iterations=spec.erode, border_value=0)
        maps = np.where(mask, maps, ERODED)
    return maps


def check_scorer(spec: ScorerSpec, stats: HealthyStats | None = None) -> None:
    """Start-up check: run the scorer on two small synthetic images (the stats' size if given;
    a scorer needing statistics gets those of the test batch when ``stats`` is None).

    Raises ScoreError naming the scorer when its map has another shape or NaN/inf, or it fails.
    """
    h, w = stats.shape if stats is not None else (16, 16)
    rng = np.random.default_rng([0, h, w])
    x = rng.random((2, h, w), dtype=np.float32)
    r = np.clip(x + rng.normal(0, 0.05, x.shape).astype(np.float32), 0, 1)
    if stats is None and spec.needs_stats:
        stats = healthy_stats(x, r)
    try:
        score_maps(spec, x, r, stats=stats)
    except ScoreError:
        raise
    except Exception as exc:
        raise ScoreError(
            f"scorer {spec.name!r} ({spec.source}) fails on a 2 x {h} x {w} test batch: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


# --------------------------------------------------------------------------------------------
# Exp 1: intensity x sigma grid for any scorer


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
            # lo = number of distinct positive values <= x (branch-free binary search: the
            # comparisons are unpredictable, mispredicted branches dominated the time)
            base = 0
            n = n_distinct
            while n > 1:
                half = n >> 1
                base += half * (uniq[base + half] <= x)
                n -= half
            lo = base + (uniq[base] <= x)
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


def _stats_for(stats: object, sigma: float) -> HealthyStats | None:
    if stats is None or isinstance(stats, HealthyStats):
        return stats
    if isinstance(stats, Mapping):
        if float(sigma) not in stats:
            raise ValueError(f"no healthy statistics for sigma {float(sigma)} in stats")
        return stats[float(sigma)]
    raise ValueError(
        f"stats must be HealthyStats, a mapping sigma -> HealthyStats or None, got {type(stats).__name__}"
    )


def _sweep_aps(
    image: np.ndarray,
    recon: np.ndarray,
    label: np.ndarray,
    values: np.ndarray,
    spec: ScorerSpec,
    stats: HealthyStats | None,
) -> np.ndarray:
    """(K,) APs of one image whose label pixels are set to each of ``values`` (float32), the
    reconstruction ``recon`` fixed (see the module docstring); brain mask = ``image > 0``."""
    brain = image > 0
    aps = np.empty(len(values))
    reach = spec.reach
    labels = [f"intensity {v:g} (index {k})" for k, v in enumerate(values)]
    if reach is None or not label.any():
        # unknown reach: full maps for every intensity, exact fast AP
        batch = np.repeat(image[None], len(values), axis=0)
        batch[:, label] = values[:, None]
        maps = score_maps(
            spec,
            batch,
            np.broadcast_to(recon, batch.shape),
            stats=stats,
            brain_masks=np.broadcast_to(brain, batch.shape),
            batch_labels=labels,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoPositivesWarning)
            return average_precision_batch(np.broadcast_to(label, maps.shape), maps)
    base = score_maps(spec, image[None], recon[None], stats=stats, brain_masks=brain[None])[0]
    inner = _box(label, reach, 1)  # the map changes only here
    outer = _box(label, 2 * reach, spec.scorer.align)  # scoring this crop is exact in inner
    changing = np.zeros(image.shape, dtype=bool)
    changing[inner] = True
    fixed = np.sort(base[~changing])  # all negatives: the label lies inside `inner`
    if spec.scorer.sweep is not None and not (spec.params or spec.median or spec.erode):
        local = spec.scorer.sweep(image, recon, label, values, inner)
    else:
        batch = np.repeat(image[outer][None], len(values), axis=0)
        batch[:, label[outer]] = values[:, None]
        maps = score_maps(
            spec,
            batch,
            np.broadcast_to(recon[outer], batch.shape),
            stats=stats.crop(*outer) if stats is not None else None,
            brain_masks=np.broadcast_to(brain[outer], batch.shape),
            batch_labels=labels,
        )
        rel = tuple(
            slice(i.start - o.start, i.stop - o.start) for i, o in zip(inner, outer, strict=True)
        )
        local = maps[(slice(None), *rel)]
    local = np.ascontiguousarray(local).reshape(len(values), -1)
    _ap_two_part_batch(fixed, local, label[inner].reshape(-1), aps)
    return aps


def _naive_aps(
    image: np.ndarray,
    recon: np.ndarray,
    centre: tuple[int, int],
    radius: float,
    intensities: np.ndarray,
    spec: ScorerSpec,
    stats: HealthyStats | None,
) -> np.ndarray:
    """(K,) APs: the full map per intensity and sklearn (the reference)."""
    brain = image > 0
    aps = np.empty(len(intensities))
    for k, value in enumerate(intensities):
        anomalous, label = disk_anomaly(image, centre, radius, float(value))
        m = score_maps(
            spec,
            anomalous[None],
            recon[None],
            stats=stats,
            brain_masks=brain[None],
            batch_labels=[f"intensity {float(value):g} (index {k})"],
        )
        aps[k] = average_precision_reference(label, m[0])
    return aps


def _image_grid(
    image: np.ndarray,
    centre: np.ndarray,
    radius: float,
    intensities: np.ndarray,
    sigmas: np.ndarray,
    spec: ScorerSpec,
    stats: object,
    method: str,
) -> np.ndarray:
    """(S, K) APs of one image for any scorer, reconstruction = blur(image, sigma): the crop fast
    path (method "fast") or the full map per cell and sklearn ("naive", the reference)."""
    image = np.asarray(image, dtype=np.float32)
    c = (int(centre[0]), int(centre[1]))
    label = disk_label(image, c, radius)
    values = np.asarray(intensities, dtype=np.float64).astype(np.float32)
    rows = []
    for sigma in sigmas:
        recon, sigma_stats = blur(image, float(sigma)), _stats_for(stats, sigma)
        if method == "naive":
            rows.append(_naive_aps(image, recon, c, radius, intensities, spec, sigma_stats))
        else:
            rows.append(_sweep_aps(image, recon, label, values, spec, sigma_stats))
    return np.stack(rows)


def scored_intensity_sigma_grid(
    images: np.ndarray,
    centres: np.ndarray,
    radius: float,
    intensities: np.ndarray,
    sigmas: np.ndarray,
    spec: ScorerSpec | str,
    stats: HealthyStats | Mapping[float, HealthyStats] | None = None,
    *,
    method: str = "fast",
    workers: int = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """Exp 1 for one scorer: AP of every image x sigma x intensity.

    The anomalous input is the healthy slice with the disk ∩ brain set to ``float32(I)``, the
    reconstruction is the healthy slice blurred with sigma, the label is the disk ∩ brain and the
    brain mask (for ``erode``) is the healthy slice's ``> 0``; exactly the semantics of
    :func:`residual_pitfalls.experiments.intensity_sigma_grid`, which the plain ``residual``
    runs (identical numbers).

    Args:
        images: ``(N, H, W)`` float32 healthy slices in [0, 1]; centres: ``(N, 2)`` (row, col).
        radius: disk radius (px); intensities ``(K,)``; sigmas ``(S,)`` >= 0.
        spec: a built-in name or a :class:`ScorerSpec`.
        stats: for scorers needing statistics: one :class:`HealthyStats`, or a mapping
            ``float(sigma) -> HealthyStats`` (``residual_zscore``: the residuals of the
            training slices blurred with that sigma, see :func:`blurred_healthy_stats`).
        method: ``"fast"`` or ``"naive"`` (full map + sklearn per cell: the reference).

    Returns:
        DataFrame with columns image, sigma, intensity, ap (N * S * K rows, the order of
        ``intensity_sigma_grid``).
    """
    from residual_pitfalls.experiments import (
        _check_inputs,
        _parallel_map,
        grid_frame,
        intensity_sigma_grid,
    )

    spec = _spec(spec)
    images = np.asarray(images)
    centres = np.asarray(centres)
    _check_inputs(images, centres)
    intensities = np.asarray(intensities, dtype=np.float64).reshape(-1)
    sigmas = np.asarray(sigmas, dtype=np.float64).reshape(-1)
    if method not in ("fast", "naive"):
        raise ValueError(f"method must be 'fast' or 'naive', got {method!r}")
    if spec.needs_stats and stats is None:
        raise ValueError(f"scorer {spec.name!r} needs healthy statistics; got stats=None")
    if method == "fast" and spec.is_plain_residual():
        return intensity_sigma_grid(
            images,
            centres,
            radius=radius,
            intensities=intensities,
            sigmas=sigmas,
            workers=workers,
            progress=progress,
        )
    args = [
        (images[i], centres[i], radius, intensities, sigmas, spec, stats, method)
        for i in range(len(images))
    ]
    per_image = _parallel_map(_image_grid, args, workers, progress, f"Exp 1 {spec.name}")
    return grid_frame(per_image, sigmas, intensities)


def scored_intensity_sweep(
    images: np.ndarray,
    centres: np.ndarray,
    radius: float,
    intensities: np.ndarray,
    reconstructions: np.ndarray,
    spec: ScorerSpec | str,
    stats: HealthyStats | None = None,
    *,
    method: str = "fast",
) -> np.ndarray:
    """Exp 3.1 for one scorer: (N, K) APs with a fixed reconstruction per image.

    The anomalous input is the healthy slice with the disk ∩ brain set to ``float32(I)``; the
    reconstruction ``reconstructions[i]`` (e.g. a model's reconstruction of the *healthy* slice)
    does not depend on I; label = disk ∩ brain; brain mask (``erode``) = healthy slice > 0.
    Exp 1 is the special case ``reconstructions = blur(images, sigma)``. The plain ``residual``
    runs :func:`residual_pitfalls.experiments.intensity_sweep_aps` (the paper's Exp 3.1 engine).

    Args:
        images: ``(N, H, W)`` float32 healthy slices in [0, 1]; centres ``(N, 2)``.
        radius: disk radius (px); intensities ``(K,)``.
        reconstructions: ``(N, H, W)`` float32.
        spec: a built-in name or a :class:`ScorerSpec`; stats: :class:`HealthyStats` or None.
        method: ``"fast"`` or ``"naive"`` (full map + sklearn per cell: the reference).

    Returns:
        ``(N, K)`` float64 APs.
    """
    from residual_pitfalls.experiments import _check_inputs, intensity_sweep_aps

    spec = _spec(spec)
    images = np.asarray(images, dtype=np.float32)
    centres = np.asarray(centres)
    _check_inputs(images, centres)
    reconstructions = np.asarray(reconstructions, dtype=np.float32)
    if reconstructions.shape != images.shape:
        raise ValueError(
            f"reconstructions have shape {reconstructions.shape}, images {images.shape}"
        )
    if method not in ("fast", "naive"):
        raise ValueError(f"method must be 'fast' or 'naive', got {method!r}")
    if spec.needs_stats and stats is None:
        raise ValueError(f"scorer {spec.name!r} needs healthy statistics; got stats=None")
    intensities = np.asarray(intensities, dtype=np.float64).reshape(-1)
    values = intensities.astype(np.float32)
    out = np.empty((len(images), len(intensities)))
    for i, (image, recon) in enumerate(zip(images, reconstructions, strict=True)):
        c = (int(centres[i][0]), int(centres[i][1]))
        if method == "naive":
            out[i] = _naive_aps(image, recon, c, radius, intensities, spec, stats)
            continue
        label = disk_label(image, c, radius)
        if spec.is_plain_residual():
            out[i] = intensity_sweep_aps(image, recon, label, intensities)
        else:
            out[i] = _sweep_aps(image, recon, label, values, spec, stats)
    return out
