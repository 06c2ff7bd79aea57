"""Companion files of images (brain masks, lesion labels): pairing, and telling them from images."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["drop_companions", "pair_files"]


def _replace_last(text: str, old: str, new: str) -> str:
    head, sep, tail = text.rpartition(old)
    return head + new + tail if sep else text


def _read_manifest(manifest: Path):
    """A manifest CSV as strings (pandas imported here: the workflow's parse lists files only)."""
    import pandas as pd

    return pd.read_csv(manifest, dtype=str)


def _pair_by_manifest(images: list[Path], manifest: Path, column: str) -> list[Path]:
    manifest = Path(manifest)
    if not manifest.is_file():
        raise FileNotFoundError(f"manifest {str(manifest)!r} does not exist")
    table = _read_manifest(manifest)
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
            table = _read_manifest(manifest)
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
