"""Training loop: determinism, resume (exception and kill -9), NaN safety, model selection."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from residual_pitfalls.models import load_model, read_checkpoint, reconstruct
from residual_pitfalls.reporting.training_plots import plot_loss_curve
from residual_pitfalls.training.loop import TrainSettings, train_model
from residual_pitfalls.training.resume import TrainingDivergedError
from residual_pitfalls.training.validation import validation_anomalies

SIZE = 32
AE = ("autoencoder", {"inp_size": SIZE, "intermediate_resolution": 4, "latent_dim": 8, "width": 4})
VQ = ("vqvae2", {"channel": 16, "n_res_channel": 8, "embed_dim": 8, "n_embed": 16})


# Not helpers.brain_slices: training needs learnable anatomy (rim, two bright ventricles) for
# its "loss falls" and validation-AP checks, and the bit-identity check of the TrainSettings
# refactor was recorded on this phantom.
def brain_slices(n: int, size: int = SIZE, seed: int = 0) -> np.ndarray:
    """(n, size, size) float32 brain-like slices: an ellipse (~0.45) with a darker rim and two
    bright 'ventricles', mild noise; background exactly 0, foreground in (0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    out = np.zeros((n, size, size), np.float32)
    for i in range(n):
        a, b = rng.uniform(0.32, 0.45, 2)
        dy, dx = rng.uniform(-0.04, 0.04, 2)
        r = ((yy - dy) / a) ** 2 + ((xx - dx) / b) ** 2
        img = np.where(r < 1, 0.45, 0.0) - np.where((r > 0.7) & (r < 1), 0.12, 0.0)
        for side in (-1, 1):
            v = ((yy - dy) / 0.15) ** 2 + ((xx - dx - side * 0.07) / 0.05) ** 2
            img = np.where((v < 1) & (r < 1), 0.85, img)
        img = img + (r < 1) * rng.normal(0, 0.02, img.shape)
        out[i] = np.where(r < 1, np.clip(img, 0.01, 1.0), 0.0)
    return out


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return brain_slices(24, seed=1), brain_slices(6, seed=2)


def run(workdir: Path, data, model=AE, callback=None, **kwargs) -> Path:
    """Train ``model`` on ``data`` with the test defaults below, ``kwargs`` overriding them."""
    arch, hparams = model
    opts = {
        "steps": 20,
        "batch_size": 8,
        "seed": 0,
        "checkpoint_every": 5,
        "val_every": 10,
        "threads": 1,
        "progress": False,
    }
    opts.update(kwargs)
    settings = TrainSettings(**opts)
    return train_model(
        arch, hparams, data[0], data[1], settings, workdir=workdir, callback=callback
    )


def state(path: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(path)["state_dict"]


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def log_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------------------------------
# determinism


def test_same_seed_gives_bit_identical_weights_and_leaves_global_rng_alone(tmp_path, data):
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()  # noqa: NPY002
    a = state(run(tmp_path / "a", data, steps=8))
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(x, y) for x, y in zip(np.random.get_state(), np_state, strict=True))  # noqa: NPY002
    assert_same_state(a, state(run(tmp_path / "b", data, steps=8)))
    c = state(run(tmp_path / "c", data, steps=8, seed=1))
    assert not torch.equal(a["to_latent.weight"], c["to_latent.weight"])


def test_training_lowers_the_loss_and_logs_every_step(tmp_path, data):
    run(tmp_path, data, steps=40, val_every=10)
    rows = log_rows(tmp_path / "loss.csv")
    assert [int(r["step"]) for r in rows] == list(range(1, 41))
    assert [int(r["step"]) for r in rows if r["val_loss"]] == [10, 20, 30, 40]
    # only computed for best_val_ap (or compute_val_ap=True)
    assert not any(r["val_ap"] for r in rows)
    train = np.array([float(r["train_loss"]) for r in rows])
    assert train[-5:].mean() < 0.7 * train[:5].mean()


# ------------------------------------------------------------------------------------------
# resume


class Crash(Exception):
    pass


def crash_at(step_to_crash: int):
    def callback(step: int, loss: float) -> None:
        if step == step_to_crash:
            raise Crash(step)

    return callback


@pytest.mark.parametrize("model", [AE, VQ], ids=["ae", "vqvae2"])
def test_resume_after_crash_matches_uninterrupted_run(tmp_path, data, model):
    kwargs = {"steps": 20, "selection": "best_val_loss", "model": model}
    ref = run(tmp_path / "ref", data, **kwargs)
    work = tmp_path / "crash"
    with pytest.raises(Crash):
        run(work, data, callback=crash_at(13), **kwargs)
    assert read_checkpoint(work / "last.pt")["step"] == 10
    assert not (work / "model.pt").exists()
    (work / "loss.csv").unlink()  # as a workflow manager cleaning a failed job's outputs
    out = run(work, data, **kwargs)
    assert_same_state(state(out), state(ref))
    assert_same_state(state(work / "last.pt"), state(ref.parent / "last.pt"))
    assert (work / "loss.csv").read_text() == (ref.parent / "loss.csv").read_text()
    assert read_checkpoint(out)["step"] == read_checkpoint(ref)["step"]


def test_extending_a_finished_run_equals_a_longer_run(tmp_path, data):
    run(tmp_path / "ext", data, steps=10)
    done = run(tmp_path / "ext", data, steps=10)  # nothing left to do: same result
    assert read_checkpoint(done)["step"] == 10
    extended = run(tmp_path / "ext", data, steps=25)
    assert_same_state(state(extended), state(run(tmp_path / "direct", data, steps=25)))


def test_extending_keeps_the_run_and_sets_nothing_aside(tmp_path, data, capsys):
    run(tmp_path, data, steps=5)
    run(tmp_path, data, steps=10)
    assert "resuming from" in capsys.readouterr().err
    assert not (tmp_path / "stale").exists()


def test_changed_data_trains_afresh_and_sets_the_old_run_aside(tmp_path, data, capsys):
    old = state(run(tmp_path / "w", data, steps=10))
    old_last = (tmp_path / "w" / "last.pt").read_bytes()
    other = (np.clip(data[0] * 0.8, 0, 1), data[1])  # as a changed synthetic target_mean
    capsys.readouterr()
    new = state(run(tmp_path / "w", other, steps=10))
    err = capsys.readouterr().err
    assert "resuming" not in err
    [line] = [x for x in err.splitlines() if "another run" in x]
    assert "train_images: other content" in line and "val_images" not in line
    assert (tmp_path / "w" / "stale" / "last.pt").read_bytes() == old_last
    assert not torch.equal(old["to_latent.weight"], new["to_latent.weight"])
    assert_same_state(new, state(run(tmp_path / "fresh", other, steps=10)))
    rows = log_rows(tmp_path / "w" / "loss.csv")
    assert rows == log_rows(tmp_path / "fresh" / "loss.csv")


@pytest.mark.parametrize(
    ("kwargs", "said"),
    [
        ({"lr": 3e-3}, "lr: 0.001 -> 0.003"),
        ({"batch_size": 4}, "batch_size: 8 -> 4"),
        ({"weight_decay": 0.0}, "weight_decay: 0.02 -> 0.0"),
        ({"selection": "best_val_loss"}, "selection: 'last' -> 'best_val_loss'"),
        ({"model": ("autoencoder", {**AE[1], "latent_dim": 4})}, "hparams:"),
        ({"steps": 3}, "beyond steps=3"),
    ],
    ids=["lr", "batch_size", "weight_decay", "selection", "hparams", "fewer_steps"],
)
def test_changed_settings_train_afresh(tmp_path, data, capsys, kwargs, said):
    run(tmp_path / "w", data, steps=5)
    capsys.readouterr()
    opts = {"steps": 5, **kwargs}
    out = run(tmp_path / "w", data, **opts)
    err = capsys.readouterr().err
    assert said in err and "training from step 0" in err and "resuming" not in err
    assert_same_state(state(out), state(run(tmp_path / "fresh", data, **opts)))
    assert (tmp_path / "w" / "stale" / "last.pt").exists()


def test_a_checkpoint_without_fingerprint_is_set_aside(tmp_path, data, capsys):
    run(tmp_path, data, steps=5)
    ckpt = read_checkpoint(tmp_path / "last.pt")
    del ckpt["fingerprint"]
    torch.save(ckpt, tmp_path / "last.pt")
    run(tmp_path, data, steps=5)
    assert "no fingerprint" in capsys.readouterr().err


KILL_SCRIPT = """
import sys, time
from pathlib import Path
import numpy as np
from residual_pitfalls.training.loop import TrainSettings, train_model

work = Path(sys.argv[1])
train, val = np.load(work.parent / "train.npy"), np.load(work.parent / "val.npy")
settings = TrainSettings(steps=40, batch_size=8, seed=0, checkpoint_every=5, val_every=10,
                         threads=1, progress=False)
train_model("autoencoder", {hparams!r}, train, val, settings, workdir=work,
            callback=lambda step, loss: time.sleep(0.05))
"""


def test_resume_after_kill_9_matches_uninterrupted_run(tmp_path, data):
    np.save(tmp_path / "train.npy", data[0])
    np.save(tmp_path / "val.npy", data[1])
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(KILL_SCRIPT.format(hparams=AE[1])))
    work = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(work)])
    try:
        deadline = time.monotonic() + 60
        while not (work / "last.pt").exists():
            assert proc.poll() is None, "training subprocess ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.02)
        time.sleep(0.4)  # mid-way between later checkpoints, or in the middle of writing one
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = read_checkpoint(work / "last.pt")["step"]  # loads: never half-written
    assert 5 <= killed_at < 40
    out = run(work, data, steps=40)
    assert not list(work.glob(".*.tmp"))
    assert_same_state(state(out), state(run(tmp_path / "ref", data, steps=40)))
    assert [int(r["step"]) for r in log_rows(work / "loss.csv")] == list(range(1, 41))


