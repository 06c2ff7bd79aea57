"""Finding and reading volume files: the folder listing and the checked NIfTI reader."""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError

__all__ = ["MAX_VOXELS", "VolumeError", "list_volumes", "read_nifti"]

LOG = logging.getLogger(__name__)


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
