"""The deterministic sorted train/validation/test split of the volume files (SPEC 1.2)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["augmentation_source", "split_volumes"]

_COPY = re.compile(r"_aug[0-9]+(?=\.[^/]*$)")


def augmentation_source(path: Path) -> str:
    """The file an augmented copy ``<name>_aug<k>.<ext>`` was made from (``<name>.<ext>``, as a
    posix path); any other file is its own source."""
    return _COPY.sub("", Path(path).as_posix(), count=1)


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
    files: Sequence[Path],
    *,
    train_fraction: float = 0.6,
    val_fraction: float = 0.05,
    group: Callable[[Path], str] | None = None,
) -> dict[str, list[Path]]:
    """Deterministic, non-destructive split (SPEC 1.2): ``{'train', 'val', 'test'}`` -> paths.

    The files are sorted by path (so the input order does not matter); the first
    ``int(n * train_fraction)`` form the training pool and the rest the test set; the first
    ``max(1, int(n_pool * val_fraction))`` of the pool (none if ``val_fraction == 0``) are the
    validation set. The three splits are disjoint (checked).

    ``group`` (e.g. :func:`augmentation_source`) maps a file to the subject it shows: then the
    sorted subjects are split as above and every file goes to its subject's split, so the
    augmented copies of a subject share its split (never training anatomy in the test set), and
    the real subjects' split does not depend on how many copies there are. Raises ValueError for fractions
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
    keys = [group(p) if group else p.as_posix() for p in ordered]
    units = sorted(set(keys))  # the subjects (without `group`: the files)
    what = "subjects (each with its augmented copies)" if group else "volumes"
    counts = _split_counts(len(units), train_fraction, val_fraction)
    short = _short_splits(counts, val_fraction)
    if short:
        need = _min_volumes_for_split(train_fraction, val_fraction)
        raise ValueError(
            f"{len(units)} {what} are too few for split.train_fraction={train_fraction}, "
            f"split.val_fraction={val_fraction}: the split would be train={counts['train']}, "
            f"val={counts['val']}, test={counts['test']} (fewer than one volume: "
            f"{', '.join(short)}); need at least {need} {what.split()[0]}, or change these keys"
        )
    n_val, n_pool = counts["val"], counts["val"] + counts["train"]
    part_of = {unit: "val" for unit in units[:n_val]}
    part_of.update({unit: "train" for unit in units[n_val:n_pool]})
    part_of.update({unit: "test" for unit in units[n_pool:]})
    split = {
        part: [p for p, key in zip(ordered, keys, strict=True) if part_of[key] == part]
        for part in ("train", "val", "test")
    }
    # a volume in two splits would leak test data into training: never let it through
    if sum(map(len, split.values())) != len({p for part in split.values() for p in part}):
        raise RuntimeError(f"split of {len(ordered)} volumes is not disjoint: {counts}")
    return split
