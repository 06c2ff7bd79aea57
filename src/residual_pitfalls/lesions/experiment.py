"""Exp 4 for one model: its reconstructions of a lesion set's slices scored by every scorer.

Set metrics per scorer (ignored label voxels, e.g. WMH class 2, are left out of every metric):
``per_image_ap`` (mean AP over the slices with lesion, the paper's metric), ``pooled_ap`` (all
voxels of all selected slices, lesion-free ones included, so their false positives count),
``best_dice`` and its ``threshold`` (the operating point), ``auroc`` (mean per-slice AUROC over
the slices with lesion). Lesion by lesion: ``detected`` (at least ``detected_fraction`` of the
component's scored voxels at or above the threshold) and ``ap`` over the component's box
(positives: its voxels; negatives: the healthy brain voxels there).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from residual_pitfalls.lesions.components import SliceStack, component_boxes
from residual_pitfalls.metrics.ap import average_precision
from residual_pitfalls.metrics.segmentation import auroc_per_image, best_dice, pooled_ap
from residual_pitfalls.scorers.registry import ScorerSpec, score_maps
from residual_pitfalls.scorers.stats import HealthyStats

__all__ = ["lesion_scores", "set_metrics"]


def set_metrics(stack: SliceStack, maps: np.ndarray) -> dict[str, float]:
    """The set metrics of one scorer's maps (N, H, W) over ``stack``."""
    keep = ~stack.ignore
    labels, scores = stack.lesion[keep][None], maps[keep][None]
    dice, threshold = best_dice(labels, scores)
    per_ap, per_auroc = [], []
    for i in np.flatnonzero(stack.has_lesion):
        lab, sc = stack.lesion[i][keep[i]], maps[i][keep[i]]
        per_ap.append(average_precision(lab, sc))
        per_auroc.append(auroc_per_image(lab[None], sc[None])[0])
    return {
        "per_image_ap": float(np.mean(per_ap)),
        "pooled_ap": pooled_ap(labels, scores),
        "best_dice": dice,
        "threshold": threshold,
        "auroc": float(np.nanmean(per_auroc)) if not np.isnan(per_auroc).all() else float("nan"),
    }


def _lesion_rows(boxes, maps: np.ndarray, threshold: float, fraction: float) -> pd.DataFrame:
    rows = []
    for box in boxes:
        region = maps[box.index][:, box.rows, box.cols]
        pos = region[box.positive]
        neg = region[box.negative]
        ap = (
            average_precision(
                np.r_[np.ones(pos.size, bool), np.zeros(neg.size, bool)], np.r_[pos, neg]
            )
            if neg.size
            else float("nan")
        )
        share = float(np.mean(pos >= threshold))
        rows.append(
            {
                "component": box.component,
                "scored_voxels": int(pos.size),
                "share_above": share,
                "detected": share >= fraction,
                "ap": ap,
            }
        )
    return pd.DataFrame(rows)


def lesion_scores(
    stack: SliceStack,
    reconstructions: np.ndarray,
    components: pd.DataFrame,
    specs: Mapping[str, ScorerSpec],
    *,
    stats: HealthyStats | None = None,
    detected_fraction: float = 0.1,
    margin: int = 4,
    progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(set metrics: one row per scorer; lesions: one row per component with voxels in the stack
    and scorer, ``components``' columns joined). reconstructions: (N, H, W) of ``stack.images``."""
    if np.shape(reconstructions) != stack.images.shape:
        raise ValueError(
            f"reconstructions have shape {np.shape(reconstructions)}, expected "
            f"{stack.images.shape} (one per selected slice)"
        )
    if not stack.has_lesion.any():
        raise ValueError("the lesion set's slice stack has no slice with lesion")
    boxes = component_boxes(stack, margin)
    metrics, lesions = [], []
    for name, spec in tqdm(specs.items(), desc="Exp 4 scorers", disable=not progress):
        maps = score_maps(
            spec,
            stack.images,
            np.asarray(reconstructions, np.float32),
            stats=stats if spec.needs_stats else None,
        )
        row = set_metrics(stack, maps)
        metrics.append({"score": name, **row})
        per = _lesion_rows(boxes, maps, row["threshold"], detected_fraction)
        lesions.append(per.assign(score=name))
    counts = {
        "n_lesion_slices": int(stack.has_lesion.sum()),
        "n_healthy_slices": int((~stack.has_lesion).sum()),
    }
    table = pd.concat(lesions, ignore_index=True).merge(components, on="component", how="left")
    front = ["score", "volume", "component", "size", "scored_voxels", "mean_intensity"]
    rest = ["percentile", "contrast", "share_above", "detected", "ap"]
    return pd.DataFrame(metrics).assign(**counts), table[front + rest]
