"""The `residual-pitfalls` command, run as users run it (a subprocess)."""

import os
import subprocess
import sys
import tomllib
from importlib import import_module

import nibabel as nib
import numpy as np
import pytest
from helpers import REPO, TINY
from sklearn.metrics import average_precision_score


def cli(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "residual_pitfalls.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_console_script_entry_point_exists():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, function = scripts["residual-pitfalls"].split(":")
    assert callable(getattr(import_module(module), function))


def test_check_config_accepts_the_presets():
    result = cli("check-config", str(TINY))
    assert result.returncode == 0, result.stderr
    assert "ok:" in result.stdout and "64^2 px" in result.stdout


def test_check_config_show_prints_the_defaults():
    result = cli("check-config", str(TINY), "--show")
    assert result.returncode == 0, result.stderr
    assert "val_fraction: 0.05" in result.stdout  # a default filled from the schema


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        ("trainng: {steps: 3}\n", "'trainng' was unexpected"),  # a top-level typo
        ("datasets: {synthetic: {subjcts: 3}}\n", "'datasets.synthetic'"),  # a nested typo
        ("anomaly: {radius: 70}\n", "'anomaly.radius'"),  # schema-valid, cross-key invalid
        ("evaluation: {example_models: [nope]}\n", "'nope' is not an entry of 'models'"),
        # the workflow's own start-up checks, not a copy that had drifted from them
        ("trainng: {steps: 3}\n", "Did you mean 'training'?"),
        ("anomaly: {radius: .nan}\n", "'anomaly.radius': nan is not a finite number"),
        ("scores: {nosuch: {}}\n", "'scores.nosuch': unknown scorer 'nosuch'"),
    ],
)
def test_check_config_names_the_bad_key_in_one_line(tmp_path, overlay, expected):
    (tmp_path / "my.yaml").write_text(overlay)
    result = cli("check-config", str(tmp_path / "my.yaml"), cwd=tmp_path)  # finds the checkout
    assert result.returncode == 1
    assert expected in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr


def test_check_config_names_an_unreadable_file(tmp_path):
    result = cli("check-config", str(tmp_path / "missing.yaml"))
    assert result.returncode != 0 and "missing.yaml" in result.stderr


def test_ap_equals_sklearn_for_npy_and_nifti(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.random((3, 16, 16)) < 0.1
    scores = (rng.random((3, 16, 16)) + labels * 0.3).astype(np.float32)
    scores[0, :4] = 0.5  # ties
    np.save(tmp_path / "labels.npy", labels)
    np.save(tmp_path / "scores.npy", scores)
    nib.save(nib.Nifti1Image(labels.astype(np.uint8), np.eye(4)), tmp_path / "labels.nii.gz")
    nib.save(nib.Nifti1Image(scores, np.eye(4)), tmp_path / "scores.nii.gz")
    reference = average_precision_score(labels.ravel(), scores.ravel())
    for suffix in (".npy", ".nii.gz"):
        result = cli("ap", str(tmp_path / f"labels{suffix}"), str(tmp_path / f"scores{suffix}"))
        assert result.returncode == 0, result.stderr
        assert abs(float(result.stdout) - reference) < 1e-9

    per_image = cli("ap", str(tmp_path / "labels.npy"), str(tmp_path / "scores.npy"), "--per-image")
    rows = per_image.stdout.splitlines()
    assert rows[0] == "image,ap" and len(rows) == 4
    for i, row in enumerate(rows[1:]):
        expected = average_precision_score(labels[i].ravel(), scores[i].ravel())
        assert row.startswith(f"{i},") and abs(float(row.split(",")[1]) - expected) < 1e-9


def test_ap_rejects_mismatched_shapes_and_unknown_files(tmp_path):
    np.save(tmp_path / "labels.npy", np.zeros((4, 4), bool))
    np.save(tmp_path / "scores.npy", np.zeros((5, 4), np.float32))
    result = cli("ap", str(tmp_path / "labels.npy"), str(tmp_path / "scores.npy"))
    assert result.returncode == 1 and "shape" in result.stderr
    (tmp_path / "scores.txt").write_text("1 2 3")
    result = cli("ap", str(tmp_path / "labels.npy"), str(tmp_path / "scores.txt"))
    assert result.returncode != 0 and "expected a .npy, .nii or .nii.gz" in result.stderr
