"""Issue 15, item 5: an edited plug-in (own scorer, own model class) reruns exactly its jobs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, TINY, run_snakemake

pytestmark = pytest.mark.workflow


def planned(result: subprocess.CompletedProcess) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    match = re.search(r"Job stats:\n(.*?)\n\n", result.stdout + result.stderr, flags=re.S)
    table = match.group(1) if match else ""
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    time.sleep(1.1)  # a newer mtime than the outputs on every file system
    path.write_text(text.replace(old, new))


def test_an_edited_plugin_reruns_exactly_the_jobs_that_use_it(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(REPO / "examples" / "byos" / "my_scores.py", plugins)
    shutil.copy(REPO / "examples" / "byom" / "my_model.py", plugins)
    checkpoint = tmp_path / "tiny_ae.pt"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, torch; from my_model import TinyAutoencoder; torch.manual_seed(0); "
            "torch.save(TinyAutoencoder(channels=4).state_dict(), sys.argv[1])",
            str(checkpoint),
        ],
        cwd=plugins,
        check=True,
        env={**os.environ, "PYTHONPATH": str(plugins)},
    )
    overlay = tmp_path / "plugins.yaml"
    overlay.write_text(
        "scores:\n"
        "  mine: {function: 'my_scores:smoothed_residual', params: {sigma: 1.0}}\n"
        "models:\n"
        f"  tiny_ae: {{checkpoint: '{checkpoint}', class_path: 'my_model:TinyAutoencoder',"
        " hparams: {channels: 4}}\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(plugins), os.environ.get("PYTHONPATH", "")]),
        "NUMBA_CACHE_DIR": str(tmp_path / ".numba"),
    }
    targets = [
        "results/metrics/scores/exp1/mine.parquet",
        "results/metrics/scores/exp1/residual.parquet",
        "results/metrics/exp3_tiny_ae_healthy_bn-eval.parquet",
    ]
    config = ["--configfile", str(TINY), str(overlay)]

    def run(*args: str) -> subprocess.CompletedProcess:
        result = run_snakemake(tmp_path, *targets, *config, *args, env=env)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        return result

    run("--cores", "2")
    assert planned(run("-n")) == {}
    # the scorer's module changes: its own Exp 1 job reruns, not the built-in's
    _edit(plugins / "my_scores.py", "sigma=(0, sigma, sigma)", "sigma=(0, 2 * sigma, 2 * sigma)")
    assert planned(run("-n")) == {"score_exp1": 1, "total": 1}
    run("--cores", "2")
    # the model's class changes: its Exp 3 job reruns, no scorer's
    _edit(
        plugins / "my_model.py",
        "return self.decode(self.encode(x))",
        "return self.decode(self.encode(x)) * 1.0",
    )
    assert planned(run("-n")) == {"model_intensity_curve": 1, "total": 1}


def test_a_folder_of_mixed_voxel_sizes_stops_the_run_at_start_up(tmp_path):
    """Item 7: nine volumes at 1 mm and one at 2 mm went through resize: pad without a word."""
    import nibabel as nib
    import numpy as np

    folder = tmp_path / "volumes"
    folder.mkdir()
    grids = np.meshgrid(*(np.linspace(-1, 1, 24),) * 3, indexing="ij")
    brain = (sum(g**2 for g in grids) < 0.5).astype(np.float32) * 0.5
    for i in range(10):
        affine = np.diag([2.0, 2.0, 2.0, 1.0] if i == 7 else [1.0, 1.0, 1.0, 1.0])
        nib.save(nib.Nifti1Image(brain, affine), folder / f"sub-{i:02d}.nii.gz")
    overlay = tmp_path / "mixed.yaml"
    overlay.write_text(
        f"dataset: mine\ndatasets: {{mine: {{source: nifti, path: '{folder}', "
        "normalisation: none}}\nimage_size: 32\nslices: {axis: 2, train: [10, 14], test: [12]}\n"
    )
    result = run_snakemake(tmp_path, "-n", "all", "--configfile", str(TINY), str(overlay))
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "different voxel sizes: 1 x 1 x 1 mm: 9 file(s)" in text, text[-3000:]
    assert "2 x 2 x 2 mm: 1 file(s) ('" in text and "sub-07.nii.gz" in text, text[-3000:]
