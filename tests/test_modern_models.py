"""The denoising autoencoder (coarse noise) and the diffusion model used for reconstruction:
determinism, batch independence, the coarseness of the corruption, training and resuming."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from residual_pitfalls.models import build_model, load_model, reconstruct
from residual_pitfalls.models.dae import coarse_noise
from residual_pitfalls.models.ddpm import alpha_bars, ddim_timesteps
from residual_pitfalls.training import TrainSettings, read_loss_log, train_model

DAE = {"channels": [4, 8, 8], "noise_res": 4}
DDPM = {"channels": [4, 8, 8], "timesteps": 50, "t0": 10, "sample_steps": 3}


def seeded(arch: str, seed: int = 0, **hparams) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(arch, **hparams)


def brains(n: int, size: int, seed: int = 0) -> np.ndarray:
    """(n, size, size) float32: smooth blobs in [0, 1] inside a disk, 0 outside."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    inside = (yy - 0.5) ** 2 + (xx - 0.5) ** 2 < 0.16
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    out = 0.5 + 0.3 * np.sin(6 * xx[None] + phase) * np.cos(5 * yy[None])
    return (out * inside).astype(np.float32)


# ------------------------------------------------------------------------------------------
# DDPM reconstruction


def test_ddpm_reconstruction_is_deterministic_for_a_fixed_seed():
    model = seeded("ddpm", **DDPM).eval()
    x = brains(3, 32)
    first = reconstruct(model, x, batch_size=3)
    np.testing.assert_array_equal(reconstruct(model, x, batch_size=3), first)
    # a second instance with the same weights and seed reconstructs the same (no hidden state)
    twin = build_model("ddpm", **DDPM)
    twin.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(reconstruct(twin, x, batch_size=3), first)
    # another recon_seed draws another noise field: another reconstruction
    other = build_model("ddpm", **{**DDPM, "recon_seed": 1})
    other.load_state_dict(model.state_dict())
    assert np.abs(reconstruct(other, x, batch_size=3) - first).max() > 1e-3


@pytest.mark.parametrize("arch", ["ddpm", "dae"])
def test_batched_reconstruction_equals_one_by_one(arch):
    model = seeded(arch, **{"ddpm": DDPM, "dae": DAE}[arch]).eval()
    x = brains(5, 32, seed=1)
    batched = reconstruct(model, x, batch_size=5)
    single = reconstruct(model, x, batch_size=1)
    assert np.abs(batched - single).max() <= 1e-5
    # and the order of the images does not matter
    np.testing.assert_allclose(reconstruct(model, x[::-1].copy(), batch_size=5)[::-1], batched,
                               atol=1e-5, rtol=0)  # fmt: skip


def test_ddpm_reconstruction_range_and_timesteps():
    model = seeded("ddpm", **DDPM).eval()
    x = brains(2, 32)
    rec = reconstruct(model, x)
    assert rec.shape == x.shape and rec.dtype == np.float32
    assert rec.min() >= 0 and rec.max() <= 1
    assert ddim_timesteps(250, 10) == [250, 225, 200, 175, 150, 125, 100, 75, 50, 25, 0]
    assert ddim_timesteps(3, 10) == [3, 2, 1, 0]
    for schedule in ("linear", "cosine"):
        abar = alpha_bars(schedule, 1000)
        assert abar[0] == 1 and bool((abar[1:] < abar[:-1]).all()) and abar[-1] < 1e-2


def test_ddpm_with_t0_of_one_step_is_close_to_the_input():
    """Noised to t0 = 1 (abar ~ 1 - 1e-4) and denoised in one step: whatever the (untrained)
    predictor says, the reconstruction stays within sqrt(1 - abar) * |eps| of the input."""
    model = seeded("ddpm", **{**DDPM, "timesteps": 1000, "t0": 1, "sample_steps": 1}).eval()
    x = brains(2, 32)
    assert np.abs(reconstruct(model, x) - x).max() < 0.05


