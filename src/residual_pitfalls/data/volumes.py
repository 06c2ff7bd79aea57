"""One volume from file to a float32 cube in [0, 1]: foreground check, normalisation, resizing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

from residual_pitfalls.data.nifti import VolumeError, read_nifti

__all__ = ["NORMALISATIONS", "PERCENTILES", "RESIZERS", "load_volume"]

PERCENTILES = (0.5, 99.5)

# A skull-stripped brain fills 22 % of the MNI152 grid and 46 % of its own tight bounding box
# (nilearn's 1 mm brain mask); a full synthetic brain fills 21-22 % of its cube, the test
# phantoms (an ellipsoid over 70 % of each axis) 11-18 %.
# More than this share of voxels > 0 means the background is not zero (noise, a head with skull).
MAX_BRAIN_SHARE = 0.6
# In a skull-stripped volume the brain touches the border faces in a few places at most.
MAX_BORDER_SHARE = 0.5
# A faint voxel is below this share of the 99th percentile of the voxels > 0. No brain tissue is
# that dark (MNI152 1 mm and 2 mm, the synthetic brains: 0 % of the brain; even < 20 % of the 99th
# percentile: 0 %), but a noise background is: 0.001-0.02 noise around a brain in [0, 1], zero-
# padded so that the border is clean, makes 77 % of the voxels > 0 faint.
FAINT = 0.05
MAX_FAINT_SHARE = 0.25


# --------------------------------------------------------------------------- normalisation


def _normalise_none(
    volume: np.ndarray, foreground: np.ndarray, path: Path, percentiles: tuple[float, float]
) -> np.ndarray:
    """Check that the volume is already in [0, 1] (MOOD); return it unchanged."""
    lo, hi = float(volume.min()), float(volume.max())
    if lo < 0.0 or hi > 1.0:
        raise VolumeError(
            f"{str(path)!r} has intensities in [{lo:g}, {hi:g}], outside [0, 1]: "
            "use normalisation 'percentile' for data that is not already normalised"
        )
    return volume


def _normalise_percentile(
    volume: np.ndarray, foreground: np.ndarray, path: Path, percentiles: tuple[float, float]
) -> np.ndarray:
    """Per-volume percentile scaling inside the foreground.

    With ``p_lo, p_hi`` the ``percentiles`` (default 0.5th and 99.5th) of the foreground voxels,
    a foreground voxel ``v`` becomes ``clip(v, p_lo, p_hi) / p_hi`` and everything else 0.
    Scaling by ``p_hi`` (not ``(v - p_lo) / (p_hi - p_lo)``) keeps the darkest brain voxels
    strictly above 0, so the brain stays ``image > 0``; brain values end up in
    ``[p_lo / p_hi, 1]``.
    """
    values = volume[foreground]
    p_lo, p_hi = (float(p) for p in np.percentile(values, percentiles))
    if p_hi <= 0.0:
        raise VolumeError(
            f"{str(path)!r}: the {percentiles[1]}th percentile of the brain is {p_hi:g}; "
            "expected positive intensities inside the brain"
        )
    out = np.zeros_like(volume, dtype=np.float32)
    out[foreground] = np.clip(values, p_lo, p_hi) / np.float32(p_hi)
    return out


# (volume, foreground, path, percentiles) -> normalised volume
Normaliser = Callable[[np.ndarray, np.ndarray, Path, tuple[float, float]], np.ndarray]

NORMALISATIONS: dict[str, Normaliser] = {
    "none": _normalise_none,
    "percentile": _normalise_percentile,
}


# --------------------------------------------------------------------------- resizing


def _centre_pad_crop(volume: np.ndarray, size: int) -> np.ndarray:
    """Centre pad (with 0) or centre crop every axis to ``size``."""
    out = volume
    for axis, n in enumerate(volume.shape):
        if n > size:
            start = (n - size) // 2
            out = np.take(out, np.arange(start, start + size), axis=axis)
        elif n < size:
            before = (size - n) // 2
            pad = [(0, 0)] * out.ndim
            pad[axis] = (before, size - n - before)
            out = np.pad(out, pad)
    return np.ascontiguousarray(out, dtype=np.float32)


def _resize_pad(volume: np.ndarray, size: int) -> np.ndarray:
    """``(X, Y, Z)`` -> ``(size, size, size)`` by centre padding/cropping; values unchanged.

    Cropping may only remove background: raises VolumeError (without the file name; the caller
    adds it) when a brain voxel (> 0) lies outside the central ``size``^3 window.
    """
    window = tuple(
        slice((n - size) // 2, (n - size) // 2 + size) if n > size else slice(None)
        for n in volume.shape
    )
    n_brain = int(np.count_nonzero(volume > 0))
    n_cut = n_brain - int(np.count_nonzero(volume[window] > 0))
    if n_cut:
        raise VolumeError(
            f"shape {volume.shape} does not fit the {size}^3 cube: resize 'pad' would crop away "
            f"{n_cut} brain voxels ({100 * n_cut / n_brain:.1f} % of the brain); set "
            f"resize: resample (zoom the volume to fit) or image_size >= {max(volume.shape)}"
        )
    return _centre_pad_crop(volume, size)


def _resize_resample(volume: np.ndarray, size: int) -> np.ndarray:
    """Isotropic linear zoom so the largest axis becomes ``size``, then centre pad to a cube.

    The same zoom factor on every axis (voxel spacing is not used); the result is clipped to
    [0, 1], so interpolation can never produce negative background.
    """
    factor = size / max(volume.shape)
    zoomed = ndimage.zoom(volume, factor, order=1, mode="constant", cval=0.0)
    return np.clip(_centre_pad_crop(zoomed, size), 0.0, 1.0)


RESIZERS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "pad": _resize_pad,
    "resample": _resize_resample,
}


def _lookup(registry: dict, name: str, what: str):
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown {what} {name!r}: expected one of {sorted(registry)}") from None


# --------------------------------------------------------------------------- foreground


def _border_values(volume: np.ndarray) -> np.ndarray:
    """The voxels of the six faces of a 3-D volume (edges repeated; fine for shares)."""
    faces = [np.take(volume, i, axis=a) for a in range(3) for i in (0, -1)]
    return np.concatenate([f.ravel() for f in faces])


def _check_foreground(volume: np.ndarray, path: Path, *, masked: bool) -> None:
    """Refuse data for which "brain = voxels > 0" (SPEC 1.4) would be wrong.

    Negative voxels (z-scored or shifted data; the brain would lose every voxel below 0), and,
    without a mask, a foreground that no skull-stripped brain has: more than
    ``MAX_BRAIN_SHARE`` of all voxels or ``MAX_BORDER_SHARE`` of the border voxels > 0 (a noise
    background, a head with skull). The message says what the data looks like and which
    dataset key fixes it.
    """
    where = f"{str(path)!r}" + (" (inside its mask)" if masked else "")
    n_neg = int(np.count_nonzero(volume < 0))
    if n_neg:
        raise VolumeError(
            f"{where} has {n_neg} negative voxels ({100 * n_neg / volume.size:.1f} %, minimum "
            f"{float(volume.min()):g}): it looks z-scored or shifted, and with brain = voxels > 0 "
            "every brain voxel below 0 would silently become background. Use the volumes before "
            "z-scoring (non-negative intensities, background exactly 0); if the negative values "
            "are only background noise, set datasets.<name>.background_threshold (voxels at or "
            "below it become background)"
        )
    if masked:
        return
    share = float(np.count_nonzero(volume)) / volume.size
    border = _border_values(volume)
    border_share = float(np.count_nonzero(border)) / border.size
    if share > MAX_BRAIN_SHARE or border_share > MAX_BORDER_SHARE:
        raise VolumeError(
            f"{where}: {100 * share:.0f} % of the voxels and {100 * border_share:.0f} % of the "
            f"border voxels are > 0, but the brain is taken as voxels > 0 and a skull-stripped "
            f"brain fills at most ~{100 * MAX_BRAIN_SHARE:.0f} % of a volume and barely touches "
            f"its border: the background is not exactly 0 (border values reach "
            f"{float(border.max()):g}, the volume's maximum is {float(volume.max()):g}) or the "
            "head is not skull-stripped. Give brain masks (datasets.<name>.mask, and "
            "skull_stripped: false), or set datasets.<name>.background_threshold to a value above "
            "the background (voxels at or below it become background)"
        )
    _check_faint_mode(volume, where)


def _check_faint_mode(volume: np.ndarray, where: str) -> None:
    """Refuse a faint low-intensity mode over much of "the brain": a noise background.

    Zero padding around a noisy field of view gives a clean border and a plausible share of
    voxels > 0, so the two checks above pass; the noise still sits far below every tissue.
    """
    values = volume[volume > 0]
    if values.size == 0:
        return
    top = float(np.percentile(values, 99))
    faint = values < FAINT * top
    share = float(np.count_nonzero(faint)) / values.size
    if share > MAX_FAINT_SHARE:
        raise VolumeError(
            f"{where}: {100 * share:.0f} % of the voxels > 0 are below {100 * FAINT:g} % of their "
            f"99th percentile ({top:g}; these faint voxels reach {float(values[faint].max()):g}), "
            f"but no brain tissue is that dark (at most {100 * MAX_FAINT_SHARE:.0f} % allowed): "
            "the background is probably noise (padded with zeros, so the border looks clean), and "
            "with brain = voxels > 0 it would all count as brain. Set "
            "datasets.<name>.background_threshold above the noise (voxels at or below it become "
            "background), or give brain masks (datasets.<name>.mask)"
        )


# --------------------------------------------------------------------------- loading


# Over ~60 lines only by its signature and docstring: the code itself is under 60 lines.
def load_volume(
    path: Path,
    *,
    size: int | None = None,
    normalisation: str = "none",
    reorient: bool = False,
    mask_path: Path | None = None,
    resize: str = "pad",
    background_threshold: float | None = None,
    percentiles: Sequence[float] = PERCENTILES,
) -> np.ndarray:
    """One 3-D volume as float32 ``(X, Y, Z)`` in [0, 1], background exactly 0.

    Steps: read (see :func:`read_nifti`), optional RAS reorientation, optional brain mask file
    (voxels where the mask is not > 0 set to 0; shape must match), the foreground check
    (:func:`_check_foreground`; with ``background_threshold`` instead every voxel at or below
    it becomes background, for data whose background is not exactly 0), normalisation
    (``NORMALISATIONS``: ``"none"`` checks the data is in [0, 1]; ``"percentile"``, see
    :func:`_normalise_percentile`, with ``percentiles = (lo, hi)``, ``0 <= lo < hi <= 100``;
    its foreground is ``mask & (image > 0)``), and, when
    ``size`` is given and the shape is not ``size``^3, resizing (``RESIZERS``: ``"pad"`` or
    ``"resample"``). Output shape is ``(size, size, size)`` if size is given.

    Raises VolumeError naming the file for an unreadable/non-3-D/non-finite volume, values
    outside [0, 1] with normalisation none, a mask of another shape, a foreground that cannot
    be a skull-stripped brain, or an empty brain (all-zero volume or empty mask); ValueError
    for an unknown normalisation/resize name.
    """
    normalise = _lookup(NORMALISATIONS, normalisation, "normalisation")
    resizer = _lookup(RESIZERS, resize, "resize method")
    if size is not None and (isinstance(size, bool) or int(size) != size or size < 1):
        raise ValueError(f"size must be a positive integer or None, got {size!r}")
    lo, hi = (float(p) for p in percentiles)
    if not 0.0 <= lo < hi <= 100.0:
        raise ValueError(f"percentiles must satisfy 0 <= lo < hi <= 100, got {list(percentiles)}")
    path = Path(path)
    volume = read_nifti(path, reorient=reorient)
    if mask_path is not None:
        mask = read_nifti(Path(mask_path), reorient=reorient) > 0
        if mask.shape != volume.shape:
            raise VolumeError(
                f"brain mask {str(mask_path)!r} has shape {mask.shape} but volume "
                f"{str(path)!r} has shape {volume.shape}: expected the same shape"
            )
        volume[~mask] = 0.0
    if background_threshold is not None:
        volume[volume <= background_threshold] = 0.0
    else:
        _check_foreground(volume, path, masked=mask_path is not None)
    brain = volume > 0
    if not brain.any():
        detail = f" (mask {str(mask_path)!r})" if mask_path is not None else ""
        raise VolumeError(f"{str(path)!r}{detail}: empty brain mask, no voxel > 0")
    volume = normalise(volume, brain, path, (lo, hi))
    if size is not None and volume.shape != (size,) * 3:
        try:
            volume = resizer(volume, int(size))
        except VolumeError as err:
            raise VolumeError(f"{str(path)!r}: {err}") from None
        if not (volume > 0).any():
            raise VolumeError(
                f"{str(path)!r}: empty brain mask after resizing to {size}^3 with {resize!r}"
            )
    return np.ascontiguousarray(volume, dtype=np.float32)
