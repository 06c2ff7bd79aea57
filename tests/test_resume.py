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
