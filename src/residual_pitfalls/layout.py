"""Where the workflow's files are: config -> file paths (importable; the .smk files use it).

Standard library plus the data package's listing helpers: the workflow's parse imports it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from residual_pitfalls.data.companions import drop_companions, pair_files
from residual_pitfalls.data.nifti import list_volumes
from residual_pitfalls.data.split import augmentation_source, split_volumes


def needs_download(entry: Mapping) -> bool:
    return "download" in entry and not os.path.exists(entry["path"])


def download_targets(entry: Mapping) -> list[str]:
    """The volume files a download must provide (a list, or {format, count})."""
    volumes = entry["download"]["volumes"]
    if isinstance(volumes, dict):
        volumes = [volumes["format"].format(i) for i in range(volumes["count"])]
    return [os.path.join(entry["path"], v) for v in volumes]


def synthetic_volumes(subjects: int) -> list[str]:
    """The files the workflow writes the embedded synthetic brains to."""
    return [f"results/data/volumes/sub-{i:04d}.nii.gz" for i in range(subjects)]


def brainweb_volumes(subjects: Sequence[int], augment: int = 0) -> list[str]:
    """The files the workflow renders BrainWeb's anatomical models to: for each subject (sorted
    ids) ``sub-<id>.nii.gz``, then its augmented copies ``sub-<id>_aug<k>.nii.gz``, k = 1..augment."""
    copies = ["", *(f"_aug{k}" for k in range(1, augment + 1))]
    return [
        f"results/data/brainweb/sub-{s:02d}{c}.nii.gz" for s in sorted(subjects) for c in copies
    ]


def split_of(config: Mapping, files: Sequence[str | Path]) -> dict[str, list[Path]]:
    """The workflow's train/val/test split of ``files`` with the config's ``split`` fractions
    (BrainWeb: by subject, each augmented copy in its source subject's split)."""
    entry = config["datasets"][config["dataset"]]
    return split_volumes(
        [Path(f) for f in files],
        train_fraction=config["split"]["train_fraction"],
        val_fraction=config["split"]["val_fraction"],
        group=augmentation_source if entry["source"] == "brainweb" else None,
    )


def dataset_files(config: Mapping, name: str) -> list[str]:
    """Sorted volume files of a data set: synthesised, downloaded, or found in the user's folder."""
    entry = config["datasets"][name]
    if entry["source"] == "synthetic":
        return synthetic_volumes(entry["subjects"])
    if entry["source"] == "brainweb":
        return brainweb_volumes(entry["subjects"], entry.get("augment", 0))
    if needs_download(entry):
        return download_targets(entry)
    files = list_volumes(Path(entry["path"]), entry["pattern"])
    # masks and labels stored next to the images match the pattern too: they are not images
    kinds = [(entry[k], c) for k, c in (("mask", "mask"), ("labels", "label")) if k in entry]
    return [
        str(p)
        for p in drop_companions(
            files,
            replace=[tuple(spec["replace"]) for spec, _ in kinds if "replace" in spec],
            manifests=[(Path(spec["manifest"]), c) for spec, c in kinds if "manifest" in spec],
        )
    ]


def companion_files(
    config: Mapping, name: str, kind: str, images: list[str] | None = None
) -> list[str]:
    """Each image's label or mask file (kind "labels" / "mask"); [] when the data set has none."""
    entry = config["datasets"][name]
    spec = entry.get(kind)
    if spec is None:
        return []
    images = [Path(f) for f in (images if images is not None else dataset_files(config, name))]
    replace = tuple(spec["replace"]) if "replace" in spec else None
    manifest = Path(spec["manifest"]) if "manifest" in spec else None
    column = "label" if kind == "labels" else "mask"
    return [str(p) for p in pair_files(images, replace=replace, manifest=manifest, column=column)]
