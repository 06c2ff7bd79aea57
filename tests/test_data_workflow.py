"""The data layer through the real workflow: the README's own-data example on a tiny folder."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import phantom_volume, save_nifti
from helpers import TINY, run_snakemake

pytestmark = pytest.mark.workflow


def test_readme_mask_example_with_masks_next_to_images(tmp_path: Path):
    # pattern "*.nii.gz" also matched the masks, which then failed as images without "_t2"
    rng = np.random.default_rng(0)
    scans = tmp_path / "my_scans"
    for i in range(10):
        volume = phantom_volume((24, 24, 24), rng)
        save_nifti(scans / f"sub{i:02d}_t2.nii.gz", volume)
        save_nifti(scans / f"sub{i:02d}_mask.nii.gz", (volume > 0).astype(np.uint8))
    overlay = tmp_path / "my.yaml"
    overlay.write_text(
        f"""
dataset: mine
datasets:
  mine:
    source: nifti
    path: {scans}
    pattern: "*.nii.gz"
    normalisation: percentile
    reorient: true
    resize: pad
    mask: {{replace: ["_t2.nii.gz", "_mask.nii.gz"]}}
"""
    )
    work = tmp_path / "run"
    result = run_snakemake(
        work, "results/data/test.npy", "--configfile", str(TINY), str(overlay), "--cores", "1"
    )
    assert result.returncode == 0, result.stderr[-4000:]
    sources = pd.read_csv(work / "results" / "data" / "test.csv")["source"]
    assert [Path(s).name for s in sources] == [f"sub{i:02d}_t2.nii.gz" for i in range(6, 10)]
    assert np.load(work / "results" / "data" / "test.npy").shape == (4, 64, 64)
