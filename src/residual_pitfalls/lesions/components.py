"""3-D lesion components of a labelled set, their intensity statistics, and the slice stack Exp 4
scores (with each component's id on its voxels)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from residual_pitfalls.lesions.labelled import LabelledVolume

__all__ = [
    "Box",
    "SliceStack",
    "component_boxes",
    "component_table",
    "healthy_percentile",
    "slice_stack",
]

_SHELL = 2  # voxels: the surrounding healthy tissue of a lesion is its 3-D dilation by this much


def healthy_percentile(values: np.ndarray, sorted_healthy: np.ndarray) -> np.ndarray:
    """Percentile (0-100) of each value in the healthy histogram: the share of healthy brain
    voxels below it, plus half of those equal to it."""
    below = np.searchsorted(sorted_healthy, values, "left")
    upto = np.searchsorted(sorted_healthy, values, "right")
    return 100.0 * (below + upto) / (2.0 * len(sorted_healthy))


def _contrast(vol: LabelledVolume, component: np.ndarray, box: tuple[slice, ...]) -> float:
    """Mean lesion intensity minus the mean of the healthy brain within _SHELL voxels of it."""
    grown = tuple(slice(max(b.start - _SHELL, 0), b.stop + _SHELL) for b in box)
    comp = component[grown]
    shell = ndimage.binary_dilation(comp, iterations=_SHELL) & ~comp
    shell &= (vol.image[grown] > 0) & ~vol.lesion[grown] & ~vol.ignore[grown]
    inside = float(vol.image[grown][comp].mean())
    return inside - float(vol.image[grown][shell].mean()) if shell.any() else float("nan")


def component_table(
    volumes: Sequence[LabelledVolume],
    names: Sequence[str],
    *,
    min_size: int,
    sorted_healthy: np.ndarray,
) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Every 3-D connected lesion component (``scipy.ndimage.label``, face connectivity) of at
    least ``min_size`` voxels: (table, one int32 id volume per volume, 0 = none).

    Ids run 1.. over the whole set, in volume order then ``ndimage.label`` order. Columns:
    volume (name), component, size (voxels), mean_intensity, contrast (mean minus the healthy
    tissue within 2 voxels around it), percentile (of mean_intensity in ``sorted_healthy``, the
    training data's brain voxels).
    """
    rows, id_volumes, next_id = [], [], 1
    for vol, name in zip(volumes, names, strict=True):
        labelled, n = ndimage.label(vol.lesion)
        ids = np.zeros(vol.lesion.shape, np.int32)
        sizes = np.bincount(labelled.ravel(), minlength=n + 1)
        for k, box in enumerate(ndimage.find_objects(labelled), start=1):
            if sizes[k] < min_size:
                continue
            comp = labelled[box] == k
            ids[box][comp] = next_id
            mean = float(vol.image[box][comp].mean())
            rows.append(
                {
                    "volume": name,
                    "component": next_id,
                    "size": int(sizes[k]),
                    "mean_intensity": mean,
                    "contrast": _contrast(vol, labelled == k, box),
                }
            )
            next_id += 1
        id_volumes.append(ids)
    table = pd.DataFrame(
        rows, columns=["volume", "component", "size", "mean_intensity", "contrast"]
    )
    table["percentile"] = healthy_percentile(table["mean_intensity"].to_numpy(), sorted_healthy)
    return table, id_volumes


@dataclass(frozen=True)
class SliceStack:
    """The slices Exp 4 scores, all (N, H, W) but the (N,) volume / slice / has_lesion."""

    images: np.ndarray
    lesion: np.ndarray
    ignore: np.ndarray
    components: np.ndarray
    volume: np.ndarray
    slice: np.ndarray
    has_lesion: np.ndarray

    def save(self, path) -> None:
        with open(path, "wb") as fh:  # a handle: np.savez would append ".npz"
            np.savez_compressed(fh, **self.__dict__)

    @classmethod
    def load(cls, path) -> SliceStack:
        with np.load(path, allow_pickle=False) as data:
            return cls(**{k: data[k] for k in data.files})


def slice_stack(
    volumes: Sequence[LabelledVolume],
    id_volumes: Sequence[np.ndarray],
    selection: Sequence[tuple[int, int, bool]],
    axis: int,
) -> SliceStack:
    """The selected (volume, slice, has_lesion) slices of the set, stacked."""

    def take(arrays, dtype):
        return np.stack([np.take(arrays[v], k, axis=axis) for v, k, _ in selection]).astype(dtype)

    return SliceStack(
        images=take([v.image for v in volumes], np.float32),
        lesion=take([v.lesion for v in volumes], bool),
        ignore=take([v.ignore for v in volumes], bool),
        components=take(id_volumes, np.int32),
        volume=np.array([v for v, _, _ in selection], np.int32),
        slice=np.array([k for _, k, _ in selection], np.int32),
        has_lesion=np.array([h for _, _, h in selection], bool),
    )


@dataclass(frozen=True)
class Box:
    """A component's region for its own AP: stack indices, rows, cols, and in that region its
    voxels (positives) and the healthy brain voxels (negatives)."""

    component: int
    index: np.ndarray
    rows: slice
    cols: slice
    positive: np.ndarray
    negative: np.ndarray


def component_boxes(stack: SliceStack, margin: int) -> list[Box]:
    """For each component with voxels in the stack: its bounding box grown by ``margin`` voxels
    (in-plane and across the stack's slices of the same volume)."""
    boxes = []
    found = ndimage.find_objects(stack.components)
    for k, where in enumerate(found, start=1):
        if where is None:
            continue
        n, r, c = where
        comp_n = n.start + np.flatnonzero((stack.components[n] == k).any(axis=(1, 2)))
        vol = stack.volume[comp_n[0]]
        lo, hi = stack.slice[comp_n].min() - margin, stack.slice[comp_n].max() + margin
        index = np.flatnonzero((stack.volume == vol) & (stack.slice >= lo) & (stack.slice <= hi))
        h, w = stack.components.shape[1:]
        rows = slice(max(r.start - margin, 0), min(r.stop + margin, h))
        cols = slice(max(c.start - margin, 0), min(c.stop + margin, w))
        region = np.ix_(index, np.arange(h)[rows], np.arange(w)[cols])
        positive = stack.components[region] == k
        negative = (stack.images[region] > 0) & ~stack.lesion[region] & ~stack.ignore[region]
        boxes.append(Box(k, index, rows, cols, positive, negative))
    return boxes