def test_batches_are_the_epoch_permutations_of_the_images():
    from residual_pitfalls.training.loop import _Batches

    images = brain_slices(10, size=16, seed=5)
    batches = _Batches(images, 4, 7, torch.device("cpu"))
    expected = []
    for epoch in range(3):  # batches of 4, 4 and the partial 2 per epoch
        perm = np.random.default_rng([7, epoch]).permutation(10)
        expected += [perm[0:4], perm[4:8], perm[8:10]]
    for step, idx in enumerate(expected, start=1):
        x = batches(step)
        assert x.shape == (len(idx), 1, 16, 16)
        np.testing.assert_array_equal(x[:, 0].numpy(), images[idx])
    np.testing.assert_array_equal(batches(2)[:, 0].numpy(), images[expected[1]])  # back again


def test_losses_read_every_log_every_steps_give_the_same_log(tmp_path, data):
    run(tmp_path / "a", data, steps=23, log_every=1)
    run(tmp_path / "b", data, steps=23, log_every=7)
    text = (tmp_path / "a" / "loss.csv").read_text()
    assert text == (tmp_path / "b" / "loss.csv").read_text()
    assert len(text.splitlines()) == 24
    assert_same_state(state(tmp_path / "a" / "model.pt"), state(tmp_path / "b" / "model.pt"))


