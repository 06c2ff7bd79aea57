"""A lesion set from its files to what every model's Exp 4 job scores: the checked volumes, the
contrast guard rail, the 3-D components and the selected slice stack."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from residual_pitfalls.config import EMBEDDED_LESION_SET as EMBEDDED
from residual_pitfalls.lesions.components import SliceStack, component_table, slice_stack
from residual_pitfalls.lesions.labelled import check_contrast, load_labelled_volume, select_slices

__all__ = ["EMBEDDED", "prepare_lesion_set", "volume_name"]


def volume_name(path: str | Path) -> str:
    """A volume's name in the tables: its file name without .nii(.gz), with its folder when the
    file name alone is generic (BraTS/MSLUB: patient01/FLAIR.nii.gz -> patient01/FLAIR)."""
    path = Path(path)
    stem = path.name.removesuffix(".gz").removesuffix(".nii")
    return f"{path.parent.name}/{stem}" if path.parent.name else stem


# Over ~60 lines only by its signature and docstring: the code itself is under 60 lines.
def prepare_lesion_set(
    images: Sequence[Path],
    labels: Sequence[Path],
    masks: Sequence[Path] | None,
    train: np.ndarray,
    *,
    set_name: str,
    train_name: str,
    load: Mapping,
    label_values: Mapping,
    axis: int,
    max_slices: int,
    min_size: int,
    max_wasserstein: float,
    allow_mismatch: bool = False,
    progress: bool = False,
) -> tuple[SliceStack, pd.DataFrame, dict]:
    """(slice stack, component table, summary) of a labelled set.

    ``train``: the training slices (their brain voxels are the healthy histogram); ``load``:
    ``load_volume`` options (size, resize, normalisation, ...); ``label_values``: optional
    ``anomaly_values`` / ``ignore_values``. Raises the guard rails' errors (see ``labelled``).
    """
    if not images:
        raise ValueError(f"lesion set {set_name!r} has no volumes")
    if len(labels) != len(images):
        raise ValueError(f"lesion set {set_name!r}: {len(images)} images but {len(labels)} labels")
    masks = list(masks) if masks else [None] * len(images)
    volumes = [
        load_labelled_volume(
            Path(img),
            Path(lab),
            mask_path=None if m is None else Path(m),
            anomaly_values=label_values.get("anomaly_values"),
            ignore_values=label_values.get("ignore_values", ()),
            **load,
        )
        for img, lab, m in tqdm(
            list(zip(images, labels, masks, strict=True)), desc=set_name, disable=not progress
        )
    ]
    healthy = np.sort(np.asarray(train)[np.asarray(train) > 0].astype(np.float32))
    selection = select_slices(volumes, axis=axis, max_slices=max_slices)
    # the healthy tissue of the slices that are scored, against the training slices' brain
    set_healthy = np.concatenate(
        [
            np.take(v.image, k, axis)[
                (np.take(v.image, k, axis) > 0)
                & ~np.take(v.lesion, k, axis)
                & ~np.take(v.ignore, k, axis)
            ]
            for v, k in ((volumes[v], k) for v, k, _ in selection)
        ]
    )
    distance = check_contrast(
        healthy,
        set_healthy,
        train_name=train_name,
        set_name=set_name,
        max_distance=max_wasserstein,
        allow=allow_mismatch,
    )
    names = [volume_name(p) for p in images]
    table, id_volumes = component_table(volumes, names, min_size=min_size, sorted_healthy=healthy)
    stack = slice_stack(volumes, id_volumes, selection, axis)
    summary = {
        "set": set_name,
        "training_data": train_name,
        "wasserstein": distance,
        "volumes": len(volumes),
        "components": len(table),
        "lesion_slices": int(stack.has_lesion.sum()),
        "healthy_slices": int((~stack.has_lesion).sum()),
    }
    return stack, table, summary
