"""The paper presets plan the paper's full protocol: config/paper.yaml on a fake MOOD folder,
config/paper_synthetic.yaml on the embedded synthetic brains.

Dry runs only: for paper.yaml, 800 tiny NIfTI volumes (4^3, written with nibabel) stand in for MOOD
2020 brain; the DAG build globs and splits them but never reads a voxel.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import yaml
from helpers import FIGURES, TINY, snakemake_command

REPO = Path(__file__).resolve().parents[1]
PRESETS = {name: REPO / "config" / f"{name}.yaml" for name in ("paper", "paper_synthetic")}
GPU_RULES = {"train_model", "model_intensity_curve"}
# The paper's protocol (SPEC.md): 800 volumes -> 480 train (24 of them validation) / 320 test.
N_VOLUMES, N_TRAIN, N_VAL, N_TEST = 800, 456, 24, 320


def merged_config(preset: str = "paper") -> dict:
    """config.yaml overlaid with a preset, as snakemake merges them (nested dicts update)."""

    def update(base: dict, new: dict) -> dict:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                update(base[key], value)
            else:
                base[key] = value
        return base

    return update(
        yaml.safe_load((REPO / "config.yaml").read_text()),
        yaml.safe_load(PRESETS[preset].read_text()),
    )


def parse_jobs(text: str) -> list[dict]:
    """Every job block of a dry run: {"rule", "threads", "resources": {...}, "n_inputs"}."""
    jobs = []
    for block in re.split(r"\n(?=\[[^\n]*\]\n(?:local)?rule \w+:)", text):
        head = re.search(r"^(?:local)?rule (\w+):$", block, flags=re.M)
        if not head:
            continue
        fields = dict(re.findall(r"^    (\w+): (.*)$", block, flags=re.M))
        resources = dict(re.findall(r"(\w+)=([^,]+)", fields.get("resources", "")))
        jobs.append(
            {
                "rule": head[1],
                "threads": int(fields.get("threads", 1)),
                "resources": {k: v.strip() for k, v in resources.items()},
                "n_inputs": len(fields["input"].split(", ")) if "input" in fields else 0,
            }
        )
    return jobs


@pytest.fixture(scope="module", params=sorted(PRESETS))
def paper_dry_run(request, tmp_path_factory) -> tuple[str, list[dict]]:
    """(preset name, the jobs of `snakemake -n all --configfile <preset>`)."""
    preset = request.param
    workdir = tmp_path_factory.mktemp(preset)
    if merged_config(preset)["dataset"] == "mood":
        mood = workdir / merged_config(preset)["datasets"]["mood"]["path"]
        mood.mkdir(parents=True)
        volume = nib.Nifti1Image(np.full((4, 4, 4), 0.5, np.float32), np.eye(4))
        for i in range(N_VOLUMES):
            nib.save(volume, mood / f"{i:05d}.nii.gz")
    # --quiet host replaces profiles/default's quiet: the dry run lists every job's block
    cmd = snakemake_command(
        workdir, "-n", "all", "--configfile", str(PRESETS[preset]), "--quiet", "host"
    )
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "MPLBACKEND": "Agg"}
    )
    text = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{text[-5000:]}"
    return preset, parse_jobs(text)


def test_paper_preset_plans_every_job_once(paper_dry_run):
    preset, jobs = paper_dry_run
    config = merged_config(preset)
    n_models = len(config["models"])
    n_scores = sum(entry is not False for entry in config["scores"].values())
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job["rule"]] = counts.get(job["rule"], 0) + 1
    expected = {
        "slices": 3,  # train, val, test
        "check_setup": 1,  # the start-up checks that import code (checks.smk)
        "anomaly_centres": 1,
        "equalise_test_slices": 1,
        "intensity_sigma_grid": 2,  # raw, histogram-equalised
        "texture_sigma_curve": len(config["anomaly"]["textures"]),
        "train_model": n_models,
        "model_intensity_curve": 2 * n_models,  # healthy, anomalous
        "model_examples": len(config["evaluation"]["example_models"]),  # Fig. 4(a)
        # Exp 3.1 with per-image BatchNorm: the paper's models (Fig. 3(a) per-image BN)
        "model_intensity_curve_batchnorm": len(config["evaluation"]["paper_models"]),
        **{f: 1 for f in FIGURES},
        # the scorer zoo: Exp 1/2 per scorer, Exp 3 per (model, mode), healthy statistics, plots
        "score_blur_stats": 1,
        "score_exp1": n_scores,
        "score_textures": n_scores,
        "score_model_stats": n_models,
        "score_exp3": 2 * n_models,
        **{f"scores_{f}": 1 for f in ("exp1", "blindspot", "textures", "exp3", "summary")},
        "provenance": 1,
        "all": 1,
        # Exp 4: each lesion set once, every model on it, its two figures
        "lesion_set": len(config["lesions"]["sets"]),
        "lesion_scores": len(config["lesions"]["sets"]) * n_models,
        "lesions_metrics": len(config["lesions"]["sets"]),
        "lesions_by_intensity": len(config["lesions"]["sets"]),
    }
    if "embedded" in config["lesions"]["sets"]:
        expected["lesions_embedded"] = 1  # the lesions painted into the test volumes
    if not set(config["models"]) - set(config["evaluation"]["paper_models"]):
        del expected["fig3_modern"]  # no model beyond the paper's to draw beside them
    if preset == "paper_synthetic":
        expected["synthesize_brains"] = 1  # MOOD is the user's data: nothing synthesised
    assert counts == expected


def test_paper_preset_splits_the_800_volumes_as_the_paper(paper_dry_run):
    slices = sorted(job["n_inputs"] for job in paper_dry_run[1] if job["rule"] == "slices")
    assert slices == sorted([N_TRAIN, N_VAL, N_TEST])
    assert sum(slices) == N_VOLUMES


def test_paper_preset_requests_gpus_only_for_the_model_rules(paper_dry_run):
    preset, jobs = paper_dry_run
    for job in jobs:
        gpus = int(job["resources"].get("gpu", 0))
        assert gpus == (1 if job["rule"] in GPU_RULES else 0), job
        if job["rule"] == "all":
            continue
        assert job["threads"] >= 1
        if job["rule"] in GPU_RULES or job["rule"] in ("slices", "intensity_sigma_grid"):
            # the heavy jobs declare their own memory and wall time (SLURM: --mem, -t)
            assert int(job["resources"]["runtime"]) >= 60, job
            if job["rule"] == "intensity_sigma_grid":  # one worker process per thread
                assert int(job["resources"]["mem_mb"]) == 1000 + 100 * job["threads"], job
            else:
                assert int(job["resources"]["mem_mb"]) >= 4000, job
    train = [job for job in jobs if job["rule"] == "train_model"]
    assert len(train) == len(merged_config(preset)["models"])
    assert all(int(job["resources"]["runtime"]) >= 600 for job in train)


def test_paper_synthetic_is_the_paper_protocol_on_the_embedded_brains():
    paper, synthetic = merged_config("paper"), merged_config("paper_synthetic")
    assert synthetic["dataset"] == "synthetic"
    assert synthetic["datasets"]["synthetic"]["subjects"] == N_VOLUMES
    for key in ("image_size", "slices", "split", "anomaly", "grid", "evaluation", "models", "seed"):
        assert synthetic[key] == paper[key], key
    # the same training, bf16 autocast on in both: the GPU presets
    assert synthetic["training"] == paper["training"]
    assert synthetic["training"]["bf16"] is True


@pytest.mark.parametrize("configured", ["eval", "per_image"])
def test_batchnorm_figure_computes_only_the_mode_not_configured(tmp_path, configured):
    """fig3a_per_image_bn reads the configured mode's Exp 3.1 files and runs only the other mode."""
    overlay = tmp_path / "bn.yaml"
    overlay.write_text(f"evaluation: {{batchnorm: {configured}}}\n")
    cmd = snakemake_command(
        tmp_path,
        "-n",
        "results/fig3a_per_image_bn.pdf",
        "--configfile",
        str(TINY),
        str(overlay),
        "--quiet",
        "host",  # replaces profiles/default's quiet: the dry run lists every job's output
    )
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    text = result.stdout + result.stderr
    assert result.returncode == 0, text[-5000:]
    outputs = re.findall(r"^    output: (.*)$", text, flags=re.M)
    other = "per_image" if configured == "eval" else "eval"
    models = merged_config()["evaluation"]["paper_models"]  # the figure draws the paper's models
    # one naming scheme whatever the configured mode: every Exp 3 file names its BatchNorm mode
    comparison = sorted(o for o in outputs if f"_bn-{other}" in o)
    assert comparison == sorted(
        f"results/metrics/exp3_{m}_healthy_bn-{other}.parquet" for m in models
    )
    configured_files = [o for o in outputs if f"_bn-{configured}" in o]
    assert sorted(configured_files) == sorted(
        f"results/metrics/exp3_{m}_healthy_bn-{configured}.parquet, "
        f"results/metrics/exp3_{m}_healthy_bn-{configured}_reconstructions.npy"
        for m in models
    ), configured_files