def test_fused_adamw_is_used_and_matches_foreach_within_rounding(tmp_path, data):
    out = state(run(tmp_path, data, steps=1, val_every=0))
    torch.manual_seed(0)  # the reference: one foreach AdamW step from the same weights and batch
    from residual_pitfalls.training.loop import _Batches, _seeded_model

    model = _seeded_model(*AE, 0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.02, foreach=True)
    loss, _ = model.loss(_Batches(data[0], 8, 0, torch.device("cpu"))(1))
    loss.backward()
    optimizer.step()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(out[key], value, rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(out[k], v) for k, v in model.state_dict().items())  # fused ran


# ------------------------------------------------------------------------------------------
# divergence


@pytest.fixture()
def live_model(monkeypatch) -> dict:
    """Exposes the model being trained as ``holder["model"]`` so a callback can corrupt it."""
    import residual_pitfalls.training.loop as train_mod

    holder: dict = {}
    real = train_mod._seeded_model

    def spy(*args, **kwargs):
        holder["model"] = real(*args, **kwargs)
        return holder["model"]

    monkeypatch.setattr(train_mod, "_seeded_model", spy)
    return holder


def test_nan_loss_stops_with_the_step_and_keeps_last_good_checkpoint(tmp_path, data, live_model):
    def poison(step: int, loss: float) -> None:
        if step == 7:
            with torch.no_grad():
                next(live_model["model"].parameters()).fill_(float("nan"))

    with pytest.raises(TrainingDivergedError, match="at step 8"):
        run(tmp_path, data, steps=20, callback=poison)
    last = read_checkpoint(tmp_path / "last.pt")
    assert last["step"] == 5
    assert all(torch.isfinite(t).all() for t in last["state_dict"].values())
    assert not (tmp_path / "model.pt").exists()


