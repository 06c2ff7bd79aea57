"""job_log: messages reach the terminal and the log; progress bars only the log, as a few lines."""

from __future__ import annotations

import sys

import numpy as np
from tqdm import tqdm
from tqdm.auto import tqdm as auto_tqdm

from residual_pitfalls import runlog
from residual_pitfalls.experiments.parallel import parallel_map
from residual_pitfalls.runlog import job_log
from residual_pitfalls.training.loop import TrainSettings, train_model


def test_a_training_job_writes_its_progress_into_its_log_and_not_to_the_terminal(tmp_path, capsys):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (8, 32, 32)).astype(np.float32)
    log = tmp_path / "logs" / "train_model" / "ae.log"
    with job_log(log):
        print("a message")
        train_model(
            "autoencoder",
            {"inp_size": 32, "intermediate_resolution": 4, "latent_dim": 4, "width": 4},
            images, images[:2],
            TrainSettings(steps=30, batch_size=4, val_every=0, threads=1, progress=True),
            workdir=tmp_path / "w",
        )  # fmt: skip
        for _ in auto_tqdm(range(500), desc="second bar"):  # as data.py / experiments.py use it
            pass
        print("done", file=sys.stderr)
    out, err = capsys.readouterr()
    assert out == "a message\n"
    assert err == "done\n"  # no bar, no bar's newline on the terminal
    lines = log.read_text().splitlines()
    assert lines[0] == "a message" and lines[-1] == "done"
    train = [x for x in lines if x.startswith("train autoencoder")]
    # the first state at once, then at most one per PROGRESS_INTERVAL_S, and the final state
    assert 2 <= len(train) <= 3, lines
    assert "0/30" in train[0] and "30/30" in train[-1] and "30/30" not in train[-2]
    second = [x for x in lines if x.startswith("second bar")]
    assert 2 <= len(second) <= 3 and "500/500" in second[-1]
    assert not any("\r" in x for x in lines)


def test_every_redraw_is_logged_when_the_interval_is_zero(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runlog, "PROGRESS_INTERVAL_S", 0.0)
    log = tmp_path / "job.log"
    with job_log(log):
        bar = tqdm(total=3, desc="steps", file=sys.stderr, mininterval=0, leave=False)
        for _ in range(3):
            bar.update(1)
        bar.close()
    assert capsys.readouterr().err == ""
    states = log.read_text().splitlines()
    assert [s.split("|")[0].split()[-1] for s in states] == ["0%", "33%", "67%", "100%"]


def test_without_job_log_the_bar_stays_on_stderr(capsys):
    """A library progress bar (the experiments' parallel map) outside job_log: on the terminal."""
    assert parallel_map(abs, [(-1,), (-2,), (3,)], 1, True, "interactive") == [1, 2, 3]
    err = capsys.readouterr().err
    assert "interactive" in err and "3/3" in err
