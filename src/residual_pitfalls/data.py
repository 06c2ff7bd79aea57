"""Data layer: NIfTI loading, normalisation, the sorted split, slicing, histograms.

Images everywhere in this package are float32 in [0, 1] with an exactly-zero background; the
brain mask is ``image > 0`` (SPEC 1.4). Volumes are ``(X, Y, Z)`` in the file's voxel order
(optionally reoriented to RAS); a slice along axis 2 is ``volume[:, :, k]`` with shape ``(X, Y)``,
untransposed, as in the authors' code (SPEC 1.1).

Nothing here writes to the user's files: volumes are read into memory (no memory map) and every
array handed out is a fresh copy.
"""

from __future__ import annotations

import logging
import operator
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from nibabel.filebasedimages import ImageFileError
from scipy import ndimage
from skimage import exposure
from tqdm.auto import tqdm

__all__ = [
    "NORMALISATIONS",
    "RESIZERS",
    "VolumeError",
    "brain_histogram",
    "brain_intensity_summary",
    "build_slice_stack",
    "drop_companions",
    "equalise_histogram",
    "extract_slices",
    "lesion_histogram",
    "list_volumes",
    "load_volume",
    "pair_files",
    "read_nifti",
    "split_volumes",
]

LOG = logging.getLogger(__name__)

PERCENTILES = (0.5, 99.5)

# A skull-stripped brain fills 22 % of the MNI152 grid and 46 % of its own tight bounding box
# (nilearn's 1 mm brain mask); a full synthetic brain fills 21-22 % of its cube, the test
# phantoms (an ellipsoid over 70 % of each axis) 11-18 %.
# More than this share of voxels > 0 means the background is not zero (noise, a head with skull).
MAX_BRAIN_SHARE = 0.6
# In a skull-stripped volume the brain touches the border faces in a few places at most.
MAX_BORDER_SHARE = 0.5


class VolumeError(ValueError):
    """A volume file that cannot be used: unreadable, wrong shape, non-finite, empty, ..."""


# --------------------------------------------------------------------------- listing


def _is_dangling(path: Path) -> bool:
    """A symlink whose target is missing or that loops (``exists()`` is False for both)."""
    try:
        return path.is_symlink() and not path.exists()
    except OSError:
        return True


