"""What produced a run: the config, the package versions, the platform and the code revision."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import yaml

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
    "tqdm",
)


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


def write_provenance(path: str | Path, config: dict) -> None:
    """Write a YAML file with the config, package versions, Python, platform and code revision."""
    record = {
        "code_revision": code_revision(Path(__file__).resolve().parents[2]),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "config": config,
    }
    Path(path).write_text(yaml.safe_dump(record, sort_keys=False))
