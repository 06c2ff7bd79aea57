"""The config ``scores:`` entries checked without importing any scorer (the workflow's parse).

Standard library only: the workflow checks names, keys and post-processing of every entry at
start-up, while the code a user names (``function: "pkg.mod:fn"``) is imported, its signature
matched to the params and run once on a test batch in a job (:mod:`residual_pitfalls.checks`) and
by ``residual-pitfalls check-config``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from residual_pitfalls.errors import ConfigError

# The built-in scorers (name -> needs healthy statistics); scorers.builtin.SCORES follows it.
BUILTIN_SCORERS: dict[str, bool] = {
    "residual": False,
    "positive_residual": False,
    "ssim": False,
    "msgms": False,
    "residual_ssim": False,
    "intensity": False,
    "pixel_zscore": True,
    "residual_zscore": True,
}
# The zoo's Exp 3 metrics (experiments.zoo.METRICS follows it).
METRIC_NAMES = ("pooled_ap", "auroc", "best_dice")
ENTRY_KEYS = ("function", "scorer", "params", "median", "erode", "needs_stats")
# median <= image_size / 8 and erode <= image_size / 16 (the paper's 256^2: 31 and 16; the
# tiny 64^2: 7 and 4): wider filters flatten the anomaly disk (radius 20 px at 256) into its
# surroundings, and erode: 1000 on 64^2 made every map constant.
MEDIAN_DIVISOR = 8
ERODE_DIVISOR = 16


@dataclass(frozen=True)
class Entry:
    """One checked ``scores:`` entry: ``source`` is the built-in name or ``"pkg.mod:fn"``."""

    name: str
    source: str
    is_function: bool
    needs_stats: bool
    params: dict = field(default_factory=dict)
    median: int | None = None
    erode: int = 0


def zoo_entries(config_scores: Mapping | None) -> dict:
    """The config ``scores:`` entries that run: None (key absent) is every built-in with its
    defaults; an entry set to ``false`` is left out (an overlay config cannot delete a key)."""
    if config_scores is None:
        return {name: {} for name in BUILTIN_SCORERS}
    return {str(k): v for k, v in config_scores.items() if v is not False}


def _check_int(value: object, key: str, expected: str, ok: Callable[[int], bool]) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not ok(int(value)):
        raise ConfigError(f"config key '{key}': expected {expected}, got {value!r}")
    return int(value)


def _source(name: str, key: str, entry: Mapping) -> tuple[str, bool, bool]:
    """(source, is_function, needs_stats) of an entry; ConfigError naming the key."""
    if "function" in entry and "scorer" in entry:
        raise ConfigError(f"config key '{key}': give either 'function' or 'scorer', not both")
    if "function" in entry:
        if name in BUILTIN_SCORERS:
            raise ConfigError(
                f"config key '{key}.function': {name!r} is a built-in scorer; give your scorer "
                "another name"
            )
        flag = entry.get("needs_stats", False)
        if not isinstance(flag, bool):
            raise ConfigError(f"config key '{key}.needs_stats': expected true/false, got {flag!r}")
        return str(entry["function"]), True, flag
    base = entry.get("scorer", name)
    if name in BUILTIN_SCORERS and base != name:  # the built-in's row would show another scorer
        raise ConfigError(
            f"config key '{key}.scorer': {name!r} is a built-in scorer; give your variant of "
            f"{base!r} another name"
        )
    if base not in BUILTIN_SCORERS:
        where = f"{key}.scorer" if "scorer" in entry else key
        raise ConfigError(
            f"config key '{where}': unknown scorer {base!r} (built-ins: "
            f"{', '.join(BUILTIN_SCORERS)}; or give 'function: \"pkg.module:fn\"')"
        )
    if "needs_stats" in entry:
        raise ConfigError(
            f"config key '{key}.needs_stats': only for user functions (built-in {base!r} "
            "knows whether it needs statistics)"
        )
    return base, False, BUILTIN_SCORERS[base]


def postprocessing_bounds(image_size: int) -> tuple[int, int]:
    """``(largest median, largest erode)`` allowed for images of ``image_size`` px."""
    median = max(3, image_size // MEDIAN_DIVISOR)
    median -= 1 - median % 2  # odd
    return max(3, median), max(1, image_size // ERODE_DIVISOR)


def _check_postprocessing_bounds(key: str, median: int | None, erode: int, image_size: int) -> None:
    max_median, max_erode = postprocessing_bounds(int(image_size))
    if median is not None and median > max_median:
        raise ConfigError(
            f"config key '{key}.median': {median} is wider than the largest median filter for "
            f"{image_size} px images, {max_median} (image_size / {MEDIAN_DIVISOR}, odd): a wider "
            "filter flattens the anomaly into its surroundings (and is slow)"
        )
    if erode > max_erode:
        raise ConfigError(
            f"config key '{key}.erode': {erode} erosions exceed the largest for {image_size} px "
            f"images, {max_erode} (image_size / {ERODE_DIVISOR}): more erodes most or all of the "
            "brain, leaving a constant map"
        )


def check_entry(name: str, entry: object, image_size: int | None = None) -> Entry:
    """Everything about a ``scores.<name>`` entry that needs no import; ConfigError names the key.

    With ``image_size``, ``median``/``erode`` are also bounded (:func:`postprocessing_bounds`).
    """
    key = f"scores.{name}"
    if entry is None:
        entry = {}
    if not isinstance(entry, Mapping):
        raise ConfigError(f"config key '{key}': expected a mapping (or {{}}), got {entry!r}")
    unknown = set(entry) - set(ENTRY_KEYS)
    if unknown:
        raise ConfigError(
            f"config key '{key}': unknown keys {sorted(unknown)} (allowed: {', '.join(ENTRY_KEYS)})"
        )
    source, is_function, needs_stats = _source(name, key, entry)
    params = entry.get("params") or {}
    if not isinstance(params, Mapping):
        raise ConfigError(f"config key '{key}.params': expected a mapping, got {params!r}")
    median = entry.get("median")
    if median is not None:
        median = _check_int(
            median, f"{key}.median", "an odd int >= 3 (or null)", lambda k: k >= 3 and k % 2 == 1
        )
    erode = _check_int(entry.get("erode", 0) or 0, f"{key}.erode", "an int >= 0", lambda n: n >= 0)
    if image_size is not None:
        _check_postprocessing_bounds(key, median, erode, image_size)
    return Entry(name, source, is_function, needs_stats, dict(params), median, erode)


def check_entries(config_scores: Mapping | None, image_size: int | None = None) -> dict[str, Entry]:
    """:func:`check_entry` of every entry that runs (see :func:`zoo_entries`), in order."""
    if config_scores is not None and not isinstance(config_scores, Mapping):
        raise ConfigError(f"config key 'scores': expected a mapping, got {config_scores!r}")
    entries = zoo_entries(config_scores).items()
    return {name: check_entry(name, e, image_size) for name, e in entries}


def check_zoo_needs(
    entries: Mapping[str, Entry],
    metrics: Sequence[str],
    *,
    has_train: bool,
    has_val: bool,
    has_models: bool,
) -> None:
    """What the zoo needs from the data and the config; each error names its key.

    * a scorer that needs healthy statistics needs training slices (per-pixel image statistics;
      Exp 1/2 residuals of the blurred training slices), and on a model also validation slices
      (the model's residuals on healthy slices it was not trained on) unless it is
      ``pixel_zscore``, which uses the image statistics only;
    * every metric is one of :data:`METRIC_NAMES`.
    """
    for name, entry in entries.items():
        if not entry.needs_stats:
            continue
        if not has_train:
            raise ConfigError(
                f"config key 'scores.{name}': {entry.source!r} needs healthy statistics from the "
                "training slices, but the data set has no training slices"
            )
        if has_models and entry.source != "pixel_zscore" and not has_val:
            raise ConfigError(
                f"config key 'scores.{name}': {entry.source!r} needs each model's residuals on "
                "healthy validation slices, but there are none (split.val_fraction is 0); set "
                "split.val_fraction > 0 or leave this scorer out"
            )
    for metric in metrics:
        if metric not in METRIC_NAMES:
            raise ConfigError(
                f"config key 'evaluation.metrics': unknown metric {metric!r} "
                f"(known: {', '.join(METRIC_NAMES)})"
            )
