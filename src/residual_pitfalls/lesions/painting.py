"""The embedded lesion set: 3-D lesions painted into brain volumes, written like a labelled set.

Four kinds (``LESION_KINDS``), each an irregular smooth blob (a sphere whose radius is modulated by
smooth noise, with a soft edge), placed inside the brain:

- ``blob``: any size (a voxel radius of 1 to ~10, a few voxels to ~3 cm at 1.6 mm voxels), its
  intensity inside the healthy histogram's bulk or outside it (darker or brighter than almost all
  brain voxels), by a coin flip;
- ``wmh``: a small periventricular / deep white-matter hyperintensity: centred on a dark
  (white-matter-like) voxel near the brightest (CSF-like) tissue, bright (T2);
- ``tumour``: a core and a surrounding oedema of different intensities (label 1 core, 2 oedema);
- ``hypointense``: darker than the surrounding tissue.

Intensities are quantiles of the volume's own healthy brain voxels: "inside the bulk" is a
quantile in [0.1, 0.9], "outside" below the 1st or above the 99.5th percentile (up to 1.0).
Label value 0 is healthy, every value > 0 anomalous. Deterministic per (seed, volume index).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

__all__ = ["LESION_KINDS", "lower_half", "paint_lesions", "write_lesion_set"]

LESION_KINDS = ("blob", "wmh", "tumour", "hypointense")
_INSIDE = (0.1, 0.9)  # healthy quantiles of the "inside the bulk" intensities
_LOW, _HIGH = 0.01, 0.995  # beyond these quantiles an intensity is "outside"


def _blob_weight(shape: tuple[int, ...], centre: np.ndarray, radius: float, rng) -> np.ndarray:
    """Soft membership in [0, 1] of an irregular blob (radius modulated by smooth noise),
    computed in the blob's box only."""
    reach = int(np.ceil(radius * 1.4)) + 2
    box = tuple(
        slice(max(int(c) - reach, 0), min(int(c) + reach + 1, n))
        for c, n in zip(centre, shape, strict=True)
    )
    sub = tuple(b.stop - b.start for b in box)
    grid = np.indices(sub, dtype=np.float32)
    dist = np.sqrt(sum((g + b.start - c) ** 2 for g, b, c in zip(grid, box, centre, strict=True)))
    noise = ndimage.gaussian_filter(rng.standard_normal(sub).astype(np.float32), 2.0)
    noise /= max(float(np.abs(noise).max()), 1e-6)
    weight = np.zeros(shape, np.float32)
    weight[box] = np.clip(radius * (1.0 + 0.35 * noise) - dist + 0.5, 0.0, 1.0)
    return weight


def _centre(brain: np.ndarray, candidates: np.ndarray | None, rng) -> np.ndarray:
    pool = np.argwhere(candidates if candidates is not None and candidates.any() else brain)
    return pool[rng.integers(len(pool))].astype(np.float32)


def _intensity(healthy: np.ndarray, rng, *, side: str) -> float:
    """A lesion intensity: a quantile inside the bulk, or below / above almost all brain voxels."""
    if side == "inside":
        return float(np.quantile(healthy, rng.uniform(*_INSIDE)))
    if side == "low":
        return float(rng.uniform(0.02, max(np.quantile(healthy, _LOW), 0.03)))
    hi = float(np.quantile(healthy, _HIGH))
    return float(rng.uniform(min(hi + 0.02, 0.99), 1.0))


def _plan(kind: str, healthy: np.ndarray, rng) -> tuple[float, list[float]]:
    """(radius, intensities) of one lesion: one intensity, or (core, oedema) for a tumour."""
    inside = rng.random() < 0.5
    if kind == "blob":
        side = "inside" if inside else ("low" if rng.random() < 0.5 else "high")
        return float(rng.uniform(1.0, 10.0)), [_intensity(healthy, rng, side=side)]
    if kind == "wmh":
        value = float(np.quantile(healthy, rng.uniform(0.75, 0.9))) if inside else None
        return float(rng.uniform(1.0, 3.5)), [value or _intensity(healthy, rng, side="high")]
    if kind == "hypointense":
        value = float(np.quantile(healthy, rng.uniform(0.1, 0.3))) if inside else None
        return float(rng.uniform(1.5, 5.0)), [value or _intensity(healthy, rng, side="low")]
    core = _intensity(healthy, rng, side="high" if rng.random() < 0.5 else "low")
    return float(rng.uniform(3.0, 6.0)), [core, _intensity(healthy, rng, side="inside")]