def test_non_finite_weights_are_never_checkpointed(tmp_path, data, live_model):
    def poison(step: int, loss: float) -> None:
        if step == 8:  # BN running stats: the training loss stays finite, the weights do not
            live_model["model"].encoder[1].running_mean.fill_(float("nan"))

    with pytest.raises(TrainingDivergedError, match="non-finite weights after step 10"):
        run(tmp_path, data, steps=20, val_every=0, callback=poison)
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 5


# ------------------------------------------------------------------------------------------
# selection and validation


def test_validation_anomalies_are_seeded_disks_inside_the_brain():
    val = brain_slices(5, size=64, seed=3)
    kept, anomalous, labels = validation_anomalies(val, seed=4)
    assert kept.tolist() == [0, 1, 2, 3, 4]
    assert anomalous.dtype == np.float32 and labels.dtype == bool
    assert not (labels & (val == 0)).any()
    assert (anomalous[~labels] == val[~labels]).all()
    intensities = [np.unique(a[m]) for a, m in zip(anomalous, labels, strict=True)]
    assert all(len(v) == 1 and 0 <= v[0] <= 1 for v in intensities)
    assert len({float(v[0]) for v in intensities}) == 5  # random intensity per image
    # radius 20 px at 256 -> 5 px at 64: a disk of at most ~78 px
    assert 0 < labels.sum(axis=(1, 2)).max() <= np.pi * 5**2
    again = validation_anomalies(val, seed=4)
    np.testing.assert_array_equal(again[1], anomalous)
    assert not np.array_equal(validation_anomalies(val, seed=5)[2], labels)


def test_validation_radius_is_a_setting():
    val = brain_slices(4, size=64, seed=3)
    default = validation_anomalies(val, seed=4)[2].sum(axis=(1, 2))
    small = validation_anomalies(val, seed=4, radius=2.5)[2].sum(axis=(1, 2))
    explicit = validation_anomalies(val, seed=4, radius=5.0)[2].sum(axis=(1, 2))
    np.testing.assert_array_equal(default, explicit)  # None = 20 * 64 / 256 = 5 px
    assert 0 < small.max() <= np.pi * (2.5 + 0.5) ** 2 < default.min()  # pixel-grid disks
    with pytest.raises(ValueError, match=r"val_radius must be in \(0, 32.0\) px"):
        validation_anomalies(val, seed=4, radius=32)


def test_val_radius_reaches_the_validation_ap(tmp_path, data, capsys):
    def aps(path: Path) -> list[str]:
        return [r["val_ap"] for r in log_rows(path / "loss.csv") if r["val_ap"]]

    run(tmp_path / "a", data, steps=10, compute_val_ap=True)
    run(tmp_path / "b", data, steps=10, compute_val_ap=True, val_radius=2.0)
    assert aps(tmp_path / "a") != aps(tmp_path / "b")
    # another run: retrains
    run(tmp_path / "a", data, steps=10, compute_val_ap=True, val_radius=2.0)
    assert "val_radius: 2.0 -> 2.0" not in capsys.readouterr().err
    assert aps(tmp_path / "a") == aps(tmp_path / "b")


