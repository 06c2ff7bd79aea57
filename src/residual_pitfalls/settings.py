"""Checks of a configuration mapping that a JSON schema cannot express (cross-key consistency).

The workflow validates config.yaml against workflow/schemas/config.schema.yaml first (types, unknown
keys), then calls ``check_config``. Every error names the key and says what is expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class ConfigError(ValueError):
    """A configuration value is inconsistent; the message names the key."""


def _linspace_bounds(config: Mapping, key: str) -> tuple[float, float, int]:
    spec = config["grid"][key]
    return float(spec["start"]), float(spec["stop"]), int(spec["num"])


def check_config(config: Mapping, known_archs: Iterable[str]) -> None:
    """Raise ConfigError on the first inconsistency; `known_archs` are the trainable model names."""
    datasets = config["datasets"]
    name = config["dataset"]
    if name not in datasets:
        raise ConfigError(
            f"config key 'dataset': {name!r} is not an entry of 'datasets' "
            f"(known: {', '.join(sorted(datasets))})"
        )
    for key, entry in datasets.items():
        if entry["source"] == "nifti" and "path" not in entry:
            raise ConfigError(f"config key 'datasets.{key}.path' is required for source: nifti")
        if entry["source"] == "synthetic" and "subjects" not in entry:
            raise ConfigError(
                f"config key 'datasets.{key}.subjects' is required for source: synthetic"
            )
        lo, hi = entry.get("percentiles", (0.5, 99.5))
        if not lo < hi:
            raise ConfigError(
                f"config key 'datasets.{key}.percentiles': [{lo}, {hi}] must be [lo, hi] with lo < hi"
            )
        if entry.get("skull_stripped") is False and "mask" not in entry:
            raise ConfigError(
                f"config key 'datasets.{key}.mask' is required: 'datasets.{key}.skull_stripped' "
                "is false, and without brain masks the skull and scalp would count as brain "
                "(voxels > 0); give {replace: [old, new]} or {manifest: masks.csv}"
            )

    size = int(config["image_size"])
    axis_slices = config["slices"]
    start, stop = axis_slices["train"]
    if not 0 <= start < stop <= size:
        raise ConfigError(
            f"config key 'slices.train': [{start}, {stop}] must satisfy 0 <= start < stop <= "
            f"image_size ({size})"
        )
    for index in axis_slices["test"]:
        if not 0 <= index < size:
            raise ConfigError(
                f"config key 'slices.test': slice {index} is outside the {size}-voxel cube (image_size)"
            )

    radius = float(config["anomaly"]["radius"])
    if radius >= size / 2:
        raise ConfigError(
            f"config key 'anomaly.radius': {radius} px is too large for {size} x {size} images "
            f"(expected < {size / 2})"
        )

    lo, hi, _ = _linspace_bounds(config, "intensity")
    if not (0 <= lo <= 1 and 0 <= hi <= 1):
        raise ConfigError(
            f"config key 'grid.intensity': start/stop must lie in [0, 1], got {lo}, {hi}"
        )
    lo, hi, _ = _linspace_bounds(config, "sigma")
    if lo < 0 or hi < 0:
        raise ConfigError(f"config key 'grid.sigma': sigma must be >= 0, got start {lo}, stop {hi}")

    known_archs = set(known_archs)
    for key, model in config.get("models", {}).items():
        if "checkpoint" in model:
            continue
        if "arch" not in model:
            raise ConfigError(
                f"config key 'models.{key}': give either 'arch' (a model the workflow trains) or "
                "'checkpoint' (bring your own model)"
            )
        if model["arch"] not in known_archs:
            raise ConfigError(
                f"config key 'models.{key}.arch': unknown architecture {model['arch']!r} "
                f"(known: {', '.join(sorted(known_archs))})"
            )
    models = config.get("models", {})
    for key in ("matched_models", "example_models"):
        for model in config["evaluation"].get(key, []):
            if model not in models:
                raise ConfigError(
                    f"config key 'evaluation.{key}': {model!r} is not an entry of 'models'"
                )
    for figure, names in config.get("lesion_figures", {}).items():
        for lesion in names:
            if lesion not in datasets:
                raise ConfigError(
                    f"config key 'lesion_figures.{figure}': {lesion!r} is not an entry of 'datasets'"
                )
            if "labels" not in datasets[lesion]:
                raise ConfigError(
                    f"config key 'datasets.{lesion}.labels' is required: {figure} plots its labelled "
                    "voxels"
                )