def _wmh_candidates(volume: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """Dark (white-matter-like) brain voxels within 4 voxels of the brightest (CSF-like) ones."""
    values = volume[brain]
    dark = brain & (volume <= np.quantile(values, 0.35))
    bright = brain & (volume >= np.quantile(values, 0.9))
    return dark & ndimage.binary_dilation(bright, iterations=4)


def paint_lesions(
    volume: np.ndarray,
    rng: np.random.Generator,
    *,
    n_lesions: int = 4,
    kinds: Sequence[str] = LESION_KINDS,
    first_kind: int = 0,
    region: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(lesioned volume float32, label uint8) of a float32 volume in [0, 1] (brain = > 0).

    Lesion ``j`` is of kind ``kinds[(first_kind + j) % len(kinds)]``; it is blended in with its
    soft edge (``volume * (1 - w) + intensity * w``, brain voxels only, never reaching 0) and
    labelled where ``w >= 0.5`` (1; a tumour's oedema 2). ``region``: bool mask the lesions are
    confined to (default the whole brain). Raises ValueError for an empty brain or region.
    """
    volume = np.asarray(volume, dtype=np.float32)
    brain = volume > 0 if region is None else (volume > 0) & np.asarray(region, bool)
    if not brain.any():
        raise ValueError("paint_lesions: no brain voxel (> 0) in the volume (and region)")
    healthy = volume[volume > 0]
    out, label = volume.copy(), np.zeros(volume.shape, np.uint8)
    wmh = _wmh_candidates(volume, brain)
    for j in range(n_lesions):
        kind = kinds[(first_kind + j) % len(kinds)]
        if kind not in LESION_KINDS:
            raise ValueError(f"unknown lesion kind {kind!r}: expected one of {LESION_KINDS}")
        radius, values = _plan(kind, healthy, rng)
        centre = _centre(brain, wmh if kind == "wmh" else None, rng)
        radii = [radius, radius + float(rng.uniform(2.0, 4.0))] if kind == "tumour" else [radius]
        # outermost first, so the core is painted over its oedema
        for value, rad, lab in reversed(list(zip(values, radii, (1, 2), strict=False))):
            w = _blob_weight(volume.shape, centre, rad, rng) * brain
            out = (out * (1 - w) + np.float32(value) * w).astype(np.float32)
            label[w >= 0.5] = lab
    np.clip(out, 0.0, 1.0, out=out)
    out[volume > 0] = np.maximum(out[volume > 0], np.float32(1e-3))
    return out, label


def lower_half(volume: np.ndarray, axis: int) -> np.ndarray:
    """Bool mask of the slices (along ``axis``) in the lower half of those with brain."""
    has_brain = np.flatnonzero(np.moveaxis(np.asarray(volume) > 0, axis, 0).any(axis=(1, 2)))
    if has_brain.size == 0:
        raise ValueError("lower_half: the volume has no brain voxel (> 0)")
    cut = has_brain[0] + max((has_brain[-1] - has_brain[0] + 1) // 2, 1)
    index = np.arange(np.shape(volume)[axis])
    shape = [1, 1, 1]
    shape[axis] = -1
    return np.broadcast_to((index < cut).reshape(shape), np.shape(volume))


def write_lesion_set(
    volumes: Sequence[np.ndarray],
    images_out: Sequence[str | Path],
    labels_out: Sequence[str | Path],
    *,
    seed: int,
    n_lesions: int = 4,
    axis: int = 2,
    affine: np.ndarray | None = None,
) -> None:
    """Paint lesions into each volume and write image + label as NIfTI (float32 / uint8).

    Volume ``i`` uses ``np.random.default_rng([seed, i])`` and starts its kinds at ``i``, so every
    kind appears across volumes whatever ``n_lesions``. The lesions are confined to the lower
    half (by slice index along ``axis``) of the slices with brain, so every volume keeps
    lesion-free slices for Exp 4's false positives. ``affine``: of both files (identity).
    """
    if not len(volumes) == len(images_out) == len(labels_out):
        raise ValueError("write_lesion_set: one image and one label path per volume expected")
    affine = np.eye(4) if affine is None else np.asarray(affine)
    for i, (vol, img_path, lab_path) in enumerate(
        zip(volumes, images_out, labels_out, strict=True)
    ):
        painted, label = paint_lesions(
            vol,
            np.random.default_rng([seed, i]),
            n_lesions=n_lesions,
            first_kind=i,
            region=lower_half(vol, axis),
        )
        Path(img_path).parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(painted, affine), str(img_path))
        nib.save(nib.Nifti1Image(label, affine), str(lab_path))