def list_volumes(root: Path, pattern: str = "*.nii.gz") -> list[Path]:
    """Files under ``root`` matching the glob ``pattern``, sorted by their path relative to root.

    ``pattern`` is relative and may contain ``*/`` or ``**/`` (e.g. ``"*/*_flair.nii.gz"``).
    Hidden files (name starting with ``.``, e.g. macOS ``._00000.nii.gz`` forks) and anything
    under a ``__MACOSX`` folder are skipped: they are never volumes. Broken or looping symlinks
    are skipped too, and listed in a logged warning.

    Raises FileNotFoundError naming root if it does not exist, NotADirectoryError if it is a
    file, ValueError naming root and pattern if nothing matches.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"data folder {str(root)!r} does not exist")
    if not root.is_dir():
        raise NotADirectoryError(f"data folder {str(root)!r} is not a directory")
    try:
        matches = list(root.glob(pattern))
    except (ValueError, NotImplementedError) as err:
        raise ValueError(
            f"invalid glob pattern {pattern!r} for {str(root)!r}: "
            f"expected a relative pattern such as '*.nii.gz' or '**/*.nii.gz' ({err})"
        ) from err
    files = [
        p
        for p in matches
        if p.is_file() and not p.name.startswith(".") and "__MACOSX" not in p.parts
    ]
    dangling = sorted(p.relative_to(root).as_posix() for p in matches if _is_dangling(p))
    if dangling:
        LOG.warning(
            "skipping %d broken or looping symlink(s) under %r matching %r: %s",
            len(dangling),
            str(root),
            pattern,
            ", ".join(dangling),
        )
    if not files:
        raise ValueError(f"no files under {str(root)!r} match the pattern {pattern!r}")
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


# --------------------------------------------------------------------------- reading


def _squeezed_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Drop trailing singleton dimensions beyond the third (NIfTI stores (X, Y, Z, 1))."""
    shape = tuple(shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    return shape


# 1024^3 voxels are 4 GiB as float32: far above any brain MRI (the paper's 256^3 is 64 MiB), so a
# larger claim is a corrupt header, refused before the read instead of ending in a MemoryError.
MAX_VOXELS = 1024**3


def _check_header(img: nib.Nifti1Image, path: Path, *, reorient: bool) -> tuple[int, ...]:
    """The squeezed 3-D shape from the header, checked before any voxel is read.

    Raises VolumeError naming the file for a shape that is not 3-D, has an empty axis or
    claims more than ``MAX_VOXELS`` voxels, and (with ``reorient``) for an affine (sform/qform)
    that is not finite or singular (e.g. all zero): its orientation is unknown.
    """
    shape = _squeezed_shape(img.shape)
    if len(shape) != 3:
        raise VolumeError(
            f"{str(path)!r} has shape {tuple(img.shape)}: expected a 3-D volume "
            "(a trailing singleton 4th dimension is allowed)"
        )
    if min(shape) < 1:
        raise VolumeError(f"{str(path)!r}: its header gives shape {shape}, with an empty axis")
    n_voxels = int(np.prod(shape, dtype=np.int64))
    if n_voxels > MAX_VOXELS:
        itemsize = img.header.get_data_dtype().itemsize
        raise VolumeError(
            f"{str(path)!r}: its header claims shape {shape} ({n_voxels:.3g} voxels, "
            f"{n_voxels * itemsize / 2**30:.0f} GiB stored, {n_voxels * 4 / 2**30:.0f} GiB as "
            f"float32), more than the {MAX_VOXELS:.3g} voxels (1024^3) a brain volume can "
            "have: the header is probably corrupt"
        )
    if reorient:
        affine = np.asarray(img.affine, dtype=np.float64)
        linear = affine[:3, :3]
        if not np.isfinite(affine).all() or abs(np.linalg.det(linear)) < 1e-12:
            what = "all zero" if not linear.any() else "singular or not finite"
            raise VolumeError(
                f"{str(path)!r}: its header's affine (sform/qform) is {what}, so its "
                f"orientation is unknown and reorient: true cannot work ({affine[:3].tolist()}); "
                "fix the header, or set reorient: false to use the stored voxel order"
            )
    return shape


def read_nifti(path: Path, *, reorient: bool = False) -> np.ndarray:
    """Raw voxel values of one 3-D NIfTI file as a fresh ``(X, Y, Z)`` float32 array.

    No normalisation. A trailing singleton 4th dimension is dropped; ``reorient`` applies
    ``nib.as_closest_canonical`` (closest RAS orientation). The header is checked before the
    data is read (:func:`_check_header`). Raises FileNotFoundError if the file is missing,
    VolumeError naming the file if it cannot be read as NIfTI, is not 3-D, has an impossible
    header (shape, affine) or holds NaN/inf voxels.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"volume file {str(path)!r} does not exist")
    try:
        # mmap=False: never hand out a view onto the user's file
        img = nib.load(path, mmap=False, keep_file_open=False)
    except (ImageFileError, OSError, EOFError, zlib.error, ValueError) as err:
        raise VolumeError(f"{str(path)!r} could not be read as NIfTI: {err}") from err
    shape = _check_header(img, path, reorient=reorient)
    try:
        if reorient:
            img = nib.as_closest_canonical(img)
        data = np.asarray(img.get_fdata(dtype=np.float32, caching="unchanged"))
    except (OSError, EOFError, zlib.error, ValueError) as err:
        # truncated .nii.gz files pass the header read and fail here
        raise VolumeError(f"{str(path)!r} could not be read as NIfTI: {err}") from err
    except MemoryError:
        raise VolumeError(
            f"{str(path)!r}: not enough memory to read its {shape} voxels as float32 "
            f"({np.prod(shape, dtype=np.int64) * 4 / 2**30:.1f} GiB)"
        ) from None
    data = data.reshape(_squeezed_shape(data.shape))
    n_bad = int(np.count_nonzero(~np.isfinite(data)))
    if n_bad:
        raise VolumeError(f"{str(path)!r} contains {n_bad} NaN or inf voxels")
    return data


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


# --------------------------------------------------------------------------- loading


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


# --------------------------------------------------------------------------- split and slices


def _split_counts(n: int, train_fraction: float, val_fraction: float) -> dict[str, int]:
    n_pool = int(n * train_fraction)  # same expression as the original (SPEC 1.2)
    n_val = max(1, int(n_pool * val_fraction)) if val_fraction > 0 else 0
    return {"train": n_pool - n_val, "val": n_val, "test": n - n_pool}


def _short_splits(counts: dict[str, int], val_fraction: float) -> list[str]:
    """The splits with fewer than one volume (validation only counts when asked for)."""
    return [k for k, c in counts.items() if c < 1 and (k != "val" or val_fraction > 0)]


def _min_volumes_for_split(train_fraction: float, val_fraction: float, limit: int = 100_000):
    for n in range(1, limit):
        if not _short_splits(_split_counts(n, train_fraction, val_fraction), val_fraction):
            return n
    return None


def _refuse_duplicates(files: Sequence[Path]) -> None:
    """Two paths of one file (a folder symlink, ``a/../a``) would put a subject in two splits."""
    seen: dict[str, Path] = {}
    for path in files:
        real = os.path.realpath(path)
        if real in seen:
            raise ValueError(
                f"{str(seen[real])!r} and {str(path)!r} are the same file ({real!r}): "
                "a volume may appear only once in the split (remove the duplicate or the "
                "symlink that shows it twice)"
            )
        seen[real] = path


def split_volumes(
    files: Sequence[Path], *, train_fraction: float = 0.6, val_fraction: float = 0.05
) -> dict[str, list[Path]]:
    """Deterministic, non-destructive split (SPEC 1.2): ``{'train', 'val', 'test'}`` -> paths.

    The files are sorted by path (so the input order does not matter); the first
    ``int(n * train_fraction)`` form the training pool and the rest the test set; the first
    ``max(1, int(n_pool * val_fraction))`` of the pool (none if ``val_fraction == 0``) are the
    validation set. The three splits are disjoint (checked). Raises ValueError for fractions
    outside their ranges, two paths of one file (after resolving symlinks; names both paths),
    or too few files for every split to hold at least one volume (names the config keys
    ``split.train_fraction``/``split.val_fraction``, the counts and the minimum needed).
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"split.train_fraction must be in (0, 1), got {train_fraction!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"split.val_fraction must be in [0, 1), got {val_fraction!r}")
    ordered = sorted((Path(f) for f in files), key=lambda p: p.as_posix())
    _refuse_duplicates(ordered)
    counts = _split_counts(len(ordered), train_fraction, val_fraction)
    short = _short_splits(counts, val_fraction)
    if short:
        need = _min_volumes_for_split(train_fraction, val_fraction)
        raise ValueError(
            f"{len(ordered)} volumes are too few for split.train_fraction={train_fraction}, "
            f"split.val_fraction={val_fraction}: the split would be train={counts['train']}, "
            f"val={counts['val']}, test={counts['test']} (fewer than one volume: "
            f"{', '.join(short)}); need at least {need} volumes, or change these keys"
        )
    n_val, n_pool = counts["val"], counts["val"] + counts["train"]
    split = {
        "train": ordered[n_val:n_pool],
        "val": ordered[:n_val],
        "test": ordered[n_pool:],
    }
    # a volume in two splits would leak test data into training: never let it through
    if sum(map(len, split.values())) != len({p for part in split.values() for p in part}):
        raise RuntimeError(f"split of {len(ordered)} volumes is not disjoint: {counts}")
    return split


def _check_indices(indices: Iterable[int], n: int, axis: int) -> list[int]:
    out = []
    for i in indices:
        k = operator.index(i)
        if not 0 <= k < n:
            raise IndexError(
                f"slice index {k} out of range for axis {axis} of length {n} "
                f"(expected 0 <= index < {n})"
            )
        out.append(k)
    return out


def extract_slices(volume: np.ndarray, indices: Sequence[int], axis: int = 2) -> np.ndarray:
    """``(k, H, W)`` float32 copies of the slices of a 3-D ``volume`` at ``indices`` along axis.

    ``(H, W)`` are the two remaining axes in their order (axis 2 -> ``volume[:, :, i]``).
    Raises IndexError for an index outside ``[0, volume.shape[axis])`` (negative indices are
    refused on purpose) and ValueError for a non-3-D volume, a bad axis or no indices.
    """
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ValueError(f"expected a 3-D volume, got shape {volume.shape}")
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis!r}")
    idx = _check_indices(indices, volume.shape[axis], axis)
    if not idx:
        raise ValueError("no slice indices given")
    slices = np.moveaxis(np.take(volume, idx, axis=axis), axis, 0)
    return np.array(slices, dtype=np.float32, copy=True, order="C")


