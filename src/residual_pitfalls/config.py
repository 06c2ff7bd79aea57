"""Checks of a configuration mapping that a JSON schema cannot express (cross-key consistency).

``validate_config`` is what the workflow and ``residual-pitfalls check-config`` run: first
``check_finite`` (a NaN passes every bound of a JSON schema), then the JSON schema
workflow/schemas/config.schema.yaml (types, ranges, unknown keys), then ``check_config``. Every
error names the key and says what is expected.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from residual_pitfalls.architectures import ARCHITECTURES
from residual_pitfalls.errors import ConfigError
from residual_pitfalls.layout import dataset_files, needs_download, split_of
from residual_pitfalls.scorers.entries import check_entries, check_zoo_needs

EMBEDDED_LESION_SET = "embedded"  # Exp 4's lesion set painted into the test volumes

__all__ = ["ConfigError", "check_all", "check_config", "validate_config"]


def key_path(parts: Iterable[str | int]) -> str:
    """'grid.sigma.start' / 'slices.test[0]' from the keys and list indices leading to a value."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _leaves(node: Any, parts: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _leaves(value, (*parts, key))
    elif isinstance(node, Sequence) and not isinstance(node, str):
        for index, value in enumerate(node):
            yield from _leaves(value, (*parts, index))
    else:
        yield parts, node


def check_finite(config: Mapping) -> None:
    """Raise ConfigError naming the first key whose value is NaN or an infinity (at any depth).

    Runs before the schema: every comparison with NaN is false, so `minimum`/`maximum` let it pass.
    """
    for parts, value in _leaves(config):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(
                f"config key '{key_path(parts)}': {value} is not a finite number "
                "(NaN and infinities are never valid settings)"
            )


def _allowed_keys(schema: Mapping, instance: Mapping) -> list[str]:
    """The keys an object schema accepts for this instance: its `properties`, plus those of every
    `allOf: [{if, then}]` branch whose condition the instance meets (keys that depend on `source`)."""
    keys = set(schema.get("properties", {}))
    for branch in schema.get("allOf", []):
        if "then" in branch and Draft202012Validator(branch.get("if", {})).is_valid(instance):
            keys |= set(branch["then"].get("properties", {}))
    return sorted(keys)


def describe_schema_error(error: ValidationError) -> str:
    """A short message for the first schema violation: the key path, what is wrong, what is expected.

    jsonschema's own text repeats the whole (sub)schema and config, about 400 lines for a top-level
    typo; this names the key, keeps jsonschema's one-line reason and lists the valid keys for a
    typo (with a did-you-mean), or adds the key's `description` from the schema.
    """
    parts = list(error.absolute_path)
    where = f"under '{key_path(parts)}'" if parts else "at the top level"
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        allowed = _allowed_keys(error.schema, error.instance)
        unknown = [key for key in error.instance if key not in allowed]
        key = unknown[0] if unknown else "?"
        guess = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" Did you mean '{guess[0]}'?" if guess else ""
        if "source" in error.instance and error.validator == "unevaluatedProperties":
            where += f" for source: {error.instance['source']}"
        return (
            f"config key '{key_path([*parts, key])}': unknown key ('{key}' was unexpected).{hint}"
            f" Valid keys {where}: {', '.join(allowed)}."
        )
    if "propertyNames" in error.schema_path:
        parts.append(error.instance)
    message = f"config key '{key_path(parts)}': {error.message}" if parts else error.message
    description = error.schema.get("description") if isinstance(error.schema, Mapping) else None
    return f"{message} ({' '.join(description.split())})" if description else message


def _linspace_bounds(config: Mapping, key: str) -> tuple[float, float, int]:
    spec = config["grid"][key]
    return float(spec["start"]), float(spec["stop"]), int(spec["num"])


def validate_config(config: dict, schema_path: str, known_archs: Iterable[str]) -> None:
    """All checks of a merged configuration, in order; fills in the schema's defaults in place.
    `schema_path`: absolute. Raises ConfigError with one short message that names the key."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    check_finite(config)  # first: NaN passes every bound of a JSON schema
    try:
        validate(config, schema_path)
    except WorkflowError as error:
        # Snakemake would print the whole schema and config (~400 lines for a top-level typo).
        if not isinstance(error.__context__, ValidationError):
            raise
        raise ConfigError(describe_schema_error(error.__context__)) from None
    check_config(config, known_archs)


def check_config(config: Mapping, known_archs: Iterable[str]) -> None:
    """Raise ConfigError on the first inconsistency; `known_archs` are the trainable model names."""
    _check_datasets(config)
    _check_geometry(config)
    _check_grid(config)
    _check_training(config)
    _check_names(config, known_archs)
    _check_lesion_sets(config)


def _check_lesion_sets(config: Mapping) -> None:
    """Start-up check of ``lesions.sets``: each is ``embedded`` or a ``datasets`` entry with
    ``labels``; raises ConfigError naming the key."""
    sets, datasets = config["lesions"]["sets"], config["datasets"]
    for name in sets:
        if name == EMBEDDED_LESION_SET:
            continue
        if name not in datasets:
            raise ConfigError(
                f"config key 'lesions.sets': {name!r} is neither 'embedded' nor an entry of "
                f"'datasets' (known: {', '.join(sorted(datasets))})"
            )
        if "labels" not in datasets[name]:
            raise ConfigError(
                f"config key 'lesions.sets': data set {name!r} has no 'labels' (each image's "
                "label volume): Exp 4 needs labelled lesions"
            )


def _check_datasets(config: Mapping) -> None:
    """The selected data set exists; each entry has what its source needs."""
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


def _check_geometry(config: Mapping) -> None:
    """image_size is an int; the slices and the disk radius fit the cube."""
    if isinstance(config["image_size"], float):  # JSON schema counts 64.0 as an integer
        raise ConfigError(
            f"config key 'image_size': expected an integer, got {config['image_size']!r}"
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


def _check_grid(config: Mapping) -> None:
    """Exp 1's intensities lie in [0, 1], its sigmas are >= 0."""
    lo, hi, _ = _linspace_bounds(config, "intensity")
    if not (0 <= lo <= 1 and 0 <= hi <= 1):
        raise ConfigError(
            f"config key 'grid.intensity': start/stop must lie in [0, 1], got {lo}, {hi}"
        )
    lo, hi, _ = _linspace_bounds(config, "sigma")
    if lo < 0 or hi < 0:
        raise ConfigError(f"config key 'grid.sigma': sigma must be >= 0, got start {lo}, stop {hi}")


