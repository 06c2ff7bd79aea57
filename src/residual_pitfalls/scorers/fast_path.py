"""Exp 1 fast path (:func:`scored_intensity_sigma_grid`): per (image, sigma) the reconstruction is
fixed and the anomalous input differs from the healthy slice only inside the disk, so the map
changes only within the scorer's reach of the disk. The map outside that box is computed once
and its scores sorted once; per intensity only a crop around the box is scored (all intensities
in one batch), and the AP counts the negatives above each positive score in the sorted fixed
part and the (small) changing part. The cropped maps are bit-identical to the full ones (every
filter's value depends only on inputs within its reach, computed in the same order), so the AP
equals sklearn's on the full map to rounding (tested <= 1e-9). :func:`scorer_aps_per_intensity` is
the same with given reconstructions (Exp 3.1: a model's reconstruction of the healthy slice).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from residual_pitfalls.anomalies import disk_anomaly, disk_label
from residual_pitfalls.experiments.paper import (
    grid_frame,
    intensity_sigma_grid,
    residual_aps_per_intensity,
)
from residual_pitfalls.experiments.parallel import check_inputs, parallel_map
from residual_pitfalls.metrics.ap import (
    NoPositivesWarning,
    average_precision_batch,
    average_precision_reference,
)
from residual_pitfalls.metrics.kernels import _ap_two_part_batch
from residual_pitfalls.reconstruction import blur
from residual_pitfalls.scorers.builtin import _box
from residual_pitfalls.scorers.registry import ScorerSpec, _spec, score_maps
from residual_pitfalls.scorers.stats import HealthyStats


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


def _image_intensity_aps(
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
    if spec.scorer.maps_per_intensity is not None and not (
        spec.params or spec.median or spec.erode
    ):
        local = spec.scorer.maps_per_intensity(image, recon, label, values, inner)
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


def _image_aps(
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
            rows.append(_image_intensity_aps(image, recon, label, values, spec, sigma_stats))
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
    :func:`residual_pitfalls.experiments.paper.intensity_sigma_grid`, which the plain ``residual``
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
    spec = _spec(spec)
    images = np.asarray(images)
    centres = np.asarray(centres)
    check_inputs(images, centres)
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
    per_image = parallel_map(_image_aps, args, workers, progress, f"Exp 1 {spec.name}")
    return grid_frame(per_image, sigmas, intensities)


def scorer_aps_per_intensity(
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
    runs :func:`residual_pitfalls.experiments.paper.residual_aps_per_intensity` (the paper's Exp 3.1 engine).

    Args:
        images: ``(N, H, W)`` float32 healthy slices in [0, 1]; centres ``(N, 2)``.
        radius: disk radius (px); intensities ``(K,)``.
        reconstructions: ``(N, H, W)`` float32.
        spec: a built-in name or a :class:`ScorerSpec`; stats: :class:`HealthyStats` or None.
        method: ``"fast"`` or ``"naive"`` (full map + sklearn per cell: the reference).

    Returns:
        ``(N, K)`` float64 APs.
    """
    spec = _spec(spec)
    images = np.asarray(images, dtype=np.float32)
    centres = np.asarray(centres)
    check_inputs(images, centres)
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
            out[i] = residual_aps_per_intensity(image, recon, label, intensities)
        else:
            out[i] = _image_intensity_aps(image, recon, label, values, spec, stats)
    return out