def build_slice_stack(
    files: Sequence[Path],
    indices: Sequence[int],
    *,
    axis: int = 2,
    progress: bool = False,
    require_foreground: bool = False,
    workers: int = 1,
    masks: Sequence[Path] | None = None,
    **load_kwargs,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Slices ``indices`` (along ``axis``) of every file, stacked in file order.

    Returns ``(N, H, W)`` float32 in [0, 1] with ``N = len(files) * len(indices)`` and a
    provenance DataFrame with columns ``image_id`` (0..N-1), ``source`` (str path),
    ``slice_index`` (int), ``axis`` (int); row i describes image i. ``load_kwargs`` go to
    :func:`load_volume`. ``require_foreground=True`` (use it for test sets) raises VolumeError
    naming the file and slice when a slice has no brain pixel. ``workers > 1`` reads volumes in
    threads (gzip and numpy release the GIL); order and results do not change. ``masks``, if
    given, holds one brain-mask file per volume (same order).
    """
    files = [Path(f) for f in files]
    if masks is not None and len(masks) != len(files):
        raise ValueError(f"{len(masks)} mask files given for {len(files)} volumes")
    mask_of = dict(zip(files, masks or [None] * len(files), strict=True))
    idx = [operator.index(i) for i in indices]
    if not files:
        raise ValueError("no volume files given")
    if not idx:
        raise ValueError("no slice indices given")
    if len(set(idx)) != len(idx):
        raise ValueError(f"duplicate slice indices in {idx}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")

    def slices_of(path: Path) -> np.ndarray:
        volume = load_volume(path, mask_path=mask_of[path], **load_kwargs)
        try:
            return extract_slices(volume, idx, axis=axis)
        except IndexError as err:
            raise VolumeError(f"{str(path)!r} (shape {volume.shape}): {err}") from None

    stack: np.ndarray | None = None
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        results = pool.map(slices_of, files) if pool else map(slices_of, files)
        bar = tqdm(results, total=len(files), desc="loading volumes", disable=not progress)
        for v, (path, slices) in enumerate(zip(files, bar, strict=True)):
            if stack is None:  # preallocate: 10^4 slices of 256^2 must not be held twice
                stack = np.empty((len(files) * len(idx), *slices.shape[1:]), np.float32)
            if slices.shape[1:] != stack.shape[1:]:
                raise VolumeError(
                    f"{str(path)!r} gives slices of shape {slices.shape[1:]} but earlier files "
                    f"give {stack.shape[1:]}: pass size=... to load them at one size"
                )
            if require_foreground:
                for k, s in zip(idx, slices, strict=True):
                    if not (s > 0).any():
                        raise VolumeError(
                            f"slice {k} (axis {axis}) of {str(path)!r} has no brain pixel "
                            "(all zero): it cannot hold an anomaly"
                        )
            stack[v * len(idx) : (v + 1) * len(idx)] = slices
    finally:
        if pool is not None:  # on an error, do not wait for the remaining volumes
            pool.shutdown(wait=True, cancel_futures=True)
    provenance = pd.DataFrame(
        {
            "image_id": np.arange(len(files) * len(idx), dtype=np.int64),
            "source": [str(p) for p in files for _ in idx],
            "slice_index": np.array(idx * len(files), dtype=np.int64),
            "axis": np.full(len(files) * len(idx), axis, dtype=np.int64),
        }
    )
    return stack, provenance


# --------------------------------------------------------------------------- histograms


def equalise_histogram(image: np.ndarray, nbins: int = 256) -> np.ndarray:
    """Histogram equalisation inside the brain, per slice (SPEC 1.5, Appendix C).

    ``image``: ``(H, W)`` or ``(N, H, W)`` float in [0, 1]; each slice becomes
    ``skimage.exposure.equalize_hist(slice, nbins, mask=slice > 0) * (slice > 0)``. Returns
    float32 of the same shape: brain values in (0, 1], background exactly 0. A slice without
    brain stays all zero.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3:
        return np.stack([equalise_histogram(s, nbins) for s in image]).astype(np.float32)
    if image.ndim != 2:
        raise ValueError(f"expected an (H, W) or (N, H, W) image, got shape {image.shape}")
    mask = image > 0
    if not mask.any():
        return np.zeros_like(image)
    eq = exposure.equalize_hist(image, nbins=nbins, mask=mask)
    return (eq * mask).astype(np.float32)


def _histogram_frame(counts: np.ndarray, edges: np.ndarray) -> pd.DataFrame:
    counts = counts.astype(np.int64)
    total = counts.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        density = counts / (total * np.diff(edges))
    return pd.DataFrame(
        {"bin_left": edges[:-1], "bin_right": edges[1:], "count": counts, "density": density}
    )


def brain_histogram(
    images: np.ndarray, bins: int = 100, value_range: tuple[float, float] = (0.0, 1.0)
) -> pd.DataFrame:
    """Histogram of the brain pixels (``images > 0``) of any-shaped images.

    Columns ``bin_left``, ``bin_right`` (float), ``count`` (int64) and ``density`` (count /
    (total * width), integrating to 1 over ``value_range``). Pixels outside ``value_range``
    are not counted. Raises ValueError if there is no brain pixel.
    """
    values = np.asarray(images)[np.asarray(images) > 0]
    if values.size == 0:
        raise ValueError("no brain pixels (all images are zero): cannot build a histogram")
    counts, edges = np.histogram(values, bins=bins, range=value_range)
    return _histogram_frame(counts, edges)


def brain_intensity_summary(images: np.ndarray, bins: int = 100) -> dict[str, float]:
    """Summary of the brain pixels (``images > 0``) of images in [0, 1].

    Keys: ``mean``, ``median``, ``mode`` (centre of the fullest of ``bins`` bins over [0, 1]),
    ``n_pixels`` and ``fraction_0.2_0.6`` (share of brain pixels with 0.2 <= v <= 0.6, the
    well-detectable band of Experiment 1). Raises ValueError if there is no brain pixel.
    """
    images = np.asarray(images)
    values = images[images > 0].astype(np.float64)
    if values.size == 0:
        raise ValueError("no brain pixels (all images are zero): cannot summarise")
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    top = int(np.argmax(counts))
    return {
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "mode": float((edges[top] + edges[top + 1]) / 2),
        "n_pixels": float(values.size),
        "fraction_0.2_0.6": float(np.mean((values >= 0.2) & (values <= 0.6))),
    }


# --------------------------------------------------------------------------- labelled data


def _replace_last(text: str, old: str, new: str) -> str:
    head, sep, tail = text.rpartition(old)
    return head + new + tail if sep else text


def _pair_by_manifest(images: list[Path], manifest: Path, column: str) -> list[Path]:
    manifest = Path(manifest)
    if not manifest.is_file():
        raise FileNotFoundError(f"manifest {str(manifest)!r} does not exist")
    table = pd.read_csv(manifest, dtype=str)
    missing = [c for c in ("image", column) if c not in table.columns]
    if missing:
        raise ValueError(
            f"manifest {str(manifest)!r} lacks column(s) {missing}: "
            f"expected 'image' and {column!r}, found {list(table.columns)}"
        )
    base = manifest.parent
    lookup: dict[str, Path] = {}
    for img, comp in zip(table["image"], table[column], strict=True):
        key = os.path.realpath(base / str(img))
        if key in lookup:
            raise ValueError(f"manifest {str(manifest)!r} lists image {img!r} twice")
        lookup[key] = base / str(comp) if isinstance(comp, str) and comp else None
    out = []
    for image in images:
        comp = lookup.get(os.path.realpath(image), False)
        if comp is False:
            raise ValueError(f"image {str(image)!r} is not listed in manifest {str(manifest)!r}")
        if comp is None:
            raise ValueError(
                f"manifest {str(manifest)!r} has no {column!r} entry for image {str(image)!r}"
            )
        out.append(comp)
    return out


def drop_companions(
    files: Sequence[Path],
    *,
    replace: Iterable[tuple[str, str]] = (),
    manifests: Iterable[tuple[Path, str]] = (),
) -> list[Path]:
    """``files`` without those that are the companion (brain mask, label) of a listed image.

    Masks stored next to the images match a pattern such as ``"*.nii.gz"`` too; they are not
    images. For each ``(old, new)`` in ``replace``, a file whose path contains ``old`` has the
    companion ``old`` -> ``new`` (last occurrence, as :func:`pair_files`); each
    ``(manifest, column)`` lists companions in that CSV column (relative to the manifest's
    folder). Paths are compared after resolving symlinks; the order of ``files`` is kept.
    """
    files = [Path(f) for f in files]
    companions: set[str] = set()
    for old, new in replace:
        for f in files:
            text = f.as_posix()
            if old in text:
                companions.add(os.path.realpath(_replace_last(text, old, new)))
    for manifest, column in manifests:
        manifest = Path(manifest)
        if manifest.is_file():  # a missing manifest is reported by pair_files
            table = pd.read_csv(manifest, dtype=str)
            if column in table.columns:
                companions.update(
                    os.path.realpath(manifest.parent / c) for c in table[column].dropna()
                )
    return [f for f in files if os.path.realpath(f) not in companions]


def pair_files(
    images: Sequence[Path],
    *,
    replace: tuple[str, str] | None = None,
    manifest: Path | None = None,
    column: str = "label",
) -> list[Path]:
    """The companion file (label or brain mask) of every image, in the same order.

    Either ``replace=(old, new)``: the last occurrence of ``old`` in the image's path is
    replaced by ``new`` (BraTS ``('_flair.nii.gz', '_seg.nii.gz')``, MSLUB
    ``('FLAIR.nii.gz', 'consensus_gt.nii.gz')``, WMH ``('pre/FLAIR.nii.gz', 'wmh.nii.gz')``);
    or ``manifest``: a CSV with columns ``image`` and ``column``, relative paths resolved
    against the manifest's folder (for irregular names such as MSLUB's brain masks).
    Raises FileNotFoundError naming the image and the expected companion if it is missing,
    ValueError if the image path lacks ``old`` or is not in the manifest.
    """
    if (replace is None) == (manifest is None):
        raise ValueError("pair_files needs exactly one of replace=(old, new) or manifest=path")
    images = [Path(p) for p in images]
    if replace is not None:
        old, new = replace
        if not old or old == new:
            raise ValueError(f"replace must be two different strings (old, new), got {replace!r}")
        companions = []
        for image in images:
            text = image.as_posix()
            if old not in text:
                raise ValueError(
                    f"image path {text!r} does not contain {old!r}: cannot derive its companion; "
                    "if this file is not an image, narrow the data set's pattern (e.g. "
                    f"'*{old}') so that it matches the images only"
                )
            companions.append(Path(_replace_last(text, old, new)))
    else:
        companions = _pair_by_manifest(images, manifest, column)
    for image, comp in zip(images, companions, strict=True):
        if not comp.is_file():
            raise FileNotFoundError(
                f"companion file for image {str(image)!r} not found: expected {str(comp)!r}"
            )
    return companions


def lesion_histogram(
    image_files: Sequence[Path],
    label_files: Sequence[Path],
    *,
    mask_files: Sequence[Path] | None = None,
    anomaly_values: Iterable[int] | None = None,
    ignore_values: Iterable[int] = (),
    normalisation: str = "percentile",
    bins: int = 100,
    reorient: bool = False,
    progress: bool = False,
    background_threshold: float | None = None,
    percentiles: Sequence[float] = PERCENTILES,
) -> pd.DataFrame:
    """Whole-volume intensity histograms over [0, 1] of normal and anomalous brain voxels.

    Each image is loaded with :func:`load_volume` (``normalisation``, ``percentiles``,
    ``reorient``, ``background_threshold``, optional brain mask, no resize). A voxel is anomalous if its label is in ``anomaly_values`` (labels rounded to the
    nearest integer) or, if that is None, if its label is > 0; voxels whose label is in
    ``ignore_values`` (e.g. WMH class 2) are dropped; only brain voxels (image > 0) count.
    Counts are summed over all volumes. Columns: ``bin_left``, ``bin_right``, ``normal_count``,
    ``anomalous_count`` (int64), ``normal_density``, ``anomalous_density`` (each integrating to 1).
    Raises ValueError for mismatched list lengths, label/image shape mismatch (naming both
    files) and when no anomalous or no normal voxel is found.
    """
    image_files, label_files = list(image_files), list(label_files)
    masks = list(mask_files) if mask_files is not None else [None] * len(image_files)
    if not image_files:
        raise ValueError("no image files given")
    if not len(image_files) == len(label_files) == len(masks):
        raise ValueError(
            f"got {len(image_files)} images, {len(label_files)} labels and {len(masks)} masks: "
            "expected one label (and mask, if given) per image"
        )
    anomaly = None if anomaly_values is None else np.array(sorted(set(anomaly_values)))
    ignore = np.array(sorted(set(ignore_values)))
    if anomaly is not None and np.isin(anomaly, ignore).any():
        raise ValueError(
            f"anomaly_values {anomaly.tolist()} and ignore_values {ignore.tolist()} overlap"
        )
    edges = np.linspace(0.0, 1.0, bins + 1)
    normal_counts = np.zeros(bins, np.int64)
    anomalous_counts = np.zeros(bins, np.int64)
    items = zip(image_files, label_files, masks, strict=True)
    for image_path, label_path, mask_path in tqdm(
        items, total=len(image_files), desc="lesion histograms", disable=not progress
    ):
        image = load_volume(
            image_path,
            normalisation=normalisation,
            reorient=reorient,
            mask_path=mask_path,
            background_threshold=background_threshold,
            percentiles=percentiles,
        )
        label = read_nifti(Path(label_path), reorient=reorient)
        if label.shape != image.shape:
            raise VolumeError(
                f"label {str(label_path)!r} has shape {label.shape} but image "
                f"{str(image_path)!r} has shape {image.shape}: expected the same shape"
            )
        rounded = np.rint(label)
        is_anomalous = label > 0 if anomaly is None else np.isin(rounded, anomaly)
        keep = (image > 0) & ~np.isin(rounded, ignore)
        normal_counts += np.histogram(image[keep & ~is_anomalous], bins=edges)[0]
        anomalous_counts += np.histogram(image[keep & is_anomalous], bins=edges)[0]
    for name, counts in (("anomalous", anomalous_counts), ("normal", normal_counts)):
        if counts.sum() == 0:
            raise ValueError(
                f"no {name} brain voxels in {len(label_files)} label files "
                f"(anomaly_values={None if anomaly is None else anomaly.tolist()}, "
                f"ignore_values={ignore.tolist()}): check the labels and these values"
            )
    normal = _histogram_frame(normal_counts, edges)
    anomalous = _histogram_frame(anomalous_counts, edges)
    return pd.DataFrame(
        {
            "bin_left": normal["bin_left"],
            "bin_right": normal["bin_right"],
            "normal_count": normal["count"],
            "anomalous_count": anomalous["count"],
            "normal_density": normal["density"],
            "anomalous_density": anomalous["density"],
        }
    )