def test_selection_picks_the_best_validation_checkpoint(tmp_path, data):
    out = run(tmp_path, data, steps=30, val_every=5, selection="best_val_ap")
    final = torch.load(out, weights_only=True)
    assert set(final) == {"arch", "hparams", "state_dict", "step", "selection"}
    assert final["selection"] == "best_val_ap"
    rows = [r for r in log_rows(tmp_path / "loss.csv") if r["val_loss"]]
    steps = [int(r["step"]) for r in rows]
    aps = [float(r["val_ap"]) for r in rows]
    losses = [float(r["val_loss"]) for r in rows]
    assert final["step"] == steps[int(np.argmax(aps))]
    assert read_checkpoint(tmp_path / "best_val_loss.pt")["step"] == steps[int(np.argmin(losses))]
    assert_same_state(final["state_dict"], state(tmp_path / "best_val_ap.pt"))

    # The logged metrics, recomputed independently from the selected weights (sklearn oracle).
    model = load_model(out)
    _, anomalous, labels = validation_anomalies(data[1], seed=0)
    residual = np.abs(reconstruct(model, anomalous, device="cpu") - anomalous)
    oracle = np.mean(
        [
            average_precision_score(lab.ravel(), res.ravel())
            for lab, res in zip(labels, residual, strict=True)
        ]
    )
    assert max(aps) == pytest.approx(oracle, abs=1e-6)
    best_loss = float(rows[steps.index(final["step"])]["val_loss"])
    rec = reconstruct(model, data[1], device="cpu")
    assert best_loss == pytest.approx(float(np.abs(rec - data[1]).mean()), rel=1e-5)


def test_selection_last_is_the_final_step(tmp_path, data):
    out = run(tmp_path, data, steps=12)
    final = torch.load(out, weights_only=True)
    assert final["step"] == 12 and final["selection"] == "last"
    assert_same_state(final["state_dict"], state(tmp_path / "last.pt"))


def test_vqvae_commitment_weight_enters_the_training_loss(tmp_path, data):
    run(tmp_path / "a", data, model=VQ, steps=2, val_every=0, commitment_weight=0.0)
    run(tmp_path / "b", data, model=VQ, steps=2, val_every=0, commitment_weight=5.0)
    a = float(log_rows(tmp_path / "a" / "loss.csv")[0]["train_loss"])
    b = float(log_rows(tmp_path / "b" / "loss.csv")[0]["train_loss"])
    assert b > a


# ------------------------------------------------------------------------------------------
# inputs and outputs


