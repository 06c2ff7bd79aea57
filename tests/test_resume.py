"""kill -9 of a training job in the middle: the next `snakemake` call resumes from the checkpoint."""

import os
import signal
import subprocess
import time

import psutil
import pytest
import torch
from helpers import TINY, run_snakemake, snakemake_command

pytestmark = pytest.mark.workflow

TARGET = "results/models/ae32/model.pt"


def test_killed_training_resumes_on_the_next_call(tmp_path):
    overlay = tmp_path / "long.yaml"
    overlay.write_text("training: {steps: 400, checkpoint_every: 5, val_every: 5}\n")
    args = (TARGET, "--configfile", str(TINY), str(overlay), "--cores", "1")
    first = subprocess.Popen(
        snakemake_command(tmp_path, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    last = tmp_path / "results" / "models" / "ae32" / "last.pt"
    deadline = time.monotonic() + 300
    while not last.exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.2)
    assert last.exists(), "no checkpoint appeared"
    time.sleep(1)
    # kill -9 the training job itself, in the middle of its run
    jobs = [
        p
        for p in psutil.Process(first.pid).children(recursive=True)
        if any("train_model" in part for part in p.cmdline())
    ]
    assert jobs, "the training job was not found"
    for job in jobs:
        os.kill(job.pid, signal.SIGKILL)
    assert first.wait(timeout=120) != 0
    assert not (tmp_path / TARGET).exists()
    killed_at = torch.load(last, weights_only=True)["step"]
    assert 0 < killed_at < 400

    second = run_snakemake(tmp_path, *args)
    assert second.returncode == 0, second.stderr[-3000:]
    log = (tmp_path / "logs" / "train_model" / "ae32.log").read_text()
    resumed_at = int(log.split("resuming from ")[1].split(" at step ")[1].split()[0])
    assert resumed_at >= killed_at
    assert torch.load(tmp_path / TARGET, weights_only=True)["step"] == 400


def test_changed_data_retrains_instead_of_resuming(tmp_path):
    """A model built on other data is never shipped again: the overlay changes the slices, the
    training job sees a last.pt of another run, sets it aside and trains from step 0."""
    args = (TARGET, "--cores", "1", "--configfile", str(TINY))
    first = run_snakemake(tmp_path, *args)
    assert first.returncode == 0, first.stderr[-3000:]
    model = tmp_path / TARGET
    old = torch.load(model, weights_only=True)["state_dict"]

    overlay = tmp_path / "darker.yaml"
    overlay.write_text("datasets: {synthetic: {target_mean: 0.36}}\n")
    second = run_snakemake(tmp_path, *args, str(overlay))
    assert second.returncode == 0, second.stderr[-3000:]
    log = (tmp_path / "logs" / "train_model" / "ae32.log").read_text()
    assert "train_images: other content" in log and "training from step 0" in log, log
    assert "resuming" not in log
    # issue 8.7: the bar is in the job's log, not on the terminal (Snakemake's stderr)
    assert "train autoencoder: 100%" in log and "4/4" in log
    assert "train autoencoder" not in first.stderr + second.stderr
    assert "training from step 0" in second.stderr  # the job's messages still reach it
    new = torch.load(model, weights_only=True)
    assert new["step"] == 4  # tiny.yaml's steps, trained again
    assert not torch.equal(new["state_dict"]["to_latent.weight"], old["to_latent.weight"])
    assert (tmp_path / "results" / "models" / "ae32" / "stale" / "last.pt").exists()
