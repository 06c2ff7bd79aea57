"""A labelled lesion set read and checked, its slices selected, its contrast compared with the
training data's (the guard rails of Exp 4)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage, stats

from residual_pitfalls.data.nifti import VolumeError, read_nifti
from residual_pitfalls.data.volumes import _centre_pad_crop, load_volume

__all__ = [
    "ContrastMismatchError",
    "LabelledVolume",
    "check_contrast",
    "load_labelled_volume",
    "select_slices",
]


class ContrastMismatchError(ValueError):
    """The lesion set's healthy tissue does not look like the training data's."""


@dataclass(frozen=True)
class LabelledVolume:
    """One volume of a lesion set: image float32 in [0, 1], ``lesion`` and ``ignore`` bool masks
    (brain voxels only), all ``(X, Y, Z)``."""

    image: np.ndarray
    lesion: np.ndarray
    ignore: np.ndarray


def _check_label_values(
    label: np.ndarray, path: Path, anomaly: Iterable[int] | None, ignore: Iterable[int]
) -> np.ndarray:
    """The rounded integer labels; raises VolumeError naming the file for non-integer, negative
    or unexpected values."""
    rounded = np.rint(label)
    if np.abs(label - rounded).max(initial=0.0) > 1e-3:
        raise VolumeError(
            f"label {str(path)!r} has non-integer values (e.g. {float(label[label != rounded][0]):g}):"
            " expected integer class labels (0 = healthy)"
        )
    values = np.unique(rounded).astype(int)
    if values.min() < 0:
        raise VolumeError(f"label {str(path)!r} has negative values {values[values < 0].tolist()}")
    if anomaly is not None:
        allowed = {0, *anomaly, *ignore}
        unexpected = sorted(set(values.tolist()) - allowed)
        if unexpected:
            raise VolumeError(
                f"label {str(path)!r} has values {unexpected} that are neither 0, anomaly_values "
                f"{sorted(anomaly)} nor ignore_values {sorted(ignore)}: add them to one of the two"
            )
    return rounded


def _resize_label(label: np.ndarray, size: int | None, resize: str) -> np.ndarray:
    """A label volume resized like its image: nearest neighbour, so classes stay integers."""
    if size is None or label.shape == (size,) * 3:
        return label
    if resize == "resample":
        label = ndimage.zoom(label, size / max(label.shape), order=0, mode="constant", cval=0)
    return _centre_pad_crop(label, size)


def load_labelled_volume(
    image_path: Path,
    label_path: Path,
    *,
    mask_path: Path | None = None,
    anomaly_values: Iterable[int] | None = None,
    ignore_values: Iterable[int] = (),
    size: int | None = None,
    resize: str = "pad",
    reorient: bool = False,
    **load_options,
) -> LabelledVolume:
    """Image (``load_volume`` with ``load_options``) and its label, checked.

    A voxel is a lesion when its label is in ``anomaly_values`` (default: > 0), ignored when in
    ``ignore_values``. Raises VolumeError naming the file(s) for a missing label, a label of
    another shape or affine than its image, non-integer / negative / unexpected values, or a
    label without any lesion voxel inside the brain.
    """
    image_path, label_path = Path(image_path), Path(label_path)
    if not label_path.is_file():
        raise VolumeError(f"label {str(label_path)!r} of image {str(image_path)!r} does not exist")
    img_header, lab_header = nib.load(str(image_path)), nib.load(str(label_path))
    if img_header.shape[:3] != lab_header.shape[:3]:
        raise VolumeError(
            f"label {str(label_path)!r} has shape {lab_header.shape} but image "
            f"{str(image_path)!r} has shape {img_header.shape}: expected the same shape"
        )
    if not np.allclose(img_header.affine, lab_header.affine, atol=1e-3):
        raise VolumeError(
            f"label {str(label_path)!r} and image {str(image_path)!r} have different affines "
            "(voxel-to-world matrices): the label is not aligned with its image"
        )
    anomaly = None if anomaly_values is None else sorted(set(anomaly_values))
    ignore = sorted(set(ignore_values))
    image = load_volume(
        image_path, size=size, resize=resize, reorient=reorient, mask_path=mask_path, **load_options
    )
    raw = read_nifti(label_path, reorient=reorient)
    rounded = _resize_label(_check_label_values(raw, label_path, anomaly, ignore), size, resize)
    brain = image > 0
    lesion = brain & (rounded > 0 if anomaly is None else np.isin(rounded, anomaly))
    if not lesion.any():
        raise VolumeError(
            f"label {str(label_path)!r} has no lesion voxel inside the brain of "
            f"{str(image_path)!r} (anomaly_values={anomaly}): an empty label; leave the volume "
            "out of the set or check the label values"
        )
    return LabelledVolume(image, lesion, brain & np.isin(rounded, ignore))


def select_slices(
    volumes: Sequence[LabelledVolume], *, axis: int, max_slices: int, min_brain: float = 0.05
) -> list[tuple[int, int, bool]]:
    """(volume, slice, has_lesion) of the slices Exp 4 scores, sorted.

    The slices with a lesion voxel (at most ``max_slices``, evenly spaced over all of them) and
    as many lesion-free slices from the same volumes (evenly spaced; fewer if there are not
    enough). Only slices whose brain covers ``min_brain`` of the largest brain slice count.
    """
    lesion, free = [], []
    for v, vol in enumerate(volumes):
        area = np.moveaxis(vol.image > 0, axis, 0).reshape(vol.image.shape[axis], -1).sum(1)
        hit = np.moveaxis(vol.lesion, axis, 0).reshape(len(area), -1).any(1)
        ok = area >= max(min_brain * area.max(), 1)
        lesion += [(v, int(k)) for k in np.flatnonzero(hit & ok)]
        free += [(v, int(k)) for k in np.flatnonzero(~hit & ok)]
    lesion = _evenly(lesion, max_slices)
    used = {v for v, _ in lesion}
    free = _evenly([s for s in free if s[0] in used], len(lesion))
    return sorted([(v, k, True) for v, k in lesion] + [(v, k, False) for v, k in free])


def _evenly(items: list, n: int) -> list:
    if len(items) <= n:
        return items
    return [items[i] for i in np.unique(np.linspace(0, len(items) - 1, n).round().astype(int))]


def check_contrast(
    train_values: np.ndarray,
    set_values: np.ndarray,
    *,
    train_name: str,
    set_name: str,
    max_distance: float,
    allow: bool = False,
) -> float:
    """Wasserstein distance between the training data's brain intensities and the lesion set's
    healthy brain intensities (both in [0, 1]); above ``max_distance`` a ContrastMismatchError
    naming both data sets, unless ``allow``. Returns the distance."""
    distance = float(stats.wasserstein_distance(np.ravel(train_values), np.ravel(set_values)))
    if distance > max_distance and not allow:
        raise ContrastMismatchError(
            f"lesion set {set_name!r}: its healthy brain intensities are {distance:.3f} away "
            f"(Wasserstein distance, intensities in [0, 1]) from those of the training data "
            f"{train_name!r}, more than lesions.max_wasserstein = {max_distance:g}. The models "
            "were trained on another contrast or normalisation (e.g. T1 vs FLAIR): their scores "
            "there are wrong numbers, not results. Use a set of the same contrast and "
            "normalisation, or set lesions.allow_mismatch: true if you know they match"
        )
    return distance