def _check_training(config: Mapping) -> None:
    """Validation settings that contradict each other or the split."""
    training = config.get("training", {})
    if training.get("val_every") == 0 and training.get("selection", "last") != "last":
        raise ConfigError(
            f"config key 'training.val_every': 0 (never validate) cannot pick a model by "
            f"validation (training.selection: {training['selection']}); set selection: last "
            "or validate every N > 0 steps"
        )
    if training.get("val_every", 0) > 0 and config.get("split", {}).get("val_fraction") == 0:
        raise ConfigError(
            f"config key 'training.val_every': {training['val_every']} validates, but "
            "split.val_fraction is 0 (no validation volumes); set val_every: 0 or a val_fraction > 0"
        )


def _check_names(config: Mapping, known_archs: Iterable[str]) -> None:
    """Models, the models the evaluation names and the lesion figures' data sets exist."""
    datasets = config["datasets"]
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
    for key in ("matched_models", "example_models", "paper_models"):
        for model in config["evaluation"].get(key) or []:
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


def check_all(
    config: dict,
    schema_path: str,
    *,
    deep: bool = False,
) -> dict:
    """Every check of a configuration, for the workflow's start-up and ``check-config`` alike.

    Fills in the schema's defaults in place and returns the data set's split (``{'train',
    'val', 'test'}`` -> paths). Without ``deep`` it imports nothing heavy (the workflow's parse):
    the schema, the cross-key checks, the split of the data set's volumes
    (:func:`residual_pitfalls.layout.dataset_files`), the zoo's entries and what they need, and
    each model's checkpoint file and the module of its class or a user scorer's function (found,
    not imported). ``deep`` (``residual-pitfalls check-config`` and the workflow's
    ``check_setup`` job) also imports them: :func:`residual_pitfalls.checks.check_code`.
    Raises ConfigError with one message that names the key.
    """
    validate_config(config, schema_path, known_archs=ARCHITECTURES)
    try:
        split = split_of(config, dataset_files(config, config["dataset"]))
    except ValueError as err:  # too few volumes: names the split keys and the counts
        raise ConfigError(str(err)) from None
    _check_spacing(config, split)
    entries = check_entries(config.get("scores"), image_size=config["image_size"])
    check_zoo_needs(
        entries,
        config["evaluation"]["metrics"],
        has_train=bool(split["train"]),
        has_val=bool(split["val"]),
        has_models=bool(config["models"]),
    )
    for name, entry in entries.items():
        if entry.is_function:
            _find_module(entry.source, f"scores.{name}.function")
    _check_model_files(config["models"])
    if deep:
        from residual_pitfalls.checks import check_code

        check_code(config)
    return split


def _check_spacing(config: Mapping, split: Mapping[str, list[Path]]) -> None:
    """One voxel size for a NIfTI data set's volumes (train, validation and test alike), read
    from the headers; a folder that mixes sizes is refused naming the files of each size."""
    entry = config["datasets"][config["dataset"]]
    if entry["source"] != "nifti" or needs_download(entry):
        return
    from residual_pitfalls.data.spacing import check_common_spacing

    try:
        check_common_spacing(
            [p for part in split.values() for p in part],
            reorient=entry["reorient"],
            what=f"datasets.{config['dataset']} ({entry['path']})",
        )
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _find_module(path: str, key: str) -> None:
    """The module of ``"pkg.module:name"`` exists (found without running it)."""
    from residual_pitfalls.plugins import plugin_source

    try:
        plugin_source(path)
    except ImportError:
        module = path.partition(":")[0]
        raise ConfigError(
            f"config key '{key}': module {module!r} of {path!r} is not importable"
        ) from None


def _check_model_files(models: Mapping) -> None:
    """A bring-your-own model's checkpoint file exists and its class's module can be found."""
    for name, spec in models.items():
        if "checkpoint" not in spec:
            continue
        if not Path(spec["checkpoint"]).is_file():
            raise ConfigError(
                f"config key 'models.{name}.checkpoint': model {name!r}: no file "
                f"{spec['checkpoint']!r}"
            )
        if "class_path" in spec:
            _find_module(spec["class_path"], f"models.{name}.class_path")
