"""What produced a run: the config, the package versions, the platform, the code revision and the
files it describes (figure tables, data stacks, model weights) with their checksums."""

from __future__ import annotations

import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import yaml

from residual_pitfalls.data.download import sha256_of

PACKAGES = (
    "residual-pitfalls",
    "snakemake",
    "torch",
    "numpy",
    "scipy",
    "numba",
    "scikit-learn",
    "scikit-image",
    "nibabel",
    "nilearn",
    "pandas",
    "pyarrow",
    "matplotlib",
    "seaborn",
    "tqdm",
)

# The keys of a `datasets` entry that only one source reads. The schema fills its defaults into
# every entry, so without this a synthetic entry would show NIfTI loading options it never used.
SOURCE_KEYS = {
    "synthetic": ("subjects", "seed", "target_mean"),
    "brainweb": ("subjects", "seed", "augment", "path", "url", "sha256"),
    "nifti": (
        "path",
        "pattern",
        "normalisation",
        "reorient",
        "resize",
        "mask",
        "labels",
        "download",
    ),
}


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed version of each package ("not installed" if absent)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def code_revision(repo: Path) -> str:
    """`git describe --always --dirty` of the checkout, or "unknown" outside git."""
    try:
        return subprocess.run(
            ["git", "-C", str(repo), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def dataset_settings(entry: Mapping) -> dict:
    """A `datasets` entry without the keys that belong to another source (e.g. a synthetic entry
    loses `pattern`, `normalisation`, `reorient`); keys of an unknown source are all kept."""
    source = entry.get("source")
    own = set(SOURCE_KEYS.get(source, ()))
    foreign = {key for other, keys in SOURCE_KEYS.items() if other != source for key in keys}
    return {key: value for key, value in entry.items() if key in own or key not in foreign}


def describe_config(config: Mapping) -> dict:
    """The config as the run used it, each data set showing only the settings its source reads."""
    described = dict(config)
    if isinstance(config.get("datasets"), Mapping):
        described["datasets"] = {
            name: dataset_settings(entry) for name, entry in config["datasets"].items()
        }
    return described


def file_record(path: str | Path) -> dict[str, str | int]:
    """``{sha256, bytes, modified}`` of a file (modified: its UTC mtime, ISO 8601)."""
    path = Path(path)
    stat = path.stat()
    return {
        "sha256": sha256_of(path),
        "bytes": stat.st_size,
        "modified": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(timespec="seconds"),
    }


def write_provenance(
    path: str | Path, config: Mapping, inputs: Mapping[str, Iterable[str | Path]] | None = None
) -> None:
    """Write a YAML file with the code revision, Python, platform, package versions, the files it
    describes and the config.

    inputs: groups of files (e.g. ``{"figures": [...csv], "models": [...pt]}``); each file is
    recorded with its SHA-256, size and modification time, so the record names the exact numbers
    it belongs to. The workflow rebuilds it whenever one of them changes.
    """
    record = {
        "code_revision": code_revision(Path(__file__).resolve().parents[2]),
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "inputs": {
            group: {str(f): file_record(f) for f in files}
            for group, files in (inputs or {}).items()
        },
        "config": describe_config(config),
    }
    Path(path).write_text(yaml.safe_dump(record, sort_keys=False, allow_unicode=True))
