"""Shared test fixtures: tiny brain-like volumes written as NIfTI into tmp_path.

Generic on purpose; add fixtures for other modules below.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest


def phantom_volume(
    shape: tuple[int, int, int], rng: np.random.Generator, low: float = 0.1, high: float = 0.9
) -> np.ndarray:
    """A brain-like phantom: ``shape`` float32, random values in [low, high] inside an
    ellipsoid filling ~70% of each axis, exactly 0 outside."""
    grids = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    inside = sum(g**2 for g in grids) < 0.7**2
    vol = np.zeros(shape, np.float32)
    vol[inside] = rng.uniform(low, high, int(inside.sum())).astype(np.float32)
    return vol


def save_nifti(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> Path:
    """Write ``data`` (any shape/dtype) as NIfTI-1 to ``path`` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(data), np.eye(4) if affine is None else affine), path)
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator, fresh for every test."""
    return np.random.default_rng(1234)


@pytest.fixture
def write_nifti() -> Callable[..., Path]:
    """``write_nifti(path, data, affine=None) -> path``."""
    return save_nifti


@pytest.fixture
def make_phantom() -> Callable[..., np.ndarray]:
    """``make_phantom(shape, rng, low=0.1, high=0.9) -> (X, Y, Z) float32``."""
    return phantom_volume


@pytest.fixture
def nifti_folder(tmp_path: Path, rng: np.random.Generator) -> Path:
    """``tmp_path/volumes`` with five 16^3 phantoms ``00000.nii.gz .. 00004.nii.gz`` in [0, 1]."""
    root = tmp_path / "volumes"
    for i in range(5):
        save_nifti(root / f"{i:05d}.nii.gz", phantom_volume((16, 16, 16), rng))
    return root
