"""Voxel spacing from the NIfTI headers, and the check that a data set has one spacing.

The experiments measure anomalies in pixels (a disk of ``anomaly.radius`` px, a blur of sigma
px) and ``resize: pad`` keeps every voxel: volumes of 1 mm and 2 mm in one folder would give
brains of very different pixel sizes (538 brain pixels against 2,047 on one 64^2 test slice),
silently. A data set whose volumes differ in spacing is therefore refused, naming the files
(resampling them is left to the user, who knows which interpolation suits the data; an
interpolated volume is smoother, which itself changes what a residual can see).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError

from residual_pitfalls.data.nifti import VolumeError

__all__ = ["SPACING_RTOL", "check_common_spacing", "voxel_spacing"]

# 0.9375 mm and 0.94 mm (0.3 % apart) are one spacing; 1 mm and 1.2 mm are not.
SPACING_RTOL = 0.01


def voxel_spacing(path: Path, *, reorient: bool = False) -> tuple[float, float, float]:
    """The ``(x, y, z)`` voxel size in mm from the header only (no voxel is read).

    With ``reorient`` the sizes are in the order of the closest canonical (RAS) axes, as
    :func:`~residual_pitfalls.data.nifti.read_nifti` returns the volume. Raises VolumeError
    naming the file if the header cannot be read or gives a non-positive size.
    """
    try:
        img = nib.load(Path(path), mmap=False, keep_file_open=False)
        zooms = np.asarray(img.header.get_zooms()[:3], dtype=np.float64)
        if reorient:
            axes = nib.io_orientation(img.affine)[:, 0].astype(int)
            canonical = np.empty(3)
            canonical[axes] = zooms
            zooms = canonical
    except (ImageFileError, OSError, EOFError, zlib.error, ValueError, IndexError) as err:
        raise VolumeError(
            f"{str(path)!r}: cannot read its voxel size from the header: {err}"
        ) from err
    if zooms.size != 3 or not np.isfinite(zooms).all() or (zooms <= 0).any():
        raise VolumeError(f"{str(path)!r}: its header gives the voxel size {zooms.tolist()} mm")
    return tuple(float(z) for z in zooms)


def _same(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return bool(np.allclose(a, b, rtol=SPACING_RTOL, atol=0.0))


def check_common_spacing(
    files: Sequence[Path], *, reorient: bool = False, what: str = "the data set"
) -> tuple[float, float, float]:
    """The voxel spacing shared by all ``files``; VolumeError naming the files if they differ.

    Spacings within ``SPACING_RTOL`` (relative, per axis) count as one. The message lists each
    spacing with its files (the most common first) and says what to do.
    """
    groups: list[tuple[tuple[float, float, float], list[str]]] = []
    for path in files:
        spacing = voxel_spacing(Path(path), reorient=reorient)
        for ref, members in groups:
            if _same(spacing, ref):
                members.append(str(path))
                break
        else:
            groups.append((spacing, [str(path)]))
    if not groups:
        raise ValueError("no volume files given")
    if len(groups) > 1:
        groups.sort(key=lambda g: -len(g[1]))

        def listing(members: list[str]) -> str:
            head = ", ".join(repr(m) for m in members[:5])
            return head + (f" and {len(members) - 5} more" if len(members) > 5 else "")

        parts = "; ".join(
            f"{' x '.join(f'{v:g}' for v in ref)} mm: {len(m)} file(s) ({listing(m)})"
            for ref, m in groups
        )
        raise VolumeError(
            f"the volumes of {what} have different voxel sizes: {parts}. Anomaly radii and blurs "
            "are in pixels and resize keeps (pad) or scales all volumes alike (resample), so "
            "brains of different voxel sizes would silently differ in pixel size. Resample the "
            f"odd files to {' x '.join(f'{v:g}' for v in groups[0][0])} mm (the most common "
            "spacing) or leave them out (narrow datasets.<name>.pattern)"
        )
    return groups[0][0]
