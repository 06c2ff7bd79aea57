"""2-D slices of volumes: one volume's slices, and the stacked slices of a whole split."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from residual_pitfalls.data.nifti import VolumeError
from residual_pitfalls.data.spacing import check_common_spacing
from residual_pitfalls.data.volumes import load_volume

__all__ = ["build_slice_stack", "extract_slices"]


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
    given, holds one brain-mask file per volume (same order). Volumes of different voxel sizes
    (from their headers) are refused, naming the files (:func:`check_common_spacing`).
    """
    files, mask_of, idx = _stack_args(files, indices, workers, masks)
    # slices of different voxel sizes in one stack would differ in pixel size, silently
    check_common_spacing(files, reorient=load_kwargs.get("reorient", False), what="this stack")

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
            _check_volume_slices(path, slices, stack.shape[1:], idx, axis, require_foreground)
            stack[v * len(idx) : (v + 1) * len(idx)] = slices
    finally:
        if pool is not None:  # on an error, do not wait for the remaining volumes
            pool.shutdown(wait=True, cancel_futures=True)
    return stack, _provenance(files, idx, axis)


def _stack_args(
    files: Sequence[Path], indices: Sequence[int], workers: int, masks: Sequence[Path] | None
) -> tuple[list[Path], dict[Path, Path | None], list[int]]:
    """The files as Paths, the mask (or None) of each file, the slice indices as ints."""
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
    return files, mask_of, idx


def _check_volume_slices(
    path: Path,
    slices: np.ndarray,
    shape: tuple[int, ...],
    idx: list[int],
    axis: int,
    require_foreground: bool,
) -> None:
    """Refuse slices of another size than ``shape`` and (if required) slices without brain."""
    if slices.shape[1:] != shape:
        raise VolumeError(
            f"{str(path)!r} gives slices of shape {slices.shape[1:]} but earlier files "
            f"give {shape}: pass size=... to load them at one size"
        )
    if require_foreground:
        for k, s in zip(idx, slices, strict=True):
            if not (s > 0).any():
                raise VolumeError(
                    f"slice {k} (axis {axis}) of {str(path)!r} has no brain pixel "
                    "(all zero): it cannot hold an anomaly"
                )


def _provenance(files: list[Path], idx: list[int], axis: int) -> pd.DataFrame:
    """Row i describes image i of the stack: image_id, source, slice_index, axis."""
    return pd.DataFrame(
        {
            "image_id": np.arange(len(files) * len(idx), dtype=np.int64),
            "source": [str(p) for p in files for _ in idx],
            "slice_index": np.array(idx * len(files), dtype=np.int64),
            "axis": np.full(len(files) * len(idx), axis, dtype=np.int64),
        }
    )