def test_plot_loss_curve_writes_a_png(tmp_path, data):
    run(tmp_path, data, steps=20, val_every=5, compute_val_ap=True)
    png = tmp_path / "plots" / "loss.png"
    plot_loss_curve(tmp_path / "loss.csv", png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    with pytest.raises(FileNotFoundError, match="absent.csv"):
        plot_loss_curve(tmp_path / "absent.csv", png)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"selection": "best"}, "unknown selection 'best'"),
        ({"selection": "best_val_loss", "val_every": 0}, "needs validation"),
        ({"steps": 0}, "steps must be an int >= 1"),
        ({"selection": "best_val_ap", "compute_val_ap": False}, "needs compute_val_ap"),
    ],
)
def test_bad_arguments_are_named(tmp_path, data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        run(tmp_path, data, **kwargs)


def test_settings_must_be_a_train_settings(tmp_path, data):
    with pytest.raises(TypeError, match="settings must be a TrainSettings, got dict"):
        train_model(*AE, *data, {"steps": 2, "batch_size": 4}, workdir=tmp_path)


def test_bad_images_are_named(tmp_path, data):
    with pytest.raises(ValueError, match=r"train_images must be finite and in \[0, 1\]"):
        run(tmp_path, (data[0] * 2, data[1]))
    with pytest.raises(ValueError, match=r"val_images must be a \(N, H, W\)"):
        run(tmp_path, (data[0], data[1][0]))


def test_bf16_on_cpu_warns_and_trains_in_float32(tmp_path, data):
    with pytest.warns(UserWarning, match="CUDA-only"):
        out = run(tmp_path / "bf", data, steps=3, bf16=True, device="cpu")
    assert_same_state(state(out), state(run(tmp_path / "fp", data, steps=3, device="cpu")))


def test_vq_ema_update_equals_the_dense_one_hot_formulation():
    """The quantiser's EMA counts and sums without a dense one-hot equal the textbook products."""
    import torch.nn.functional as F

    from residual_pitfalls.models.vqvae import VectorQuantizerEMA

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        new = VectorQuantizerEMA(dim=8, n_embed=32)
        z = torch.randn(6, 4, 4, 8, generator=torch.Generator().manual_seed(1))
    old = VectorQuantizerEMA(dim=8, n_embed=32)
    old.load_state_dict(new.state_dict())
    used = []
    for _ in range(5):  # a few EMA updates; codes follow the codebook as it moves
        q, commitment, codes = new(z)
        used.append(len(torch.unique(codes)))
        flat = z.reshape(-1, 8)
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ old.embed + old.embed.pow(2).sum(0)
        ref_codes = dist.argmin(1)
        assert torch.equal(codes.reshape(-1), ref_codes)
        onehot = F.one_hot(ref_codes, 32).float()
        with torch.no_grad():
            old.cluster_size.mul_(old.decay).add_(onehot.sum(0), alpha=1 - old.decay)
            old.embed_avg.mul_(old.decay).add_(flat.t() @ onehot, alpha=1 - old.decay)
            n = old.cluster_size.sum()
            size = (old.cluster_size + old.eps) / (n + 32 * old.eps) * n
            old.embed.copy_(old.embed_avg / size.unsqueeze(0))
        assert torch.equal(new.cluster_size, old.cluster_size)
        torch.testing.assert_close(new.embed_avg, old.embed_avg, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(new.embed, old.embed, rtol=1e-5, atol=1e-6)
    assert used[0] > 10  # many codes in use: the sums are not trivial


class _InPlaceHalf(torch.nn.Module):
    """A model that writes into its input (a user architecture may): x.mul_(0.5)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul_(0.5) * self.scale

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        target = x.clone()
        rec = self(x)
        return (rec - target).abs().mean(), rec


def test_validation_hands_the_model_copies_so_an_in_place_model_changes_nothing():
    from residual_pitfalls.training.validation import run_validation

    rng = np.random.default_rng(0)
    images = rng.uniform(0.1, 0.9, (3, 16, 16)).astype(np.float32)
    anomalous, labels = images.copy(), np.zeros(images.shape, bool)
    labels[:, 4:8, 4:8] = True
    anomalous[labels] = 1.0
    kept = images.copy(), anomalous.copy()
    model = _InPlaceHalf()
    first, second = (
        run_validation(
            model,
            images,
            (anomalous, labels),
            batch_size=2,
            device=torch.device("cpu"),
            loss_options={},
        )
        for _ in range(2)
    )
    np.testing.assert_array_equal(images, kept[0])
    np.testing.assert_array_equal(anomalous, kept[1])
    assert first == second
    # the residual is |0.5 x - x| against the untouched input: not 0 (it was, with a view)
    assert first[0] > 0.1
    expected = np.mean(
        [
            average_precision_score(lab.ravel(), (0.5 * a).ravel())
            for lab, a in zip(labels, anomalous, strict=True)
        ]
    )
    assert first[1] == pytest.approx(expected)


def test_every_config_training_key_is_a_train_settings_field_with_the_schema_default():
    """The workflow passes the config's ``training`` mapping as ``TrainSettings(**training)``."""
    import dataclasses

    import yaml

    from residual_pitfalls.training import TrainSettings

    schema_path = Path(__file__).parents[1] / "workflow" / "schemas" / "config.schema.yaml"
    keys = yaml.safe_load(schema_path.read_text())["properties"]["training"]["properties"]
    fields = {f.name: f.default for f in dataclasses.fields(TrainSettings)}
    assert set(keys) <= set(fields), set(keys) - set(fields)
    for key, spec in keys.items():
        if "default" in spec:
            assert fields[key] == spec["default"], key
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainSettings(steps=1, batch_size=1).steps = 2  # type: ignore[misc]
