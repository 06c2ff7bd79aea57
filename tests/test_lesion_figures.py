"""App. D through the real workflow: Figs. 7-8 from a tiny labelled NIfTI folder written here."""

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from helpers import TINY, readme_csv_columns, run_snakemake

pytestmark = pytest.mark.workflow


def write_case(folder: Path, rng: np.random.Generator, *, wmh: bool) -> tuple[int, int]:
    """A 24^3 'FLAIR' with a bright lesion; WMH-style labels also carry an ignored class 2."""
    folder.mkdir(parents=True)
    grid = np.indices((24, 24, 24)) - 12
    brain = (grid**2).sum(axis=0) < 10**2
    flair = np.where(brain, rng.uniform(200, 400, brain.shape), 0).astype(np.float32)
    lesion = ((grid - np.array([3, 3, 0])[:, None, None, None]) ** 2).sum(axis=0) < 3**2
    flair[lesion] = rng.uniform(700, 900, int(lesion.sum()))
    label = lesion.astype(np.uint8)
    if wmh:
        other = ((grid + np.array([4, 4, 0])[:, None, None, None]) ** 2).sum(axis=0) < 2**2
        label[other] = 2
        flair[other] = 1000  # brightest, but ignored: must appear in neither histogram
    affine = np.eye(4)
    name = "FLAIR.nii.gz" if wmh else f"{folder.name}_flair.nii.gz"
    nib.save(nib.Nifti1Image(flair, affine), str(folder / name))
    label_name = "wmh.nii.gz" if wmh else f"{folder.name}_seg.nii.gz"
    nib.save(nib.Nifti1Image(label, affine), str(folder / label_name))
    return int((brain & (label == 0)).sum()), int((label == 1).sum())  # (normal, anomalous) voxels


def test_fig7_and_fig8_from_labelled_folders(tmp_path):
    rng = np.random.default_rng(0)
    wmh_counts = np.zeros(2, dtype=int)
    for i in range(2):
        write_case(tmp_path / "brats" / f"case{i}", rng, wmh=False)
        wmh_counts += write_case(tmp_path / "wmh" / f"site{i}", rng, wmh=True)
    overlay = tmp_path / "lesions.yaml"
    overlay.write_text(
        f"""
datasets:
  brats: {{source: nifti, path: '{tmp_path / "brats"}', pattern: '*/*_flair.nii.gz',
          labels: {{replace: ['_flair.nii.gz', '_seg.nii.gz']}}}}
  wmh: {{source: nifti, path: '{tmp_path / "wmh"}', pattern: '*/FLAIR.nii.gz',
        labels: {{replace: ['FLAIR.nii.gz', 'wmh.nii.gz'], anomaly_values: [1], ignore_values: [2]}}}}
lesion_figures: {{fig7: [brats], fig8: [wmh]}}
"""
    )
    work = tmp_path / "run"
    before = sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*.nii.gz"))
    result = run_snakemake(
        work,
        "results/fig7.pdf",
        "results/fig8.pdf",
        "--configfile",
        str(TINY),
        str(overlay),
        "--cores",
        "2",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for figure in ("fig7", "fig8"):
        for suffix in (".pdf", ".png", ".csv"):
            assert (work / "results" / f"{figure}{suffix}").stat().st_size > 0
    for figure in ("fig7", "fig8"):
        columns = list(pd.read_csv(work / "results" / f"{figure}.csv").columns)
        assert columns == readme_csv_columns()[figure], (figure, columns)
    table = pd.read_csv(work / "results" / "fig8.csv")
    centres = (table["bin_left"] + table["bin_right"]) / 2
    # lesions are the bright voxels: their mean lies above the normal tissue's
    normal_mean = np.average(centres, weights=table["normal_count"])
    anomalous_mean = np.average(centres, weights=table["anomalous_count"])
    assert anomalous_mean > normal_mean + 0.2
    # every brain voxel is counted once, except the ignored class (label 2), which is in neither
    assert (table["normal_count"].sum(), table["anomalous_count"].sum()) == tuple(wmh_counts)
    assert (
        sorted(
            (p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*.nii.gz") if "run" not in p.parts
        )
        == before
    )