def test_ddpm_bad_hparams_are_named():
    with pytest.raises(ValueError, match="t0 must be an int in 1..timesteps"):
        build_model("ddpm", timesteps=10, t0=20)
    with pytest.raises(ValueError, match="schedule must be one of"):
        build_model("ddpm", schedule="quadratic")
    with pytest.raises(ValueError, match="divisible by 4"):
        build_model("ddpm", **DDPM)(torch.rand(1, 1, 30, 30))


# ------------------------------------------------------------------------------------------
# DAE corruption


def test_coarse_noise_is_low_frequency_with_the_configured_std():
    gen = torch.Generator().manual_seed(0)
    noise = coarse_noise((64, 1, 128, 128), 16, 0.2, gen)[:, 0].numpy()
    power = np.abs(np.fft.fft2(noise)) ** 2
    f = np.abs(np.fft.fftfreq(128) * 128)  # cycles per image
    low = (f[:, None] <= 8) & (f[None, :] <= 8)  # the Nyquist band of a 16 x 16 grid
    assert power[:, low].sum() / power.sum() > 0.9
    # pixel noise of the same std puts ~1 % of its energy there (17^2 of 128^2 frequencies)
    white = np.abs(np.fft.fft2(np.random.default_rng(0).normal(size=(8, 128, 128)))) ** 2
    assert white[:, low].sum() / white.sum() < 0.05
    # bilinear interpolation between grid values of std 0.2 keeps ~(2/3)^2 of their variance
    # per axis pair: std ~ 0.2 * 2/3 = 0.133
    assert 0.12 < noise.std() < 0.16
    neighbours = np.corrcoef(noise[:, :, :-1].ravel(), noise[:, :, 1:].ravel())[0, 1]
    assert neighbours > 0.95


def test_dae_corruption_draws_new_noise_per_training_step_and_fixed_noise_in_eval():
    model = seeded("dae", **DAE)
    x = torch.zeros(2, 1, 32, 32)
    model.train()
    a, b = model.corrupt(x), model.corrupt(x)
    assert not torch.equal(a, b) and model.noise.draws == 2
    model.eval()
    np.testing.assert_array_equal(model.corrupt(x), model.corrupt(x))
    assert model.noise.draws == 2
    # the draws are a function of the training seed: a model built under another seed differs
    again = seeded("dae", **DAE).train()
    assert torch.equal(again.corrupt(x), a)
    assert not torch.equal(seeded("dae", seed=1, **DAE).train().corrupt(x), a)


def test_dae_loss_is_the_residual_of_the_denoised_corrupted_image():
    model = seeded("dae", **DAE).eval()
    x = torch.tensor(brains(2, 32))[:, None]
    loss, rec = model.loss(x)
    expected = model(model.corrupt(x))  # eval: the same fixed draw
    torch.testing.assert_close(rec, expected)
    torch.testing.assert_close(loss, (expected - x).abs().mean())


# ------------------------------------------------------------------------------------------
# training, checkpoints, resume


@pytest.mark.parametrize(("arch", "hparams"), [("dae", DAE), ("ddpm", DDPM)])
def test_trains_and_resumes_bit_identically(tmp_path, arch, hparams):
    train, val = brains(12, 32), brains(3, 32, seed=5)
    kwargs = dict(batch_size=4, seed=3, checkpoint_every=2, val_every=2, progress=False, threads=1)
    six, three = TrainSettings(steps=6, **kwargs), TrainSettings(steps=3, **kwargs)
    straight = train_model(arch, hparams, train, val, six, workdir=tmp_path / "a")
    train_model(arch, hparams, train, val, three, workdir=tmp_path / "b")
    resumed = train_model(arch, hparams, train, val, six, workdir=tmp_path / "b")
    a = torch.load(straight, weights_only=True)
    b = torch.load(resumed, weights_only=True)
    assert a["arch"] == arch and a["step"] == 6
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    assert a["state_dict"]["noise._extra_state"].tolist() == [3, 6]  # seed 3, six draws
    rows = read_loss_log(tmp_path / "a" / "loss.csv")
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(np.isfinite(r[1]) for r in rows) and rows[-1][2] is not None
    model = load_model(straight)
    rec = reconstruct(model, brains(2, 32))
    assert rec.shape == (2, 32, 32) and np.isfinite(rec).all()
